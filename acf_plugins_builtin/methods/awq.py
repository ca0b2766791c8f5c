"""AWQ weight quantization (llm-compressor's AWQModifier): activation-aware scaling, then round to nearest."""

from __future__ import annotations

from acf import Choice, Space, Stage

from .llmc import CALIBRATION, LLMCompressorMethod, require_llmcompressor, run_oneshot, weight_scheme


class AWQ(LLMCompressorMethod):
    name = "awq"
    description = "AWQ W{3,4,8}A16 via llm-compressor (autoawq is deprecated in its favour)"
    stage = Stage.QUANTIZE
    exclusive_stage = True

    def space(self, spec) -> Space:
        return Space(
            params=[
                Choice(name="bits", options=[4, 3, 8]),
                Choice(name="group_size", options=list(spec.valid_group_sizes)),
                Choice(name="symmetric", options=[False, True]),
                *CALIBRATION,
            ]
        )

    def apply(self, model, params, ctx):
        require_llmcompressor("the awq method")
        from llmcompressor.modifiers.quantization import QuantizationModifier
        from llmcompressor.modifiers.transform.awq import AWQModifier

        # AWQ searches per-channel scales against the quantizer that follows it, then that quantizer rounds.
        recipe = [
            AWQModifier(duo_scaling="both"),
            QuantizationModifier(
                config_groups=weight_scheme(params["bits"], params["group_size"], params["symmetric"]),
                ignore=["lm_head"],
            ),
        ]
        return run_oneshot(
            model, ctx, recipe, samples=params["samples"], seq_len=params["seq_len"], pin_workaround=True
        )
