"""The agent searcher: an LLM proposes strategies (with rationales) that nevergrad runs and learns from; every
round recorded and replayed on resume; an LLM that fails never breaks the run."""

import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import acf
from acf_plugins_builtin.searchers.agent import openai_backend, searcher
from acf_plugins_builtin.searchers.agent.local_backend import LocalBackend

pytest.importorskip("nevergrad")
HELPERS = Path(__file__).parent / "helpers"


def options(data, llm, **kw):
    return {
        "episodes": 6,
        "seed": 0,
        "searcher": "agent",
        "methods": ["rtn", "magnitude"],
        "evaluators": ["size"],
        "evaluator_options": {"gsm8k": {"data_path": str(data), "limit": 4}},
        "llm_model": str(llm),
        **kw,
    }


def test_a_local_model_proposes_valid_strategies_with_rationales_and_a_resume_asks_it_nothing(
    acf_tiny_model, gsm8k_file, tmp_path, monkeypatch
):
    run_dir = tmp_path / "run"
    result = acf.compress(str(acf_tiny_model), "gsm8k", run_dir=run_dir, **options(gsm8k_file, acf_tiny_model))
    assert [c.status for c in result.candidates] == ["ok"] * 6
    rounds = sorted((run_dir / "searcher").glob("round_*.json"))
    record = json.loads(rounds[0].read_text())
    assert record["backend"] == {"kind": "local", "model": str(acf_tiny_model)}
    assert record["messages"][1]["content"].startswith("Model: llama") and record["strategies"]
    assert record["prompt_tokens"] > 0 and record["completion_tokens"] > 0
    proposed = [c for c in result.candidates if c.rationale]
    assert proposed and all(isinstance(c.rationale, str) for c in proposed)
    first = json.loads((run_dir / "episode_001" / "result.json").read_text())
    assert first["rationale"] == proposed[0].rationale  # the first round's first proposal ran first
    summary = json.loads((run_dir / "final_results.json").read_text())["searcher"]["agent"]
    assert summary["rounds"] == len(rounds) and summary["invalid"] == 0 and summary["run"] >= 1
    from acf.report import report_data, write_report

    assert [e["rationale"] for e in report_data(run_dir)["episodes"]] == [c.rationale for c in result.candidates]
    chromium = shutil.which("chromium")
    if chromium and proposed[0].rationale.strip():  # the report shows it next to the result
        page = write_report(run_dir, tmp_path / "report.html")
        dom = subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                f"--user-data-dir={tmp_path / 'profile'}",
                "--dump-dom",
                page.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        ).stdout
        assert "rationale (the searcher's)" in dom
    # killed after three episodes: the resumed run replays the recorded rounds and asks the model nothing
    for n in (4, 5, 6):
        shutil.rmtree(run_dir / f"episode_{n:03d}")
    (run_dir / "final_results.json").unlink()
    monkeypatch.setattr(LocalBackend, "propose", lambda *a, **k: pytest.fail("asked the LLM again"))
    again = acf.resume(run_dir)
    assert [c.strategy for c in again.candidates] == [c.strategy for c in result.candidates]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def chat_server(tmp_path):
    servers = []

    def start(mode: str):
        port = free_port()
        proc = subprocess.Popen([sys.executable, str(HELPERS / "chat_server.py"), str(port), mode], cwd=tmp_path)
        servers.append(proc)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        return f"http://127.0.0.1:{port}/v1"

    yield start
    for proc in servers:
        proc.kill()
        proc.wait()


def test_an_openai_compatible_server_is_asked_and_the_key_is_never_written(
    acf_tiny_model, gsm8k_file, tmp_path, chat_server, monkeypatch
):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret-123")
    endpoint = chat_server("valid")
    run_dir = tmp_path / "run"
    result = acf.compress(
        str(acf_tiny_model), "gsm8k", run_dir=run_dir, **options(gsm8k_file, "scripted-model", llm_endpoint=endpoint)
    )
    proposed = [c for c in result.candidates if c.rationale]
    assert proposed and proposed[0].rationale.startswith("try ")
    record = json.loads((run_dir / "searcher" / "round_001.json").read_text())
    assert record["backend"] == {"kind": "openai", "endpoint": endpoint, "model": "scripted-model"}
    assert record["prompt_tokens"] > 0 and record["attempts"] == 1
    requests = [json.loads(line) for line in (tmp_path / "requests.jsonl").read_text().splitlines()]
    assert requests[0]["authorization"] == "Bearer sk-test-secret-123"  # sent to the server …
    written = "".join(p.read_text(errors="replace") for p in run_dir.rglob("*") if p.is_file())
    assert "sk-test-secret-123" not in written  # … and never written to the run directory


