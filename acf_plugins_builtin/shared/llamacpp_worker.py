"""The llama.cpp runtime process: JSON requests on stdin, one JSON reply per line on stdout.

Runs out of acf's process so that llama.cpp's memory is measured alone, and a crash or a hang costs one
episode, not the run. Requests (`op` and its arguments):

- `load` {path, n_ctx, threads, logits_all}: load a GGUF file (memory-mapped); `logits_all` keeps every
  position's logits (for scoring; a deployment keeps the last one only, as timed).
- `prefill_decode` {prompt_len, new_tokens, seed}: seconds of one prefill, then decode tokens/s (greedy).
- `generate_seconds` {batch, prompt_len, new_tokens, seed}: `batch` sequences prefilled and decoded in turn
  (llama-cpp-python runs one sequence at a time).
- `score` {tokens}: log-probability of each token after the first, from llama.cpp's logits.
- `generate` {tokens, max_new_tokens, stop}: greedy continuation token ids, ending at end-of-sequence or once the
  generated text holds a string of `stop`.
- `quantize` {source, target, type, threads}: llama.cpp's own quantizer (`llama_model_quantize`).
- `peak` {}: peak resident memory of this process since it started and before `load`, in bytes.

Every reply is {"ok": true, ...} or {"ok": false, "error": "..."}.
"""

from __future__ import annotations

import sys
import time

from acf_plugins_builtin.shared.process import serve

# llama.cpp's file types by the names `llama-quantize` prints (LLAMA_FTYPE_MOSTLY_*).
FTYPES = {
    "F32": "ALL_F32",
    "F16": "MOSTLY_F16",
    "Q8_0": "MOSTLY_Q8_0",
    "Q6_K": "MOSTLY_Q6_K",
    "Q5_K_M": "MOSTLY_Q5_K_M",
    "Q4_K_M": "MOSTLY_Q4_K_M",
    "Q3_K_M": "MOSTLY_Q3_K_M",
    "Q2_K": "MOSTLY_Q2_K",
    "Q4_0": "MOSTLY_Q4_0",
    "Q5_0": "MOSTLY_Q5_0",
}


def rss_bytes(field: str) -> int:
    """VmRSS (now) or VmHWM (peak) of this process, from /proc."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


class Worker:
    def __init__(self):
        self.llm = None
        self.before_load = rss_bytes("VmRSS")

    def load(self, path: str, n_ctx: int, threads: int, logits_all: bool = False) -> dict:
        from llama_cpp import Llama

        self.before_load = rss_bytes("VmRSS")
        self.llm = Llama(
            model_path=path,
            n_ctx=n_ctx,
            n_batch=min(n_ctx, 512),
            n_threads=threads,
            n_threads_batch=threads,
            logits_all=logits_all,
            verbose=False,
        )
        return {"n_vocab": self.llm.n_vocab()}

    def _prompt(self, length: int, seed: int) -> list[int]:
        import random

        rng = random.Random(seed)
        return [rng.randrange(self.llm.n_vocab()) for _ in range(length)]

    def _next(self) -> int:
        import numpy as np

        return int(np.argmax(self.llm.scores[self.llm.n_tokens - 1]))

    def _run(self, prompt: list[int], steps: int) -> tuple[float, float]:
        """Prefill `prompt` and decode `steps` more tokens greedily: (prefill s, total s)."""
        self.llm.reset()
        started = time.perf_counter()
        self.llm.eval(prompt)
        prefilled = time.perf_counter()
        for _ in range(steps):
            self.llm.eval([self._next()])
        return prefilled - started, time.perf_counter() - started

    def prefill_decode(self, prompt_len: int, new_tokens: int, seed: int) -> dict:
        prefill, total = self._run(self._prompt(prompt_len, seed), new_tokens)
        return {"prefill_s": prefill, "decode_tps": new_tokens / (total - prefill)}

    def generate_seconds(self, batch: int, prompt_len: int, new_tokens: int, seed: int) -> dict:
        prompts = [self._prompt(prompt_len, seed + row) for row in range(batch)]
        return {"seconds": sum(self._run(prompt, new_tokens - 1)[1] for prompt in prompts)}

    def score(self, tokens: list[int]) -> dict:
        import numpy as np

        self.llm.reset()
        self.llm.eval(tokens)
        logits = np.asarray(self.llm.scores[: len(tokens) - 1], dtype=np.float64)
        top = logits.max(axis=-1, keepdims=True)
        logz = top[:, 0] + np.log(np.exp(logits - top).sum(axis=-1))
        picked = logits[np.arange(len(tokens) - 1), tokens[1:]]
        return {"logprobs": (picked - logz).tolist()}

    def generate(self, tokens: list[int], max_new_tokens: int, stop: list[str]) -> dict:
        self.llm.reset()
        self.llm.eval(tokens)
        out: list[int] = []
        for _ in range(max_new_tokens):
            token = self._next()
            if token == self.llm.token_eos():
                break
            out.append(token)
            text = self.llm.detokenize(out).decode("utf-8", errors="ignore")
            if any(s in text for s in stop) or len(tokens) + len(out) >= self.llm.n_ctx():
                break
            self.llm.eval([token])
        return {"tokens": out}

    def quantize(
        self, source: str, target: str, type: str, threads: int, imatrix: str | None = None, tensor_types=None
    ) -> dict:
        """llama.cpp's quantizer: the file type `type`, with the importance matrix in the `.npz` file `imatrix`
        (GGUF tensor name → per-column importance) and `tensor_types` ([regex, GGML type name], …: what
        `llama-quantize --tensor-type` does) where given."""
        import ctypes

        import llama_cpp

        if type not in FTYPES:
            raise ValueError(f"unknown GGUF type {type!r}; known: {', '.join(FTYPES)}")
        params = llama_cpp.llama_model_quantize_default_params()
        params.ftype = getattr(llama_cpp, f"LLAMA_FTYPE_{FTYPES[type]}")
        params.nthread = threads
        keep = []  # the arrays llama.cpp reads must outlive the call
        if imatrix:
            import numpy as np

            stored = np.load(imatrix)
            entries = (llama_cpp.llama_model_imatrix_data * (len(stored.files) + 1))()  # NULL-name terminated
            for i, name in enumerate(stored.files):
                values = np.ascontiguousarray(stored[name], dtype=np.float32)
                keep.append(values)
                entries[i].name, entries[i].size = name.encode(), values.size
                entries[i].data = values.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
            params.imatrix = ctypes.cast(entries, ctypes.POINTER(llama_cpp.llama_model_imatrix_data))
            keep.append(entries)
        if tensor_types:
            overrides = (llama_cpp.llama_model_tensor_override * (len(tensor_types) + 1))()  # NULL-terminated
            for i, (pattern, ggml_type) in enumerate(tensor_types):
                overrides[i].pattern, overrides[i].type = pattern.encode(), getattr(llama_cpp, f"GGML_TYPE_{ggml_type}")
            params.tt_overrides = ctypes.cast(overrides, ctypes.POINTER(llama_cpp.llama_model_tensor_override))
            keep.append(overrides)
        code = llama_cpp.llama_model_quantize(source.encode(), target.encode(), params)
        if code != 0:
            raise RuntimeError(f"llama_model_quantize returned {code}")
        return {}

    def peak(self) -> dict:
        return {"peak_bytes": rss_bytes("VmHWM"), "before_load_bytes": self.before_load}


if __name__ == "__main__":
    sys.exit(serve(Worker()))
