import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from acf.errors import PluginCollisionError, UnknownPluginError
from acf.plugins import hookspecs
from acf.plugins.manager import registry
from acf.testing import registered_plugin

HOOKS = sorted(n for n in dir(hookspecs) if n.startswith("register_"))


def test_every_hook_is_documented_with_its_arguments():
    import inspect

    for name in HOOKS:
        fn = getattr(hookspecs, name)
        doc = inspect.getdoc(fn)
        assert doc, f"{name} has no docstring"
        for arg in inspect.signature(fn).parameters:
            assert f":param {arg}:" in doc, f"{name} does not document {arg}"


def test_every_hook_has_a_test():
    text = Path(__file__).read_text()
    for name in HOOKS:
        assert f"def test_hook_{name}" in text, f"no test for hook {name}"


def test_hook_register_methods(my_plugin):
    assert {"explode", "huge", "scale", "costly", "nap", "rtn", "magnitude"} <= set(registry().names("method"))
    assert registry().get("method", "scale") is my_plugin.Scale


def test_hook_register_trackers(my_plugin, acf_tiny_model, gsm8k_file, tmp_path):
    import acf

    assert registry().get("tracker", "notes") is my_plugin.Notes
    my_plugin.Notes.events.clear()
    result = acf.compress(
        str(acf_tiny_model),
        "gsm8k",
        run_dir=tmp_path / "run",
        episodes=2,
        methods=["rtn"],
        evaluators=["size"],
        track=["notes"],
        evaluator_options={"gsm8k": {"data_path": str(gsm8k_file), "limit": 6}},
    )
    assert my_plugin.Notes.events == [
        ("start", str(acf_tiny_model)),
        ("episode", "ep001"),
        ("episode", "ep002"),
        ("finish", result.frontier.hypervolume),
    ]


def test_hook_register_runtimes(my_plugin, acf_tiny_model, gsm8k_file, tmp_path):
    import acf

    assert registry().get("runtime", "counting") is my_plugin.Counting
    my_plugin.Counting.deployed.clear()
    result = acf.compress(
        str(acf_tiny_model),
        "gsm8k",
        run_dir=tmp_path / "run",
        episodes=1,
        methods=["rtn"],
        evaluators=["size", "latency"],
        runtime="counting",
        evaluator_options={
            "gsm8k": {"data_path": str(gsm8k_file), "limit": 2},
            "latency": {"repeats": 1, "new_tokens": 1},
        },
    )
    assert my_plugin.Counting.deployed == [
        "dense-float32",
        "pack-quantized-w" + str(result.candidates[0].strategy.steps[0].params["bits"]),
    ]  # the baseline, then the candidate
    assert result.candidates[0].measurements["latency_ms"].runtime == "counting"


def test_hook_register_evaluators(my_plugin):
    assert registry().get("evaluator", "slow") is my_plugin.Slow
    assert registry().get("evaluator", "weight_count").is_task


def test_hook_register_searchers(my_plugin):
    assert registry().get("searcher", "first") is my_plugin.FirstPoint


def test_hook_register_reward_presets(my_plugin):
    assert registry().get("reward_preset", "tiny").category_weights["size"] == 5.0


def test_hook_register_model_aliases(my_plugin):
    from acf.session.resolve import resolve_model

    resolved = resolve_model("test-alias")
    assert (resolved.hub_id, resolved.alias) == ("acf-test/not-a-real-model", "test-alias")


def test_hook_register_commands(my_plugin, acf_cli):
    code, out, _ = acf_cli(["hello-test", "--name", "acf"])
    assert code == 0 and out.strip() == "hello acf"


def test_registry_attributes_names_to_plugins(my_plugin):
    by_plugin = registry().by_plugin("my_plugin")
    assert by_plugin["method"] == ["costly", "explode", "hog", "huge", "nap", "scale"]
    assert by_plugin["searcher"] == ["first", "recorder"]
    assert by_plugin["tracker"] == ["notes"]


def test_unknown_name_lists_what_exists():
    with pytest.raises(UnknownPluginError) as info:
        registry().get("searcher", "annealing")
    assert "grid" in str(info.value) and "nevergrad" in str(info.value) and "random" in str(info.value)


def test_collision_names_both_plugins():
    from acf import Method, hookimpl

    class Clash:
        class Rtn(Method):
            name = "rtn"

        @hookimpl
        def register_methods(self, register):
            register(self.Rtn)

    with registered_plugin(Clash(), name="clashing-plugin"):
        with pytest.raises(PluginCollisionError) as info:
            registry()
    message = str(info.value)
    assert "acf_plugins_builtin.methods" in message and "clashing-plugin" in message


