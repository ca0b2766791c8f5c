"""The shape of the code: layers, the declared plugin surface, one source of truth for run options."""

import ast
import re
from pathlib import Path

import acf
import acf.toolkit
from acf.cli import compress as compress_cli
from acf.types.config import RunConfig, SessionOptions
from acf.types.options import COMMAND, COMMAND_OPTIONS, OPTIONS, REQUIRED, RUN_OPTIONS, SESSION_OPTIONS

ROOT = Path(__file__).parent.parent
CORE = ROOT / "acf"
BUILTIN = ROOT / "acf_plugins_builtin"
TEMPLATE = ROOT / "templates" / "acf-plugin"


def python_files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.py"))


# acf's layers, lowest first (docs/architecture.md): each top-level package or module of `acf/` imports only from
# layers below it. The facades (`acf` itself, `acf.toolkit`, `acf.testing`, `python -m acf`) stand above them all
# and no layer imports them.
LAYERS = ["errors", "system", "types", "rundir", "models", "plugins", "session", "search", "api", "report", "cli"]
FACADES = ["", "toolkit", "testing", "__main__"]
# Built-in plugin kinds: none imports another (what two share lives in `acf.toolkit` or `acf_plugins_builtin.shared`).
PLUGIN_KINDS = ["methods", "evaluators", "runtimes", "searchers", "trackers"]


def module_name(path: Path, root: Path = CORE) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def node(module: str) -> str:
    """The layer a module `acf.X.…` belongs to: its top-level package or module (`""` for `acf` itself)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def imports_of(path: Path, package: str) -> list[tuple[str, int]]:
    """Every `acf…` module `path` imports, at any depth: at the top, in functions, under `if TYPE_CHECKING:`."""
    out = []
    for n in ast.walk(ast.parse(path.read_text())):
        if isinstance(n, ast.ImportFrom) and n.level == 0 and n.module and n.module.split(".")[0] == package:
            out.append((n.module, n.lineno))
        elif isinstance(n, ast.Import):
            out += [(a.name, n.lineno) for a in n.names if a.name.split(".")[0] == package]
    return out


def package_graph() -> dict[tuple[str, str], list[str]]:
    """(importing layer, imported layer) → where, over every module of `acf/`."""
    edges: dict[tuple[str, str], list[str]] = {}
    for path in python_files(CORE):
        source = node("acf." + module_name(path))
        for module, line in imports_of(path, "acf"):
            target = node(module)
            if target != source:
                edges.setdefault((source, target), []).append(f"{path.relative_to(ROOT)}:{line}")
    return edges


def test_the_package_graph_of_acf_is_acyclic():
    edges = package_graph()
    graph: dict[str, set[str]] = {}
    for source, target in edges:
        graph.setdefault(source, set()).add(target)
    state: dict[str, str] = {}

    def visit(n: str, path: list[str]) -> list[str] | None:
        state[n] = "open"
        for m in sorted(graph.get(n, ())):
            if state.get(m) == "open":
                return [*path, n, m]
            if m not in state and (cycle := visit(m, [*path, n])):
                return cycle
        state[n] = "done"
        return None

    cycles = [c for n in sorted(graph) if n not in state and (c := visit(n, []))]
    assert not cycles, " → ".join(cycles[0])


def test_each_layer_imports_only_layers_below_it():
    """Any import counts, `if TYPE_CHECKING:` ones included: a type-only import that points up a layer is a cycle
    the type checker sees."""
    level = {name: i for i, name in enumerate(LAYERS)}
    names = set(LAYERS) | set(FACADES)
    for path in python_files(CORE):
        assert node("acf." + module_name(path)) in names, f"{path.relative_to(ROOT)} is in no layer: add it to LAYERS"
    wrong = [
        f"{where[0]}: {source or 'acf'} imports {target or 'acf'}"
        for (source, target), where in package_graph().items()
        if target in FACADES or (source in level and level[target] > level[source])
    ]
    assert not wrong


def builtin_imports(path: Path) -> list[tuple[str, int]]:
    """Every `acf_plugins_builtin…` module a built-in imports, relative imports made absolute."""
    package = ["acf_plugins_builtin", *module_name(path, BUILTIN).split(".")]
    if path.name != "__init__.py":
        package = package[:-1]
    out = imports_of(path, "acf_plugins_builtin")
    for n in ast.walk(ast.parse(path.read_text())):
        if isinstance(n, ast.ImportFrom) and n.level:
            base = package[: len(package) - n.level + 1]
            out.append((".".join([*base, *([n.module] if n.module else [])]), n.lineno))
    return out


def test_no_builtin_plugin_kind_imports_another():
    """A kind imports its own modules and `acf_plugins_builtin.shared`, which imports no kind."""
    wrong = []
    for kind in [*PLUGIN_KINDS, "shared"]:
        allowed = [[kind]] if kind == "shared" else [[kind], ["shared"]]
        for path in python_files(BUILTIN / kind):
            for module, line in builtin_imports(path):
                if module.split(".")[1:2] not in allowed:
                    wrong.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
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
                wrong.append(
                    f"{path.relative_to(ROOT)}:{line}: {module} {sorted(set(names) - allowed.get(module, set()))}"
                )
    assert not wrong


def test_the_declared_surface_resolves():
    for name in acf.__all__:
        assert getattr(acf, name) is not None
    for name in acf.toolkit.__all__:
        assert getattr(acf.toolkit, name) is not None


def test_no_acf_attribute_is_set_on_a_model():
    """Per-step records travel through the context (`ctx.record`, `ctx.set_tensor_format`), not model attributes."""
    pattern = re.compile(r"\.\s*_acf_\w+\s*=|setattr\([^)]*['\"]_acf_")
    hits = [
        f"{p.relative_to(ROOT)}:{n}"
        for folder in (CORE, BUILTIN, TEMPLATE)
        for p in python_files(folder)
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
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
                inner += [
                    f"{path.relative_to(ROOT)}:{sub.lineno}"
                    for sub in ast.walk(node)
                    if isinstance(sub, ast.ImportFrom) and (sub.module or "").split(".")[0] == "acf"
                ]
    assert not inner


def test_run_options_are_declared_once():
    """Every run option is a RunConfig field with the declaration's type, default and help; the session options
    are SessionOptions' fields."""
    assert list(RunConfig.model_fields) == list(OPTIONS)
    for name, field in RunConfig.model_fields.items():
        assert field.description == OPTIONS[name].help, name
        if not field.is_required():
            assert field.get_default(call_default_factory=True) == OPTIONS[name].value(), name
    assert list(SessionOptions.model_fields) == [o.name for o in SESSION_OPTIONS]


