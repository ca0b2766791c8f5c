"""The shape of the code: layers, the declared plugin surface, one source of truth for run options."""

import ast
import inspect
import re
from pathlib import Path

import acf
import acf.toolkit
from acf.cli import compress as compress_cli
from acf.rundir.config import RunConfig
from acf.rundir.options import OPTIONS

ROOT = Path(__file__).parent.parent
CORE = ROOT / "acf"
BUILTIN = ROOT / "acf_plugins_builtin"
TEMPLATE = ROOT / "templates" / "acf-plugin"


def python_files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.py"))


# acf's layers, lowest first (docs/architecture.md): a module imports only from its own layer or lower ones.
LAYERS = [
    ("basics", ["errors", "lazy", "measurement", "progress", "tensor_format", "machine", "gpu_monitor", "rundir.files",
                "rundir.options",
                "rundir.lock"]),
    ("types", ["search.space", "search.strategy", "search.objectives", "models.spec", "models.families", "models.formats",
               "models.loading", "models.artifact"]),
    ("records", ["context", "rundir.results", "search.frontier", "rundir.config", "rundir.cache", "costs",
                 "preflight", "search.view"]),
    ("plugins", ["plugins.hookspecs", "plugins.registry", "plugins.manager", "plugins.backends", "plugins.method",
                 "plugins.evaluator", "plugins.searcher", "plugins.reward_preset", "plugins.model_alias",
                 "plugins.tracker", "plugins.runtime", "plugins.selection"]),
    ("store", ["models.resolve", "rundir.store", "rundir.listing"]),
    ("session", ["session"]),
    ("search", ["search.pipelines", "search.proposals", "search.reward", "search.deadline", "search.promotion",
                "search.executors", "search.ray_executor", "search.loop"]),
    ("api", ["models.export", "api", "report", "scaffold", "toolkit", ""]),
    ("cli", ["cli.app", "cli.options", "cli.frontier", "cli.compress", "cli.eval", "cli.plugins", "cli.report",
             "cli.runs", "cli.spec", "cli", "__main__", "testing"]),
]
PACKAGES = {"plugins", "search", "rundir", "models"}


def module_name(path: Path) -> str:
    parts = path.relative_to(CORE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def runtime_imports(tree: ast.AST):
    """`from acf… import …` outside `if TYPE_CHECKING:` blocks."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            continue
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "acf":
            yield node
        yield from runtime_imports(node)


def test_each_module_imports_only_its_own_layer_or_lower_ones():
    level = {m: i for i, (_, modules) in enumerate(LAYERS) for m in modules}
    wrong = []
    for path in python_files(CORE):
        name = module_name(path)
        if name in PACKAGES:
            continue
        assert name in level, f"acf.{name} is in no layer: add it to LAYERS and docs/architecture.md"
        for node in runtime_imports(ast.parse(path.read_text())):
            base = node.module.removeprefix("acf").removeprefix(".")
            targets = [t for t in (f"{base}.{a.name}".strip(".") for a in node.names) if t in level] or [base]
            for target in targets:
                if target not in PACKAGES and level[target] > level[name]:
                    wrong.append(f"acf.{name} ({LAYERS[level[name]][0]}) imports acf.{target} "
                                 f"({LAYERS[level[target]][0]})")
    assert not wrong


def test_no_core_module_is_over_300_lines():
    long = {str(p.relative_to(ROOT)): n for p in python_files(CORE) if (n := len(p.read_text().splitlines())) > 300}
    assert not long


def acf_imports(path: Path) -> list[tuple[str, list[str], int]]:
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "acf":
            out.append((node.module, [a.name for a in node.names], node.lineno))
        elif isinstance(node, ast.Import):
            out += [(a.name, [], node.lineno) for a in node.names if a.name.split(".")[0] == "acf"]
    return out


def test_builtin_plugins_use_only_the_declared_surface():
    """Built-ins are written exactly as a third-party plugin: `acf` (its __all__) and `acf.toolkit` only."""
    allowed = {"acf": set(acf.__all__), "acf.toolkit": set(acf.toolkit.__all__)}
    wrong = []
    for path in python_files(BUILTIN) + python_files(TEMPLATE / "acf_plugin_{{name}}"):
        for module, names, line in acf_imports(path):
            if module not in allowed or not set(names) <= allowed[module]:
                wrong.append(f"{path.relative_to(ROOT)}:{line}: {module} {sorted(set(names) - allowed.get(module, set()))}")
    assert not wrong


def test_the_declared_surface_resolves():
    for name in acf.__all__:
        assert getattr(acf, name) is not None
    for name in acf.toolkit.__all__:
        assert getattr(acf.toolkit, name) is not None


def test_no_acf_attribute_is_set_on_a_model():
    """Per-step records travel through the context (`ctx.record`, `ctx.set_tensor_format`), not model attributes."""
    pattern = re.compile(r"\.\s*_acf_\w+\s*=|setattr\([^)]*['\"]_acf_")
    hits = [f"{p.relative_to(ROOT)}:{n}" for folder in (CORE, BUILTIN, TEMPLATE) for p in python_files(folder)
            for n, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert not hits


def test_core_imports_its_own_modules_at_the_top():
    """Function-level imports are for torch and backend libraries; acf's own modules show the dependency graph.
    The one exception is the CLI's commands, which import the API when run so that `acf --help` stays fast."""
    inner = []
    for path in python_files(CORE):
        if path.parent.name == "cli":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                inner += [f"{path.relative_to(ROOT)}:{sub.lineno}" for sub in ast.walk(node)
                          if isinstance(sub, ast.ImportFrom) and (sub.module or "").split(".")[0] == "acf"]
    assert not inner


def test_run_options_are_declared_once():
    """Every run option is a RunConfig field and an option of `acf compress`, with the same default and help."""
    assert list(RunConfig.model_fields) == list(OPTIONS)
    params = inspect.signature(compress_cli.compress).parameters
    cli_name = {"constraints": "constraint", "weights": "weight", "objectives": "objective", "methods": "method",
                "strategies": "strategy", "evaluators": "evaluator", "evaluator_options": "eval_option",
                "episode_budget_s": "episode_budget", "episode_timeout_s": "timeout"}
    for name, field in RunConfig.model_fields.items():
        option = params[cli_name.get(name, name)].default
        if name in ("strategies", "evaluator_options"):  # given as files / EVALUATOR.OPTION=VALUE, then parsed
            continue
        default = getattr(option, "default", option)
        assert default == OPTIONS[name].cli_default, name
        assert getattr(option, "help", None) == field.description == OPTIONS[name].help, name
        if not field.is_required():
            assert field.get_default(call_default_factory=True) == OPTIONS[name].value(), name


def test_api_options_are_validated_by_run_config(tmp_path):
    import pytest

    with pytest.raises(acf.AcfError, match="unknown run option 'episode'"):
        acf.compress("x", "gsm8k", episode=3, run_dir=tmp_path / "r")
    with pytest.raises(acf.AcfError, match="--episodes must be at least 1"):
        acf.compress("x", "gsm8k", episodes=0, run_dir=tmp_path / "r")
    assert not (tmp_path / "r").exists()
