"""The `per_layer` method: a quantization level per decoder block and projection group."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from acf import Choice, Method, Resources, Space, Stage
from acf.toolkit import family_of, unsupported_family

from ..calibration import calibration_chunks
from ..llmc import llmcompressor_missing
from ..packing import compressed_tensors_missing, save_packed
from .allocate import Allocator
from .database import Database, database_bytes
from .units import average_bits, levels_for, unit_modules, units_of

SOURCES = ("gptq", "rtn")
# GPTQ's calibration for every level of the database (as benchmarks/per_layer.py), and the KL search's text.
CALIBRATION = {"samples": 32, "seq_len": 512}
KL_SEQUENCES, SCREEN_SEQUENCES, SEQ_LEN = 8, 2, 512
# Candidate evaluations the allocation search spends on a suggestion at a run's budget (the benchmark: 200),
# and the budgets the prior suggests when the run sets none.
SUGGEST_EVALUATIONS = 48
DEFAULT_BUDGETS = (3.0, 3.5, 4.25)


class PerLayer(Method):
    name = "per_layer"
    description = (
        "a quantization level per decoder block and projection group (2–8 bits or kept), assembled from a "
        "per-run database of GPTQ- or RTN-quantized tensors; exported as mixed-precision compressed-tensors"
    )
    stage = Stage.QUANTIZE
    exclusive_stage = True
    in_default_runs = False  # its database (one calibrated pass per level) is worth building only when asked for
    backends = ("compressed-tensors", "llmcompressor")

    def applies_to(self, spec) -> str | None:
        return unsupported_family(spec.model_type, "per_layer") or compressed_tensors_missing()

    def space(self, spec) -> Space:
        levels = [lv.name for lv in levels_for(spec)]
        default = next(n for n in levels if n.startswith("4g")) if any(n.startswith("4g") for n in levels) else "4ch"
        sources = [s for s in SOURCES if not (s == "gptq" and llmcompressor_missing())]
        return Space(
            params=[
                Choice(name="source", options=sources, help="how the database's tensors are quantized"),
                *(
                    Choice(name=u.key, options=levels, default=default, help=f"level of block {u.layer}'s {u.group}")
                    for u in units_of(spec)
                ),
            ]
        )

    def lowest(self, spec, metric: str) -> float | None:
        if metric != "effective_bits":
            return None
        units, levels = units_of(spec), [lv for lv in levels_for(spec) if lv.grid is not None]
        cheapest = {u.key: min(levels, key=lambda lv: lv.bits(u, 0)).name for u in units}
        return average_bits(cheapest, units, {lv.name: lv for lv in levels}, 0)

    def estimate(self, spec, params) -> Resources:
        units, levels = units_of(spec), levels_for(spec)
        weights = sum(u.weights for u in units)
        used = [lv for lv in levels if lv.name in {params.get(u.key) for u in units}] or levels
        memory = database_bytes(weights, used, spec.hidden_size)
        levels = len([lv for lv in used if lv.grid])
        note = f"the per-layer database: {levels} level(s) of {weights / 1e6:.0f}M weights, {memory / 1e9:.2f} GB"
        # An episode assembles its candidate from the database; the database itself (one calibrated pass per level
        # for GPTQ) is built once per run — by the suggestions before the first episode, or by the first episode
        # that needs a level — and is the run's time, not an episode's.
        return Resources(peak_memory_bytes=memory + 4 * weights, seconds=spec.num_parameters / 2e8, note=note)

    def database(self, model: Any, source: str, ctx: Any, names: list[str]) -> Database:
        """The run's database for this model's weights (by content) and source, built level by level on demand."""
        from acf.toolkit import content_hash

        key = ("per_layer_database", source, content_hash(model, {}, []))
        if key not in ctx.memo:
            for old in [k for k in ctx.memo if isinstance(k, tuple) and k[:1] == ("per_layer_database",)]:
                del ctx.memo[old]  # one database per run at a time: another model's would only hold memory
            ctx.memo[key] = Database(source, names)
        return ctx.memo[key]

    def apply(self, model: Any, params: dict[str, Any], ctx) -> Any:
        import torch

        family = family_of(ctx.spec.model_type)
        modules = unit_modules(model, family)
        units = [u for u in units_of(ctx.spec) if u.key in modules]  # a model with dropped blocks has fewer
        levels = {lv.name: lv for lv in levels_for(ctx.spec)}
        db = self.database(model, params["source"], ctx, [n for names in modules.values() for n in names])
        db.ensure(model, [levels[params[u.key]] for u in units], ctx, CALIBRATION)
        named = dict(model.named_modules())
        packed = ctx.records.packed
        with torch.no_grad():
            for u in units:
                level = levels[params[u.key]]
                if level.grid is None:
                    continue
                for name in modules[u.key]:
                    weight = named[name].weight
                    weight.copy_(db.weight(name, level, weight.dtype))
                    packed[name] = (level.grid, db.scale(name, level), None)
                    ctx.set_tensor_format(f"{name}.weight", level.grid.tensor_format())
        dtype_bits = 8 * next(model.parameters()).element_size()
        ctx.record(
            allocation={u.key: params[u.key] for u in units},
            allocation_bits=round(average_bits({u.key: params[u.key] for u in units}, units, levels, dtype_bits), 4),
            database_mb=round(db.nbytes() / 1e6, 1),
        )
        return model

    def write(self, model: Any, folder: Path, ctx) -> bool:
        return save_packed(model, folder, ctx)

    def suggest(self, model: Any, ctx, budgets: dict[str, float]) -> list[dict[str, Any]]:
        """At a run's `effective_bits` budget: acf's per-layer search (the sensitivity prior refined on KL
        divergence, `SUGGEST_EVALUATIONS` candidates); without one, the prior at each of `DEFAULT_BUDGETS`."""
        import torch

        source = self.space(ctx.spec).get("source").options[0]
        family = family_of(ctx.spec.model_type)
        modules = unit_modules(model, family)
        units = [u for u in units_of(ctx.spec) if u.key in modules]
        levels = levels_for(ctx.spec)
        sequences = [torch.tensor([ids]) for ids in calibration_chunks(ctx, KL_SEQUENCES, SEQ_LEN)]
        db = self.database(model, source, ctx, [n for names in modules.values() for n in names])
        allocator = Allocator(
            model, db, units, levels, modules, sequences, ctx, CALIBRATION, 8 * next(model.parameters()).element_size()
        )
        if "effective_bits" in budgets:
            found = allocator.search(
                budgets["effective_bits"],
                evaluations=SUGGEST_EVALUATIONS,
                screen=min(SCREEN_SEQUENCES, len(sequences)),
                seed=ctx.seed,
            )
            allocations = [found.levels]
        else:
            lowest = self.lowest(ctx.spec, "effective_bits")
            allocations = [allocator.prior(b) for b in DEFAULT_BUDGETS if b >= lowest]
        del allocator
        return [{"source": source, **a} for a in allocations]
