"""docs/hooks.md documents every hook with its exact arguments; hookspecs document their parameters."""

import inspect
import re
from pathlib import Path

import pluggy

from acf.plugins import hookspecs

DOCS = Path(__file__).parent.parent / "docs"


def hooks():
    return {
        name: fn
        for name, fn in vars(hookspecs).items()
        if inspect.isfunction(fn) and hasattr(fn, pluggy.HookspecMarker("acf").project_name + "_spec")
    }


def test_every_hook_is_in_the_reference_with_its_arguments():
    text = (DOCS / "hooks.md").read_text()
    documented = dict(re.findall(r"^### (\w+)\(([^)]*)\)\s*$", text, re.M))
    specs = hooks()
    assert specs, "no hookspecs found"
    assert set(documented) == set(specs), f"documented {sorted(documented)}, hooks {sorted(specs)}"
    for name, fn in specs.items():
        args = [a.strip() for a in documented[name].split(",") if a.strip()]
        assert args == list(inspect.signature(fn).parameters), f"{name}: docs say ({documented[name]})"


def test_every_hookspec_documents_each_parameter():
    for name, fn in hooks().items():
        doc = inspect.getdoc(fn) or ""
        for param in inspect.signature(fn).parameters:
            assert f":param {param}:" in doc, f"{name} does not document {param}"


def test_the_guide_covers_recovery_from_a_broken_plugin():
    guide = (DOCS / "plugin-guide.md").read_text()
    assert "ACF_DISABLED_PLUGINS" in guide and "hooks.md" in guide
