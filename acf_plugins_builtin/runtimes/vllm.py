"""The `vllm` runtime (GPU): the candidate exported as a Hugging Face folder (compressed-tensors for llm-compressor
results, bitsandbytes, dense) and served by vLLM's OpenAI-compatible server, out of acf's process.

Latency is a single streamed request: time to first token (the prefill) and the inter-token time after it;
throughput is `batch` concurrent streamed requests; memory is what the server process holds on the GPU (NVML),
which includes the key/value cache vLLM reserves up front (`gpu_memory_utilization`). A server that exits or is
not ready within `READY_TIMEOUT_S`, or a request that fails, fails that episode with the reason.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from acf import Deployment, Runtime

READY_TIMEOUT_S = 900.0
REQUEST_TIMEOUT_S = 600.0
GPU_MEMORY_UTILIZATION = 0.5
SERVED_NAME = "acf-candidate"


def server_command(
    folder: Path, port: int, max_model_len: int, gpu_memory_utilization: float = GPU_MEMORY_UTILIZATION
) -> list[str]:
    """How vLLM's OpenAI-compatible server is started for a candidate folder."""
    return [
        sys.executable,
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        str(folder),
        "--served-model-name",
        SERVED_NAME,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--max-model-len",
        str(max_model_len),
        "--gpu-memory-utilization",
        str(gpu_memory_utilization),
        "--seed",
        "0",
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parse_stream(lines, clock=time.perf_counter) -> list[tuple[float, str]]:
    """(arrival time, text) of each chunk of a streamed completion (server-sent events: `data: {json}` lines,
    ending with `data: [DONE]`). An error object in the stream is raised with the server's message."""
    chunks = []
    for raw in lines:
        line = raw.decode() if isinstance(raw, bytes) else raw
        line = line.strip()
        if not line.startswith("data:"):
            continue
        data = line[len("data:") :].strip()
        if data == "[DONE]":
            break
        event = json.loads(data)
        if "error" in event:
            raise RuntimeError(f"vLLM server error: {event['error']}")
        chunks.append((clock(), "".join(choice.get("text", "") for choice in event.get("choices", []))))
    return chunks


class Server:
    """A vLLM server process for one folder; `command` replaces the launch (tests start a stand-in)."""

    def __init__(
        self,
        folder: Path,
        max_model_len: int,
        *,
        command: list[str] | None = None,
        port: int | None = None,
        ready_timeout_s: float = READY_TIMEOUT_S,
    ):
        self.port = port or free_port()
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            command or server_command(folder, self.port, max_model_len),
            stdout=subprocess.DEVNULL,
            stderr=self.stderr,
            env={**os.environ},
        )
        self._wait_ready(ready_timeout_s)

    def _tail(self) -> str:
        self.stderr.seek(0)
        return " | ".join(self.stderr.read().decode(errors="replace").strip().splitlines()[-3:])

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"vLLM server exited (code {self.proc.returncode}) before it was ready: {self._tail()}"
                )
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/health")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.5)
        self.close()
        raise RuntimeError(f"vLLM server was not ready within {timeout_s:.0f} s (killed): {self._tail()}")

    def stream(self, tokens: list[int], max_tokens: int) -> tuple[float, list[tuple[float, str]]]:
        """Send one streamed greedy completion of `max_tokens` tokens (end-of-sequence ignored); returns when it
        was sent and its chunks."""
        body = json.dumps(
            {
                "model": SERVED_NAME,
                "prompt": tokens,
                "max_tokens": max_tokens,
                "temperature": 0,
                "ignore_eos": True,
                "stream": True,
            }
        )
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_TIMEOUT_S)
        sent = time.perf_counter()
        try:
            conn.request("POST", "/v1/completions", body=body, headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            if response.status != 200:
                raise RuntimeError(
                    f"vLLM server answered {response.status}: {response.read()[:500].decode(errors='replace')}"
                )
            return sent, parse_stream(iter(response.readline, b""))
        except OSError as exc:
            raise RuntimeError(f"vLLM request failed ({exc}); server: {self._tail()}") from None
        finally:
            conn.close()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class VLLMRuntime(Runtime):
    name = "vllm"
    description = "vLLM's OpenAI-compatible server (compressed-tensors, bitsandbytes, dense), out of process; GPU"
    native_formats = (
        "dense-float16",
        "dense-bfloat16",
        "dense-float32",
        "pack-quantized-w4",
        "pack-quantized-w8",
        "bitsandbytes-nf4",
    )
    extra = "vllm"
    devices = ("cuda",)
    priority = 20

    def unavailable(self, device: str) -> str | None:
        if find_spec("vllm") is None:
            return "it needs the 'vllm' package, which is not installed: pip install 'acf[vllm]' (GPU only)"
        return super().unavailable(device)

    def serve_command(self, path: Path) -> str:
        return f"vllm serve {path}"

    def deploy(self, model: Any, ctx: Any, fmt: str) -> "VLLMDeployment":
        # the candidate's Hugging Face folder (with its tokenizer), written once per content and shared
        return VLLMDeployment(ctx.artifact(model, "hf"), fmt, simulated=not self.runs_natively(fmt))


class VLLMDeployment(Deployment):
    runtime = "vllm"

    def __init__(
        self,
        folder: Path,
        fmt: str,
        simulated: bool,
        *,
        command: list[str] | None = None,
        port: int | None = None,
        vocab: int | None = None,
    ):
        self.folder, self.format, self.simulated = folder, fmt, simulated
        self.command, self.port = command, port  # a stand-in server's launch (tests)
        self.device = _cuda()  # the energy counter reads this device
        self.server: Server | None = None
        self.vocab = vocab or json.loads((folder / "config.json").read_text()).get("vocab_size", 32000)

    def _server(self) -> Server:
        if self.server is None:
            self.server = Server(self.folder, 4096, command=self.command, port=self.port)
        return self.server

    def weight_bytes(self) -> int:
        from acf.toolkit import tensor_bytes

        return tensor_bytes(self.folder)

    def _prompt(self, length: int, seed: int) -> list[int]:
        import random

        rng = random.Random(seed)
        return [rng.randrange(self.vocab) for _ in range(length)]

    def prefill_decode(self, prompt_len: int, new_tokens: int, seed: int) -> tuple[float, float]:
        sent, chunks = self._server().stream(self._prompt(prompt_len, seed), new_tokens + 1)
        if len(chunks) < 2:
            raise RuntimeError(f"vLLM streamed {len(chunks)} chunk(s) for {new_tokens + 1} tokens")
        first, last = chunks[0][0], chunks[-1][0]
        return first - sent, (len(chunks) - 1) / max(last - first, 1e-9)

    def generate_seconds(self, batch: int, prompt_len: int, new_tokens: int, seed: int) -> float:
        server, errors = self._server(), []

        def one(row: int) -> None:
            try:
                server.stream(self._prompt(prompt_len, seed + row), new_tokens)
            except RuntimeError as exc:
                errors.append(exc)

        threads = [threading.Thread(target=one, args=(row,)) for row in range(batch)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        return time.perf_counter() - started

    def peak_memory_bytes(self, prompt_len: int) -> int:
        """GPU memory the server process holds (NVML), after one prefill of `prompt_len` tokens."""
        import pynvml

        server = self._server()
        server.stream(self._prompt(prompt_len, 0), 1)
        pynvml.nvmlInit()
        used = 0
        for index in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            used += sum(
                p.usedGpuMemory or 0
                for p in pynvml.nvmlDeviceGetComputeRunningProcesses(handle)
                if p.pid in _family(server.proc.pid)
            )
        return used

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None


def _cuda():
    import torch

    return torch.device("cuda", 0)


def _family(pid: int) -> set[int]:
    """The process and its descendants (vLLM runs its engine in a child process)."""
    import psutil

    try:
        proc = psutil.Process(pid)
        return {pid, *(c.pid for c in proc.children(recursive=True))}
    except psutil.NoSuchProcess:
        return {pid}
