"""A per-run database of quantized tensors: every linear of the allocation's units quantized once at each level
(int8 codes and float16 scales), so a candidate is assembled by dequantizing, not by quantizing again. RTN levels
are rounded directly; GPTQ levels are calibrated once each, on the whole model at that level (as EvoPress builds
its database), and a mixed candidate takes each layer's codes from its own level's pass."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from ..packing import Grid, quantize_grid
from .units import Level

SCALE_BYTES = 2


def database_bytes(weights: int, levels: list[Level], in_features: int) -> int:
    """Memory the database takes for `weights` parameters at every quantized level: a byte per code and a
    float16 scale per group (`in_features` bounds a per-channel level's groups)."""
    total = 0
    for level in levels:
        if level.grid is not None:
            group = in_features if level.grid.group_size == -1 else level.grid.group_size
            total += weights + weights // group * SCALE_BYTES
    return total


def codes(weight: Any, scale: Any, grid: Grid) -> Any:
    """The integer codes of `weight` on `grid` with `scale` [out, groups] (symmetric)."""
    import torch

    out, cols = weight.shape
    group = cols if grid.group_size == -1 else grid.group_size
    q = torch.round(weight.detach().float().reshape(out, cols // group, group) / scale.float()[..., None])
    qmax = 2 ** (grid.bits - 1) - 1
    return q.clamp(-(qmax + 1), qmax).to(torch.int8).reshape(out, cols)


class Database:
    """Codes and scales per (module name, level name), built level by level on first use."""

    def __init__(self, source: str, modules: list[str]):
        self.source, self.modules = source, modules
        self.entries: dict[tuple[str, str], tuple[Any, Any]] = {}
        self.built: set[str] = set()

    def ensure(self, model: Any, levels: list[Level], ctx: Any, calibration: dict[str, int]) -> None:
        for level in levels:
            if level.grid is not None and level.name not in self.built:
                with ctx.progress.task(f"per-layer database: {level.name} ({self.source})", total=None):
                    build = self._gptq if self.source == "gptq" else self._rtn
                    build(model, level, ctx, calibration)
                self.built.add(level.name)

    def _rtn(self, model: Any, level: Level, ctx: Any, calibration: dict[str, int]) -> None:
        modules = dict(model.named_modules())
        for name in self.modules:
            _, scale, _ = quantize_grid(modules[name].weight, level.grid)
            self.entries[(name, level.name)] = codes(modules[name].weight, scale, level.grid), scale

    def _gptq(self, model: Any, level: Level, ctx: Any, calibration: dict[str, int]) -> None:
        import torch

        from ..llmc import require_llmcompressor, run_oneshot, weight_scheme

        require_llmcompressor("per_layer with source=gptq")
        from llmcompressor.modifiers.quantization import GPTQModifier

        work = copy.deepcopy(model)
        recipe = GPTQModifier(
            config_groups=weight_scheme(level.grid.bits, level.grid.group_size, True, "static"),
            targets=["Linear"],
            ignore=["lm_head"],
            dampening_frac=0.01,
        )
        saved = ctx.records
        ctx.records = type(saved)()  # the pass records nothing for the candidate
        try:
            run_oneshot(work, ctx, recipe, samples=calibration["samples"], seq_len=calibration["seq_len"])
        finally:
            ctx.records = saved
        modules = dict(work.named_modules())
        for name in self.modules:  # GPTQ's codes on its float32 scales; stored, and dequantized, with float16 ones
            module = modules[name]
            scale32 = module.weight_scale.detach().reshape(module.weight.shape[0], -1)
            self.entries[(name, level.name)] = codes(module.weight, scale32, level.grid), scale32.to(torch.float16)
        del work

    def weight(self, name: str, level: Level, dtype: Any) -> Any:
        """The dequantized weight of module `name` at `level` (codes × float16 scales), in `dtype`."""
        q, scale = self.entries[(name, level.name)]
        out, cols = q.shape
        groups = scale.shape[1]
        deq = q.float().reshape(out, groups, cols // groups) * scale.float()[..., None]
        return deq.reshape(out, cols).to(dtype)

    def scale(self, name: str, level: Level) -> Any:
        return self.entries[(name, level.name)][1]

    def nbytes(self) -> int:
        return sum(q.numel() * q.element_size() + s.numel() * s.element_size() for q, s in self.entries.values())

    def save(self, path: Path) -> None:
        """Write the built levels to one safetensors file (codes and scales per module and level)."""
        from safetensors.torch import save_file

        tensors = {}
        for (name, level), (q, scale) in self.entries.items():
            tensors[f"{level}/{name}/codes"], tensors[f"{level}/{name}/scales"] = q.contiguous(), scale.contiguous()
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file(tensors, str(path), metadata={"source": self.source, "levels": ",".join(sorted(self.built))})

    def load(self, path: Path) -> None:
        """Add the levels a `save`d file holds."""
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            for key in f.keys():
                level, rest = key.split("/", 1)
                name, part = rest.rsplit("/", 1)
                if part == "codes":
                    self.entries[(name, level)] = f.get_tensor(key), f.get_tensor(f"{level}/{name}/scales")
                    self.built.add(level)
