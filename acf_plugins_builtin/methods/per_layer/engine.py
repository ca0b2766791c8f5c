"""Candidates of one model assembled from the database and scored by their KL divergence to the uncompressed model
on calibration tokens, at two fidelities (a few sequences to screen, all of them for survivors)."""

from __future__ import annotations

from typing import Any

from .database import Database
from .units import Level


class Engine:
    """One working copy of the model whose units are switched between levels; `kl(allocation, n)` scores an
    allocation on the first `n` token sequences (the uncompressed model's log-probabilities kept in float16)."""

    def __init__(
        self,
        model: Any,
        db: Database,
        unit_modules: dict[str, list[str]],
        levels: dict[str, Level],
        sequences: list[Any],
    ):
        import copy

        import torch

        self.work = copy.deepcopy(model).eval()
        self.db, self.unit_modules, self.levels, self.sequences = db, unit_modules, levels, sequences
        self.named = dict(self.work.named_modules())
        self.original = {n: self.named[n].weight.detach().clone() for names in unit_modules.values() for n in names}
        self.current = {key: "keep" for key in unit_modules}
        self.evaluations = 0
        self.tokens = 0
        with torch.inference_mode():
            self.reference = [torch.log_softmax(model(input_ids=ids).logits.float(), -1).half() for ids in sequences]

    def assemble(self, allocation: dict[str, str]) -> Any:
        import torch

        with torch.no_grad():
            for key, names in self.unit_modules.items():
                level = allocation.get(key, "keep")
                if self.current[key] == level:
                    continue
                for name in names:
                    weight = self.named[name].weight
                    source = (
                        self.original[name]
                        if level == "keep"
                        else self.db.weight(name, self.levels[level], weight.dtype)
                    )
                    weight.copy_(source)
                self.current[key] = level
        return self.work

    def kl(self, allocation: dict[str, str], n: int) -> float:
        """Mean per-token KL(uncompressed ‖ candidate) over the first `n` sequences."""
        import torch

        model = self.assemble(allocation)
        total, count = 0.0, 0
        with torch.inference_mode():
            for ids, ref in zip(self.sequences[:n], self.reference[:n]):
                logp = torch.log_softmax(model(input_ids=ids).logits.float(), -1)
                p = ref.float()
                total += float((p.exp() * (p - logp)).sum())
                count += ids.numel()
        self.evaluations += 1
        self.tokens += count
        return total / max(count, 1)
