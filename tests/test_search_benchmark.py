"""The search-efficiency benchmark runs in CI on its synthetic objective table (seconds, no model)."""

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parent.parent / "benchmarks" / "search_efficiency.py"


def test_search_efficiency_benchmark_on_the_synthetic_table(tmp_path):
    out = tmp_path / "rows.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--synthetic",
            "--seeds",
            "2",
            "--budgets",
            "0.1,0.25,1.0",
            "--searchers",
            "grid,nevergrad,random",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "| searcher | budget | hv ratio median |" in proc.stdout
    data = json.loads(out.read_text())
    assert data["size"] == 66 and data["true_hypervolume"] > 1.0  # beyond the baseline's own volume of 1
    rows = {(r["searcher"], r["fraction"]): r for r in data["rows"]}
    assert {s for s, _ in rows} >= {"nevergrad", "random", "grid"}
    for r in data["rows"]:
        assert 0.0 <= r["min"] <= r["median"] <= r["max"] <= 1.0 + 1e-9
        assert r["budget"] == max(1, -(-int(r["fraction"] * 1000) * 66 // 1000))
    # the whole space, seen by grid, is the true frontier; no searcher can find more than it
    assert rows[("grid", 1.0)]["min"] == 1.0
    # random and grid with a bigger budget replay the smaller run first, so they never find less
    for name in ("random", "grid"):
        assert rows[(name, 0.1)]["median"] <= rows[(name, 0.25)]["median"] <= rows[(name, 1.0)]["median"]


def test_the_agent_is_replayed_asking_its_llm_for_real(tmp_path, acf_tiny_model):
    """The agent reads a view of the replayed run and asks its (local, tiny) LLM every few episodes; its
    proposals are valid strategies of the benchmark's space, and they are counted."""
    out = tmp_path / "rows.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--synthetic",
            "--seeds",
            "1",
            "--budgets",
            "0.1",
            "--searchers",
            "agent",
            "--llm-model",
            str(acf_tiny_model),
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    [row] = json.loads(out.read_text())["rows"]
    agent = row["agent"]
    assert row["budget"] == 7 and agent["rounds"] == 3  # asks 1, 4 and 7
    assert agent["proposed"] >= agent["rounds"] and agent["invalid"] == 0 and agent["fallbacks"] == 0
    assert 0.0 < row["median"] <= 1.0 + 1e-9
    assert "LLM rounds" in proc.stdout
