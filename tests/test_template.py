"""`acf plugins new` renders a plugin project that installs, is listed, and whose method `acf compress` uses."""

import json
import os
import site
import subprocess
import sys
import venv
from pathlib import Path

import pytest


def test_rendered_template_installs_into_a_fresh_venv_and_works(tmp_path, acf_tiny_model, gsm8k_file, acf_cli):
    code, out, err = acf_cli(["plugins", "new", "demo", "--dir", str(tmp_path)])
    assert code == 0, err
    project = tmp_path / "acf-plugin-demo"
    assert (project / "acf_plugin_demo" / "method.py").is_file()
    assert '"demo" = "acf_plugin_demo"' in (project / "pyproject.toml").read_text().splitlines()
    # a throw-away virtual environment that sees this environment's packages (acf, torch, the build backend) but
    # installs the plugin itself. Not `system_site_packages`: that is the base interpreter's, not this venv's.
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = str(env_dir / "bin" / "python")
    own_site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # an `import` line in a .pth file runs: addsitedir also processes this environment's own .pth files (editable acf)
    lines = "".join(f"import site; site.addsitedir({p!r})\n" for p in site.getsitepackages())
    (Path(own_site) / "acf_test_parent_env.pth").write_text(lines)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            python,
            "install",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-q",
            str(project),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert install.returncode == 0, install.stderr
    listed = subprocess.run(
        [python, "-m", "acf", "plugins", "list", "--json"], capture_output=True, text=True, timeout=120, env=env
    )
    assert listed.returncode == 0, listed.stderr
    row = next(r for r in json.loads(listed.stdout) if r["name"] == "demo")
    assert row["distribution"] == "acf-plugin-demo" and row["methods"] == ["demo_bf16"]
    run = subprocess.run(
        [
            python,
            "-m",
            "acf",
            "compress",
            str(acf_tiny_model),
            "-d",
            "gsm8k",
            "--data-path",
            str(gsm8k_file),
            "--limit",
            "6",
            "-m",
            "demo_bf16",
            "-e",
            "size",
            "-e",
            "demo_zeros",
            "-n",
            "1",
            "--run-dir",
            str(tmp_path / "run"),
            "--json",
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**env, "ACF_CACHE_DIR": str(tmp_path / "cache")},
    )
    assert run.returncode == 0, run.stderr
    final = json.loads(run.stdout)
    assert final["episodes"]["ok"] == 1
    assert final["recommended"]["strategy"]["steps"][0]["method"] == "demo_bf16"
    assert final["recommended"]["measurements"]["size_mb"]["value"] < final["baseline"]["size_mb"]["value"]
    # the template's own tests pass with acf's pytest plugin (fixtures from the pytest11 entry point)
    tests = subprocess.run(
        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(project / "tests")],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=project,
    )
    assert tests.returncode == 0, tests.stdout[-3000:]


@pytest.mark.parametrize("name,message", [("Bad-Name", "must be lowercase"), ("9lives", "starting with a letter")])
def test_bad_plugin_names_are_refused(name, message, acf_cli, tmp_path):
    code, out, err = acf_cli(["plugins", "new", name, "--dir", str(tmp_path)])
    assert code == 2 and message in err
