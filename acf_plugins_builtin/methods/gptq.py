"""GPTQ weight quantization (llm-compressor's GPTQModifier): error-compensating, calibrated."""

from __future__ import annotations

from acf import Choice, Float, Space, Stage

from .llmc import CALIBRATION, LLMCompressorMethod, require_llmcompressor, run_oneshot, weight_scheme


class GPTQ(LLMCompressorMethod):
    name = "gptq"
    description = "GPTQ W{2,3,4,8}A16 via llm-compressor (compressed-tensors export)"
    stage = Stage.QUANTIZE
    exclusive_stage = True

    def space(self, spec) -> Space:
        return Space(
            params=[
                Choice(name="bits", options=[4, 3, 8, 2]),
                Choice(name="group_size", options=list(spec.valid_group_sizes)),
                Choice(name="symmetric", options=[True, False]),
                Float(name="dampening", low=0.001, high=0.1, log=True, default=0.01, help="Hessian dampening fraction"),
                Choice(name="actorder", options=["static", "none"], help="quantize columns by activation order"),
                *CALIBRATION,
            ]
        )

    def apply(self, model, params, ctx):
        require_llmcompressor("the gptq method")
        from llmcompressor.modifiers.quantization import GPTQModifier

        recipe = GPTQModifier(
            config_groups=weight_scheme(params["bits"], params["group_size"], params["symmetric"], params["actorder"]),
            ignore=["lm_head"],
            dampening_frac=params["dampening"],
        )
        return run_oneshot(model, ctx, recipe, samples=params["samples"], seq_len=params["seq_len"])
