"""Knowledge distillation from the uncompressed teacher, and progressive pruning with distillation between stages."""

from __future__ import annotations

from typing import Any

from acf import Choice, Float, Method, Resources, Space, Stage
from acf.toolkit import compressible_linears

from .calibration import CPU_FLOPS
from .magnitude import prune_magnitude
from .training import sparsity_masks, train

TRAINING = [
    Choice(name="steps", options=[10, 25, 50, 100], default=25, help="optimizer steps (batches of 4 texts)"),
    Float(name="lr", low=1e-5, high=1e-3, log=True, default=1e-4),
    Choice(name="samples", options=[32, 64], default=32),
    Choice(name="seq_len", options=[128, 256], default=256),
]


BATCH = 4


def training_estimate(spec, params, trainable_fraction: float = 1.0) -> Resources:
    """Weights + gradients + two Adam moments for what trains, plus activations; time from ~8 FLOPs per parameter
    and token (student forward and backward, teacher forward)."""
    weights = spec.memory_bytes["float32"]
    tokens = BATCH * params.get("seq_len", 256)
    activations = 4 * tokens * (spec.hidden_size * 12 * spec.num_layers + spec.vocab_size * 2)
    return Resources(
        peak_memory_bytes=int(weights * 3 * trainable_fraction) + activations,
        seconds=params.get("steps", 25) * 8 * spec.num_parameters * tokens / CPU_FLOPS,
    )


def student_parameters(model: Any):
    """Every parameter except the embeddings (tied to the output head in most small models)."""
    embeddings = {id(p) for p in model.get_input_embeddings().parameters()}
    return [p for p in model.parameters() if id(p) not in embeddings]


class Distill(Method):
    name = "distill"
    description = "logit distillation (KL at a temperature, optional hidden-state MSE) from the uncompressed teacher"
    stage = Stage.DISTILL

    def space(self, spec) -> Space:
        return Space(
            params=[
                *TRAINING,
                Float(name="temperature", low=1.0, high=4.0, default=2.0),
                Choice(name="hidden_weight", options=[0.0, 0.5], help="weight of the last hidden state's MSE"),
            ]
        )

    def estimate(self, spec, params):
        return training_estimate(spec, params)

    def apply(self, model: Any, params: dict[str, Any], ctx) -> Any:
        ctx.record(training_loss=distill(model, ctx, params, hidden_weight=params["hidden_weight"]))
        model.eval()
        return model


class ProgressiveDistill(Method):
    name = "progressive"
    description = "prune by magnitude in stages, distilling from the teacher after each stage"
    stage = Stage.PRUNE

    def space(self, spec) -> Space:
        return Space(
            params=[
                Float(name="sparsity", low=0.2, high=0.8, default=0.5, help="final sparsity of every linear layer"),
                Choice(name="stages", options=[2, 3, 4], default=2),
                *TRAINING,
                Float(name="temperature", low=1.0, high=4.0, default=2.0),
            ]
        )

    def estimate(self, spec, params):
        estimate = training_estimate(spec, params)
        return estimate.model_copy(update={"seconds": estimate.seconds * params.get("stages", 2)})

    def apply(self, model: Any, params: dict[str, Any], ctx) -> Any:
        import torch

        losses = []
        for stage in range(1, params["stages"] + 1):
            with torch.no_grad():
                for _, module in compressible_linears(model):
                    prune_magnitude(module.weight, params["sparsity"] * stage / params["stages"], "layer")
            losses += distill(model, ctx, params)
        ctx.record(training_loss=losses)
        model.eval()
        return model


def distill(model: Any, ctx: Any, params: dict[str, Any], hidden_weight: float = 0.0) -> list[float]:
    """Train the whole student toward the teacher (KL at `params["temperature"]`, plus hidden-state MSE weighted by
    `hidden_weight`) with the step's training parameters; pruned weights stay zero. The loss per step."""
    return train(
        model,
        ctx,
        student_parameters(model),
        steps=params["steps"],
        lr=params["lr"],
        loss="kd",
        temperature=params["temperature"],
        hidden_weight=hidden_weight,
        samples=params["samples"],
        seq_len=params["seq_len"],
        masks=sparsity_masks(model),
    )
