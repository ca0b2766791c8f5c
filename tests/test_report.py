"""`acf report`: a self-contained HTML page, checked in a real headless Chromium."""

import json
import os
import re
import shutil
import subprocess

import pytest

import acf


def browser():
    found = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if found is None:
        if os.environ.get("ACF_REQUIRE_BROWSER"):
            pytest.fail("ACF_REQUIRE_BROWSER is set but no Chromium is installed (.ci/run installs Debian's chromium)")
        pytest.skip("no Chromium here (CI installs it and sets ACF_REQUIRE_BROWSER)")
    return found


@pytest.fixture(scope="module")
def run_dir(acf_tiny_model, gsm8k_file, tmp_path_factory):
    folder = tmp_path_factory.mktemp("report") / "run"
    acf.compress(
        str(acf_tiny_model),
        "gsm8k",
        run_dir=folder,
        episodes=6,
        seed=0,
        methods=["rtn", "magnitude"],
        evaluators=["size", "latency"],
        constraints=["size_mb<=0.5*baseline"],
        objectives=["gsm8k_loglik", "size_mb", "latency_ms"],
        evaluator_options={
            "gsm8k": {"data_path": str(gsm8k_file), "limit": 8},
            "latency": {"repeats": 2, "new_tokens": 2},
        },
    )
    return folder


def test_report_is_one_self_contained_file(run_dir, acf_cli):
    code, out, err = acf_cli(["report", str(run_dir)])
    assert code == 0, err
    page = (run_dir / "report.html").read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']https?:""", page), "no CDN or network resource"
    data = json.loads(re.search(r'<script type="application/json" id="acf-data">(.*?)</script>', page, re.S)[1])
    frontier = json.loads((run_dir / "pareto_frontier.json").read_text())
    assert data["frontier_size"] == len(frontier["candidates"])
    assert data["recommended"] == frontier["recommended"]
    assert len(data["episodes"]) == 6 and len(data["hypervolume"]) == 6
    assert data["hypervolume"][-1] == pytest.approx(frontier["hypervolume"])
    assert data["constraints"][0]["metric"] == "size_mb"
    assert set(data["references"]) == {"hf"} and "latency_ms" in data["references"]["hf"]  # all timed on hf
    code, out, err = acf_cli(["report", str(run_dir.parent / "missing")])
    assert code == 2 and "not an acf run directory" in err


def test_report_renders_in_headless_chromium(run_dir, tmp_path):
    chromium = browser()
    page = tmp_path / "report.html"
    from acf.report import write_report

    write_report(run_dir, page)
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([chromium, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert 'data-rendered="true"' in dom.stdout, "the page's script ran to the end"
    frontier = json.loads((run_dir / "pareto_frontier.json").read_text())
    drawn = re.findall(r'<circle[^>]*class="pt frontier[^"]*"', dom.stdout)
    assert len(drawn) == len(frontier["candidates"]) > 0
    assert len(re.findall(r'class="pt frontier recommended"', dom.stdout)) == 1
    assert dom.stdout.count("<tr") == 1 + 6  # header and one row per episode
    # every candidate's latency is simulated here (rtn and masked weights timed as the dense model): marked
    assert re.search(
        r'<td class="[^"]*simulated[^"]*">[^<]*\(simulated on hf: (pack-quantized-w\d|dense-float32'
        r"\+sparse-bitmask)\)</td>",
        dom.stdout,
    )
    assert "simulated cost" in dom.stdout  # the legend says what the dashed outline means
    shot = tmp_path / "shot.png"
    subprocess.run(
        [chromium, *flags, f"--screenshot={shot}", "--window-size=1200,900", page.as_uri()],
        capture_output=True,
        timeout=120,
    )
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
