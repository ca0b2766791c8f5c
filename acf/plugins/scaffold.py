"""`acf plugins new NAME`: render `templates/acf-plugin` into a new plugin project."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from acf.errors import AcfError

NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
PLACEHOLDER = "{{name}}"


def template_dir() -> Path:
    """The template: inside the installed package (wheel), or at the top of a source checkout."""
    package = Path(__file__).resolve().parents[1]  # acf/
    for candidate in (package / "_templates" / "acf-plugin", package.parent / "templates" / "acf-plugin"):
        if candidate.is_dir():
            return candidate
    raise AcfError("acf's plugin template is missing from this installation (reinstall acf)")


def new_plugin(name: str, folder: str | Path = ".") -> Path:
    """Write `acf-plugin-NAME/` under `folder`: package `acf_plugin_NAME`, an example method and evaluator,
    tests, and the `acf` entry point. Refuses to overwrite anything."""
    if not NAME.match(name):
        raise AcfError(
            f"plugin name {name!r} must be lowercase letters, digits and _ (a Python identifier), "
            "starting with a letter",
            hint="e.g. acf plugins new mymethod",
        )
    target = Path(folder) / f"acf-plugin-{name}"
    if target.exists():
        raise AcfError(f"{target} already exists", hint="choose another name or --dir")
    source = template_dir()
    staging = target.with_name(f".{target.name}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        for path in sorted(source.rglob("*")):
            if "__pycache__" in path.parts or path.suffix == ".pyc":
                continue
            out = staging / str(path.relative_to(source)).replace(PLACEHOLDER, name)
            if path.is_dir():
                out.mkdir(parents=True, exist_ok=True)
            else:
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text(path.read_text().replace(PLACEHOLDER, name))
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
