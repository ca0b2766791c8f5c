"""GPTQ weight quantization (llm-compressor's GPTQModifier): error-compensating, calibrated."""

from __future__ import annotations

from acf import Choice, Float, Method, Space, Stage

from .llmc import calibration_estimate, llmcompressor_missing, require_llmcompressor, run_oneshot, weight_scheme

CALIBRATION = [Choice(name="samples", options=[16, 32, 64, 128], default=32, help="calibration texts"),
               Choice(name="seq_len", options=[256, 512], default=512, help="tokens per calibration text")]


class GPTQ(Method):
    name = "gptq"
    description = "GPTQ W{2,3,4,8}A16 via llm-compressor (compressed-tensors export)"
    stage = Stage.QUANTIZE
    exclusive_stage = True
    needs_calibration = True
    effect = "quantize"

    def space(self, spec) -> Space:
        return Space(params=[
            Choice(name="bits", options=[4, 3, 8, 2]),
            Choice(name="group_size", options=list(spec.valid_group_sizes)),
            Choice(name="symmetric", options=[True, False]),
            Float(name="dampening", low=0.001, high=0.1, log=True, default=0.01, help="Hessian dampening fraction"),
            Choice(name="actorder", options=["static", "none"], help="quantize columns by activation order"),
            *CALIBRATION,
        ])

    def applies_to(self, spec):
        return llmcompressor_missing()

    def estimate(self, spec, params):
        return calibration_estimate(spec, params)

    def apply(self, model, params, ctx):
        require_llmcompressor("the gptq method")
        from llmcompressor.modifiers.quantization import GPTQModifier

        recipe = GPTQModifier(
            config_groups=weight_scheme(params["bits"], params["group_size"], params["symmetric"], params["actorder"]),
            ignore=["lm_head"], dampening_frac=params["dampening"],
        )
        return run_oneshot(model, ctx, recipe, samples=params["samples"], seq_len=params["seq_len"])
