"""LoRA recovery (peft) after pruning or distillation, and QLoRA on an NF4 base; adapters are merged.

Merging LoRA into a pruned weight would fill its zeros, so the pruning masks are applied again after the
merge (sparsity-preserving recovery). QLoRA merges through peft's 4-bit path (dequantize, add, requantize).
"""

from __future__ import annotations

import importlib.util
from typing import Any

from acf import Choice, Float, Method, MissingBackendError, Space, Stage

from .distill import training_estimate
from .training import reapply_masks, sparsity_masks, train

TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "c_attn", "c_proj", "c_fc")


def _missing() -> str | None:
    if importlib.util.find_spec("peft") is None:
        return "peft is not installed: pip install 'acf[lora]'"
    return None


def target_modules(model: Any) -> list[str]:
    present = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    found = [t for t in TARGETS if t in present]
    if not found:
        raise TypeError(f"no LoRA target layers found in {type(model).__name__}")
    return found


class LoRA(Method):
    backends = ("peft",)
    name = "lora"
    description = "LoRA adapters trained to recover accuracy (distillation or LM loss), then merged (peft)"
    stage = Stage.RECOVER
    exclusive_stage = True

    def applies_to(self, spec):
        return _missing()

    def space(self, spec) -> Space:
        return Space(
            params=[
                Choice(name="rank", options=[4, 8, 16], default=8),
                Choice(name="alpha_ratio", options=[1, 2], default=2, help="lora_alpha = rank × alpha_ratio"),
                Choice(name="steps", options=[10, 25, 50, 100], default=25),
                Float(name="lr", low=1e-4, high=1e-2, log=True, default=1e-3),
                Choice(name="loss", options=["kd", "lm"], help="distillation from the teacher, or next-token loss"),
                Choice(name="samples", options=[32, 64], default=32),
                Choice(name="seq_len", options=[128, 256], default=256),
            ]
        )

    def estimate(self, spec, params):
        return training_estimate(spec, params, trainable_fraction=0.05)

    def _train(self, model: Any, params: dict[str, Any], ctx) -> Any:
        from peft import LoraConfig, get_peft_model

        config = LoraConfig(
            r=params["rank"],
            lora_alpha=params["rank"] * params["alpha_ratio"],
            lora_dropout=0.0,
            target_modules=target_modules(model),
            bias="none",
            task_type="CAUSAL_LM",
        )
        peft_model = get_peft_model(model, config)
        trainable = [p for n, p in peft_model.named_parameters() if "lora_" in n]
        losses = train(
            peft_model,
            ctx,
            trainable,
            steps=params["steps"],
            lr=params["lr"],
            loss=params["loss"],
            samples=params["samples"],
            seq_len=params["seq_len"],
        )
        merged = peft_model.merge_and_unload()
        ctx.record(training_loss=losses)
        merged.eval()
        return merged

    def apply(self, model: Any, params: dict[str, Any], ctx) -> Any:
        if _missing():
            raise MissingBackendError("peft", "lora", f"the {self.name} method")
        masks = sparsity_masks(model)
        merged = self._train(model, params, ctx)
        reapply_masks(merged, masks)
        return merged


class QLoRA(LoRA):
    name = "qlora"
    backends = ("peft", "bitsandbytes")
    description = "QLoRA: LoRA adapters trained on an NF4/FP4 base, merged back into 4-bit weights (peft)"
    stage = Stage.QUANTIZED_RECOVER

    def may_follow(self, previous: tuple[str, ...]) -> str | None:
        return None if "nf4" in previous else "qlora needs an nf4 step before it"

    def apply(self, model: Any, params: dict[str, Any], ctx) -> Any:
        if _missing():
            raise MissingBackendError("peft", "lora", "the qlora method")
        from .bnb import keep_standard_4bit_layout

        for p in model.parameters():
            p.requires_grad_(False)
        merged = self._train(model, params, ctx)
        keep_standard_4bit_layout(merged)
        return merged