@pytest.mark.parametrize("mode", ["slow", "malformed"])
def test_an_llm_that_hangs_or_answers_nonsense_never_breaks_the_run(
    acf_tiny_model, gsm8k_file, tmp_path, chat_server, monkeypatch, mode
):
    monkeypatch.setattr(openai_backend, "TIMEOUT_S", 1.0)
    monkeypatch.setattr(searcher, "BACKOFF_S", 0.01)
    result = acf.compress(
        str(acf_tiny_model),
        "gsm8k",
        run_dir=tmp_path / "run",
        **options(gsm8k_file, "m", llm_endpoint=chat_server(mode), episodes=3),
    )
    assert [c.status for c in result.candidates] == ["ok"] * 3  # nevergrad proposed instead
    record = json.loads((tmp_path / "run" / "searcher" / "round_001.json").read_text())
    assert record["attempts"] == 3 and record["strategies"] == [] and len(record["errors"]) == 3
    assert ("Timeout" in record["error"]) if mode == "slow" else ("no strategies in the reply" in record["error"])
    summary = json.loads((tmp_path / "run" / "final_results.json").read_text())["searcher"]["agent"]
    assert summary["fallbacks"] >= 1


def test_rate_limits_are_waited_out(acf_tiny_model, gsm8k_file, tmp_path, chat_server, monkeypatch):
    monkeypatch.setattr(searcher, "BACKOFF_S", 0.01)
    result = acf.compress(
        str(acf_tiny_model),
        "gsm8k",
        run_dir=tmp_path / "run",
        **options(gsm8k_file, "m", llm_endpoint=chat_server("ratelimit"), episodes=3),
    )
    record = json.loads((tmp_path / "run" / "searcher" / "round_001.json").read_text())
    assert record["attempts"] == 2 and record["strategies"] and "RateLimitError" in record["errors"][0]
    assert any(c.rationale for c in result.candidates)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--llm-endpoint", "not a url", "--llm-model", "m"], "is not an http(s) URL"),
        (
            ["--llm-endpoint", "https://llm.example.invalid/v1", "--llm-model", "m"],
            "needs an API key in the environment variable OPENAI_API_KEY",
        ),
        (
            ["--llm-endpoint", "http://127.0.0.1:9/v1", "--llm-model", "m"],
            "cannot reach --llm-endpoint http://127.0.0.1:9/v1",
        ),
        (["--llm-model", "no-such-model-alias"], "no-such-model-alias"),
    ],
)
def test_bad_llm_settings_are_one_line_before_any_model_work(
    acf_tiny_model, gsm8k_file, tmp_path, acf_cli, monkeypatch, args, message
):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    code, _, err = acf_cli(
        [
            "compress",
            str(acf_tiny_model),
            "-d",
            "gsm8k",
            "--data-path",
            str(gsm8k_file),
            "-m",
            "rtn",
            "--searcher",
            "agent",
            "--run-dir",
            str(tmp_path / "r"),
            *args,
        ]
    )
    assert code == 2 and "Traceback" not in err and err.count("Error:") == 1, err
    assert message in err
    assert not (tmp_path / "r").exists()


def test_a_reply_is_read_from_prose_or_a_fence_and_an_echoed_placeholder_is_no_rationale():
    from acf_plugins_builtin.searchers.agent.prompt import MalformedReply, parse_reply

    steps = [{"method": "rtn", "params": {"bits": 4}}]
    fenced = (
        "Sure!\n```json\n" + json.dumps({"strategies": [{"steps": steps, "rationale": " 4 bits keeps it. "}]}) + "\n```"
    )
    assert parse_reply(fenced) == [{"steps": steps, "rationale": "4 bits keeps it."}]
    echoed = json.dumps({"strategies": [{"steps": steps, "rationale": "One sentence."}]})
    assert parse_reply(echoed) == [{"steps": steps, "rationale": ""}]
    for text in ("", "no JSON here", '{"strategies": []}', '{"strategies": [{"rationale": "x"}]}'):
        with pytest.raises(MalformedReply):
            parse_reply(text)
