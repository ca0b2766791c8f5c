"""The vllm runtime without a GPU: how the server is launched, how streamed completions are timed and parsed, and
every way a server can fail (a stand-in server speaks the same protocol)."""

import json
import sys
from pathlib import Path

import pytest

from acf_plugins_builtin.runtimes.vllm import (
    SERVED_NAME,
    Server,
    VLLMDeployment,
    VLLMRuntime,
    free_port,
    parse_stream,
    server_command,
)

FAKE = Path(__file__).parent / "helpers" / "fake_completions_server.py"


def test_the_server_is_launched_on_the_candidate_folder_with_its_limits(tmp_path):
    cmd = server_command(tmp_path, 8123, 2048, 0.4)
    assert cmd[:3] == [sys.executable, "-m", "vllm.entrypoints.openai.api_server"]
    flags = dict(zip(cmd[3::2], cmd[4::2]))
    assert flags == {
        "--model": str(tmp_path),
        "--served-model-name": SERVED_NAME,
        "--host": "127.0.0.1",
        "--port": "8123",
        "--max-model-len": "2048",
        "--gpu-memory-utilization": "0.4",
        "--seed": "0",
    }


def test_streamed_chunks_are_parsed_with_their_arrival_times():
    ticks = iter(range(10))
    lines = [
        b": keep-alive\n",
        b'data: {"choices": [{"text": " a"}]}\n',
        b"\n",
        b'data: {"choices": [{"text": " b"}]}\n',
        b"data: [DONE]\n",
        b'data: {"choices": [{"text": "x"}]}\n',
    ]
    assert parse_stream(lines, clock=lambda: next(ticks)) == [(0, " a"), (1, " b")]
    with pytest.raises(RuntimeError, match="vLLM server error: .*out of memory"):
        parse_stream([b'data: {"error": {"message": "out of memory"}}\n'])


def deployment(tmp_path, mode=()):
    port = free_port()
    (tmp_path / "config.json").write_text(json.dumps({"vocab_size": 100}))
    return VLLMDeployment(
        tmp_path, "pack-quantized-w4", simulated=False, port=port, command=[sys.executable, str(FAKE), str(port), *mode]
    )


def test_latency_and_throughput_come_from_streamed_requests(tmp_path):
    d = deployment(tmp_path)
    try:
        ttft, decode_tps = d.prefill_decode(prompt_len=16, new_tokens=8, seed=0)
        assert 0 < ttft < 5 and 20 < decode_tps < 200  # the stand-in sends a token every 10 ms
        seconds = d.generate_seconds(batch=4, prompt_len=16, new_tokens=8, seed=0)
        assert 0.05 < seconds < 2  # concurrent, not 4 × 8 × 10 ms in turn
    finally:
        d.close()
    assert d.server is None and tmp_path.exists()  # the folder is the candidate's shared artifact: kept


def test_a_server_that_exits_hangs_or_errors_fails_with_the_reason(tmp_path):
    code = "import sys; print('CUDA error: no kernel image', file=sys.stderr); sys.exit(1)"
    with pytest.raises(RuntimeError, match=r"exited \(code 1\) before it was ready: CUDA error: no kernel image"):
        Server(tmp_path, 64, command=[sys.executable, "-c", code], port=free_port())
    with pytest.raises(RuntimeError, match="not ready within 1 s"):
        Server(
            tmp_path,
            64,
            command=[sys.executable, "-c", "import time; time.sleep(30)"],
            port=free_port(),
            ready_timeout_s=1,
        )
    (tmp_path / "err").mkdir()
    d = deployment(tmp_path / "err", mode=["error"])
    try:
        with pytest.raises(RuntimeError, match="out of memory"):
            d.prefill_decode(prompt_len=4, new_tokens=2, seed=0)
    finally:
        d.close()


def test_vllm_is_refused_where_it_cannot_run():
    why = VLLMRuntime().unavailable("cpu")
    assert why and ("acf[vllm]" in why or "runs on cuda" in why)
