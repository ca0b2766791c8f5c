"""SparseGPT and Wanda pruning (llm-compressor): unstructured or N:M sparsity, calibrated."""

from __future__ import annotations

from acf import Choice, Float, Space, Stage

from .llmc import CALIBRATION, LLMCompressorMethod, require_llmcompressor, run_oneshot


def sparsity_space() -> list:
    return [
        Choice(name="mask", options=["unstructured", "2:4", "4:8"], help="free sparsity, or N of every M weights kept"),
        Float(name="sparsity", low=0.1, high=0.8, default=0.5, when={"mask": ["unstructured"]}),
    ]


def mask_args(params) -> dict:
    if params["mask"] == "unstructured":
        return {"sparsity": params["sparsity"], "mask_structure": "0:0"}
    n, m = params["mask"].split(":")
    return {"sparsity": 1 - int(n) / int(m), "mask_structure": params["mask"]}


class SparseGPT(LLMCompressorMethod):
    name = "sparsegpt"
    description = "SparseGPT pruning via llm-compressor (unstructured, 2:4, 4:8)"
    stage = Stage.PRUNE

    def space(self, spec) -> Space:
        return Space(
            params=[
                *sparsity_space(),
                Float(name="dampening", low=0.001, high=0.1, log=True, default=0.01),
                *CALIBRATION,
            ]
        )

    def apply(self, model, params, ctx):
        require_llmcompressor("the sparsegpt method")
        from llmcompressor.modifiers.pruning import SparseGPTModifier

        recipe = SparseGPTModifier(
            **mask_args(params), dampening_frac=params["dampening"], targets=["Linear"], ignore=["lm_head"]
        )
        return run_oneshot(model, ctx, recipe, samples=params["samples"], seq_len=params["seq_len"])


class Wanda(LLMCompressorMethod):
    name = "wanda"
    description = "Wanda pruning (|weight| × input norm) via llm-compressor (unstructured, 2:4, 4:8)"
    stage = Stage.PRUNE

    def space(self, spec) -> Space:
        return Space(params=[*sparsity_space(), *CALIBRATION])

    def apply(self, model, params, ctx):
        require_llmcompressor("the wanda method")
        from llmcompressor.modifiers.pruning import WandaPruningModifier

        recipe = WandaPruningModifier(**mask_args(params), targets=["Linear"], ignore=["lm_head"])
        return run_oneshot(model, ctx, recipe, samples=params["samples"], seq_len=params["seq_len"])
