import sys
from pathlib import Path

import pytest

from acf.testing import write_gsm8k

TESTS = Path(__file__).parent


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    """Every test gets its own acf cache (converted models, evaluation cache)."""
    monkeypatch.setenv("ACF_CACHE_DIR", str(tmp_path / "acf-cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def gsm8k_file(tmp_path_factory) -> Path:
    return write_gsm8k(tmp_path_factory.mktemp("data") / "gsm8k.jsonl")


@pytest.fixture
def my_plugin():
    from acf.testing import registered_plugin

    sys.path.insert(0, str(TESTS))
    try:
        from plugins import my_plugin as module

        with registered_plugin(module, name="my_plugin"):
            yield module
    finally:
        sys.path.remove(str(TESTS))


@pytest.fixture
def plugin_site(tmp_path) -> Path:
    return make_plugin_site(tmp_path / "site")


def make_plugin_site(site: Path) -> Path:
    """A folder to put on PYTHONPATH that installs tests/plugins/my_plugin.py as entry point `my_plugin`."""
    site.mkdir(parents=True)
    (site / "acf_test_plugin.py").write_text((TESTS / "plugins" / "my_plugin.py").read_text())
    dist = site / "acf_test_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acf-test-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[acf]\nmy_plugin = acf_test_plugin\n")
    return site
