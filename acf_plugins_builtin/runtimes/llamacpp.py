"""The `llama.cpp` runtime: GGUF files run by llama.cpp (through llama-cpp-python) in a process of their own —
what CPU users deploy.

Native for GGUF candidates (the `gguf` method's types). With `--runtime llama.cpp` a dense candidate is written as
an F32 GGUF and measured natively; a candidate quantized in simulation is written with its dequantized weights and
its cost is marked simulated. A runtime process that dies or does not answer within `timeout_s` fails that
episode with the reason; the run goes on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from acf import Deployment, Runtime
from acf_plugins_builtin.shared.gguf_file import write_gguf
from acf_plugins_builtin.shared.llamacpp_process import FULL, GGUF_TYPES, llama_cpp_missing, llama_cpp_process, threads
from acf_plugins_builtin.shared.process import RuntimeProcess

# Context the runtime is loaded with for scoring (reloaded longer when a sequence needs it).
SCORING_CTX = 2048


class LlamaCppRuntime(Runtime):
    name = "llama.cpp"
    description = "GGUF files on llama.cpp (llama-cpp-python), in a process of their own; CPU"
    native_formats = tuple(f"gguf-{t}" for t in GGUF_TYPES + FULL)
    extra = "llamacpp"
    devices = ("cpu",)
    priority = 10

    def unavailable(self, device: str) -> str | None:
        return llama_cpp_missing() or super().unavailable(device)

    def load(self, path: Path, fmt: str) -> "LlamaCppDeployment":
        return LlamaCppDeployment(Path(path), fmt, simulated=False)  # in a worker process of its own

    def serve_command(self, path: Path) -> str:
        # llama-cpp-python's OpenAI-compatible server (its `server` extra), or llama.cpp's own binary
        return f"python -m llama_cpp.server --model {path}   or   llama-server -m {path}"

    def deploy(self, model: Any, ctx: Any, fmt: str) -> "LlamaCppDeployment":
        if fmt.startswith("gguf-"):
            path = ctx.checkpoint(model)
        else:  # not made by the `gguf` method: the weights as they are, at full precision (written once per content)
            path = (
                ctx.artifact(
                    model,
                    "gguf-F32",
                    build=lambda folder: write_gguf(model, Path(ctx.spec.path), folder / "model-F32.gguf"),
                )
                / "model-F32.gguf"
            )
        native = fmt.startswith("gguf-") or fmt.startswith("dense-")
        return LlamaCppDeployment(Path(path), fmt, simulated=not native)


class LlamaCppDeployment(Deployment):
    runtime = "llama.cpp"
    scores_tokens = True

    def __init__(self, path: Path, fmt: str, simulated: bool):
        import torch

        self.path, self.format, self.simulated = path, fmt, simulated
        self.device = torch.device("cpu")
        self.process: RuntimeProcess | None = None
        self.n_ctx, self.scoring = 0, False

    def _loaded(self, n_ctx: int, scoring: bool = False) -> RuntimeProcess:
        """The worker with the file loaded for at least `n_ctx` tokens, keeping every position's logits when
        `scoring` (reloaded when a longer context or the other mode is needed)."""
        if self.process is None or n_ctx > self.n_ctx or scoring != self.scoring:
            if self.process is not None:
                self.process.close()
            self.process, self.n_ctx, self.scoring = llama_cpp_process(), max(n_ctx, 512), scoring
            self.process.request("load", path=str(self.path), n_ctx=self.n_ctx, threads=threads(), logits_all=scoring)
        return self.process

    def weight_bytes(self) -> int:
        from acf.toolkit import tensor_bytes

        return tensor_bytes(self.path)

    def prefill_decode(self, prompt_len: int, new_tokens: int, seed: int) -> tuple[float, float]:
        reply = self._loaded(prompt_len + new_tokens + 1).request(
            "prefill_decode", prompt_len=prompt_len, new_tokens=new_tokens, seed=seed
        )
        return reply["prefill_s"], reply["decode_tps"]

    def generate_seconds(self, batch: int, prompt_len: int, new_tokens: int, seed: int) -> float:
        return self._loaded(prompt_len + new_tokens + 1).request(
            "generate_seconds", batch=batch, prompt_len=prompt_len, new_tokens=new_tokens, seed=seed
        )["seconds"]

    def score_tokens(self, tokens: list[int]) -> list[float]:
        return self._loaded(max(len(tokens), SCORING_CTX), scoring=True).request("score", tokens=list(tokens))[
            "logprobs"
        ]

    def generate_tokens(self, tokens: list[int], max_new_tokens: int, stop: list[str]) -> list[int]:
        return self._loaded(max(len(tokens) + max_new_tokens, SCORING_CTX), scoring=True).request(
            "generate", tokens=list(tokens), max_new_tokens=max_new_tokens, stop=stop
        )["tokens"]

    def peak_memory_bytes(self, prompt_len: int) -> int:
        """Peak resident memory of a fresh runtime process that loads the file and runs one prefill, above what
        the process held before loading (the interpreter and the library)."""
        fresh = llama_cpp_process()
        try:
            fresh.request("load", path=str(self.path), n_ctx=max(prompt_len + 1, 32), threads=threads())
            fresh.request("prefill_decode", prompt_len=prompt_len, new_tokens=1, seed=0)
            reply = fresh.request("peak")
        finally:
            fresh.close()
        return reply["peak_bytes"] - reply["before_load_bytes"]

    def close(self) -> None:
        if self.process is not None:
            self.process.close()
            self.process = None