def test_each_option_is_written_in_one_place():
    """A declared option's help text stands in `acf/types/options.py` and nowhere else in acf: the commands, the API
    and `Session` take it from there."""
    sources = {path: path.read_text() for path in python_files(CORE)}
    for option in (*RUN_OPTIONS, *COMMAND_OPTIONS):
        where = [path.relative_to(ROOT) for path, text in sources.items() if option.help[:30] in text]
        assert where == [Path("acf/types/options.py")], option.name


FLAG = r"(?<![\w-])--[a-z][a-z0-9-]+"


def test_compress_lists_exactly_the_declared_options(acf_cli):
    """`acf compress`'s parameters are generated from the declarations: each run option and command option with its
    own flags, default and help, and nothing else."""
    import typer.main

    from acf.cli import build_app

    command = typer.main.get_command(build_app()).commands["compress"]
    params = {p.name: p for p in command.params if p.name != "help"}
    assert list(params) == compress_cli.COMPRESS
    for name, param in params.items():
        declared = OPTIONS.get(name) or COMMAND[name]
        if declared.argument:
            assert param.param_type_name == "argument"
            continue
        assert tuple(param.opts + param.secondary_opts) == declared.command_line_flags, name
        assert param.help == declared.help, name
        assert param.default == (None if declared.default is REQUIRED else declared.cli_default), name
    code, out, _ = acf_cli(["compress", "--help"], env={"COLUMNS": "200"})
    flags = {f for p in params.values() for f in p.opts if f.startswith("--")}
    in_help = {f for o in (*RUN_OPTIONS, *COMMAND_OPTIONS) for f in re.findall(FLAG, o.help)}  # "--searcher agent: …"
    listed = set(re.findall(FLAG, out)) - {"--help"}
    assert code == 0 and flags <= listed and listed - flags <= in_help


def test_api_options_are_validated_by_run_config(tmp_path):
    import pytest

    with pytest.raises(acf.AcfError, match="unknown run option 'episode'"):
        acf.compress("x", "gsm8k", episode=3, run_dir=tmp_path / "r")
    with pytest.raises(acf.AcfError, match="--episodes must be at least 1"):
        acf.compress("x", "gsm8k", episodes=0, run_dir=tmp_path / "r")
    assert not (tmp_path / "r").exists()