def test_misspelt_hook_fails_loudly():
    from acf import hookimpl

    class Typo:
        @hookimpl
        def register_method(self, register):  # missing "s"
            pass

    from pluggy import PluginValidationError

    with pytest.raises(PluginValidationError):
        with registered_plugin(Typo(), name="typo"):
            pass
    from acf.plugins.manager import pm

    assert not pm.has_plugin("typo")


def _acf(args, site: Path | None = None, **env):
    full_env = {**os.environ, **env}
    if site is not None:
        full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), full_env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "acf", *args], capture_output=True, text=True, env=full_env, timeout=120
    )


def test_entry_point_plugin_is_listed(plugin_site):
    proc = _acf(["plugins", "list", "--json"], plugin_site)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert [r["name"] for r in rows] == ["my_plugin"]
    row = rows[0]
    assert (row["distribution"], row["version"]) == ("acf-test-plugin", "0.1")
    assert row["methods"] == ["costly", "explode", "hog", "huge", "nap", "scale"] and row["evaluators"] == [
        "slow",
        "weight_count",
    ]
    assert row["trackers"] == ["notes"]
    assert "register_commands" in row["hooks"]


def test_plugins_list_hook_filter_and_all(plugin_site):
    rows = json.loads(_acf(["plugins", "list", "--json", "--all", "--hook", "register_searchers"], plugin_site).stdout)
    assert {r["name"] for r in rows} == {"acf_plugins_builtin.searchers", "my_plugin"}


def test_broken_entry_point_warns_and_cli_keeps_working(plugin_site):
    (plugin_site / "acf_test_plugin.py").write_text("raise ImportError('this plugin is broken')\n")
    proc = _acf(["plugins", "list", "--all", "--json"], plugin_site)
    assert proc.returncode == 0
    assert 'Error loading plugin "acf-test-plugin": ImportError: this plugin is broken' in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "rtn" in proc.stdout  # the built-ins still load
    proc = _acf(["plugins", "list"], plugin_site, ACF_DISABLED_PLUGINS="my_plugin")
    assert proc.returncode == 0 and "Error loading" not in proc.stderr
    proc = _acf(["plugins", "list"], plugin_site, ACF_DEBUG="1")
    assert proc.returncode != 0 and "ImportError" in proc.stderr


def test_load_plugins_allow_list(plugin_site):
    rows = json.loads(_acf(["plugins", "list", "--json"], plugin_site, ACF_LOAD_PLUGINS="").stdout)
    assert rows == []
    rows = json.loads(_acf(["plugins", "list", "--json"], plugin_site, ACF_LOAD_PLUGINS="my_plugin").stdout)
    assert [r["name"] for r in rows] == ["my_plugin"]


def test_plugins_list_all_shows_every_kind_the_registry_has(acf_cli):
    from acf.plugins.registry import PLURAL

    code, out, err = acf_cli(["plugins", "list", "--all", "--json"])
    assert code == 0, err
    rows = {r["name"]: r for r in json.loads(out)}
    assert all(set(PLURAL.values()) <= set(row) for row in rows.values())
    assert rows["acf_plugins_builtin.trackers"]["trackers"] == ["mlflow"]
    code, out, err = acf_cli(["plugins", "list", "--all"])
    assert "trackers: mlflow" in out


def test_an_installed_but_broken_backend_reports_its_own_error(tmp_path, acf_tiny_model, gsm8k_file):
    """A `nevergrad` on the path whose import raises: one line with the real error, exit 2, no run directory."""
    site = tmp_path / "site"
    (site / "nevergrad").mkdir(parents=True)
    (site / "nevergrad" / "__init__.py").write_text("raise ImportError('boom')\n")
    run_dir = tmp_path / "run"
    proc = _acf(
        [
            "compress",
            str(acf_tiny_model),
            "-d",
            "gsm8k",
            "--data-path",
            str(gsm8k_file),
            "--searcher",
            "nevergrad",
            "-n",
            "1",
            "--run-dir",
            str(run_dir),
            "-q",
        ],
        site,
    )
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "boom" in errors[0] and "installed but fails to import" in errors[0]
    assert "not installed" not in proc.stderr and "Traceback" not in proc.stderr
    assert not run_dir.exists()


def test_a_missing_backend_gives_the_plugins_own_install_hint():
    import pytest

    from acf.errors import MissingBackendError
    from acf.toolkit import import_backend

    with pytest.raises(
        MissingBackendError,
        match=r"needs the 'acf-x-backend' package, which is not installed: "
        r"pip install acf-plugin-x\[gpu\]",
    ):
        import_backend(
            "acf_x_backend_missing",
            package="acf-x-backend",
            purpose="the x method",
            install_hint="pip install acf-plugin-x[gpu]",
        )
    with pytest.raises(MissingBackendError, match=r"pip install 'acf\[search\]'"):
        import_backend("acf_x_backend_missing", package="nevergrad", extra="search", purpose="the nevergrad searcher")
