"""A fresh process that loads a Hugging Face folder with transformers (safetensors only, no remote code) and scores
token ids: where `acf export` reloads a candidate measured on the `hf` runtime, as its user would load it.

Requests, one JSON object a line: `load` {path}, `score` {tokens} (log-probability of each token after the first).
Every reply is {"ok": true, ...} or {"ok": false, "error": "..."}.
"""

from __future__ import annotations

import sys

from acf_plugins_builtin.shared.process import serve


class Worker:
    def __init__(self):
        self.model = None

    def load(self, path: str) -> dict:
        import torch
        from transformers import AutoModelForCausalLM

        # device_map places quantized (bitsandbytes) weights as they load; fp32 on the CPU, as acf measures there
        device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype = "auto" if device == "cuda" else torch.float32
        self.model = AutoModelForCausalLM.from_pretrained(
            path, use_safetensors=True, dtype=dtype, device_map={"": device}, trust_remote_code=False
        )
        self.model.eval()
        return {"device": device}

    def score(self, tokens: list[int]) -> dict:
        import torch

        device = next(self.model.parameters()).device
        with torch.inference_mode():
            logits = self.model(input_ids=torch.tensor([tokens], device=device)).logits[0, :-1].float()
            logprobs = torch.log_softmax(logits, dim=-1)
            picked = logprobs[torch.arange(len(tokens) - 1), torch.tensor(tokens[1:], device=device)]
        return {"logprobs": picked.tolist()}


if __name__ == "__main__":
    sys.exit(serve(Worker()))
