"""Short training loops shared by distillation and LoRA: batches, losses, and keeping pruned weights at zero."""

from __future__ import annotations

from typing import Any, Iterable

from .calibration import calibration_ids


def sparsity_masks(model: Any, threshold: float = 0.01) -> dict[str, Any]:
    """Masks of the Linear weights that a pruning step zeroed (more than `threshold` of them are zero)."""
    import torch

    masks = {}
    for name, module in model.named_modules():
        weight = getattr(module, "weight", None)
        if isinstance(module, torch.nn.Linear) and weight is not None and weight.dtype.is_floating_point:
            zeros = weight == 0
            if zeros.float().mean().item() > threshold:
                masks[name] = ~zeros
    return masks


def reapply_masks(model: Any, masks: dict[str, Any]) -> None:
    import torch

    modules = dict(model.named_modules())
    with torch.no_grad():
        for name, keep in masks.items():
            modules[name].weight.mul_(keep)


def batches(ctx: Any, samples: int, seq_len: int, batch_size: int, steps: int, pad_id: int):
    """`steps` padded batches cycling over the calibration texts: (input_ids, attention_mask)."""
    import torch

    ids = calibration_ids(ctx, samples, seq_len)
    for step in range(steps):
        rows = [ids[(step * batch_size + r) % len(ids)] for r in range(batch_size)]
        width = max(len(r) for r in rows)
        x = torch.full((len(rows), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for r, seq in enumerate(rows):
            x[r, : len(seq)] = torch.tensor(seq)
            mask[r, : len(seq)] = 1
        yield x, mask


def kd_loss(student_logits, teacher_logits, mask, temperature: float):
    """Token-level KL(teacher ‖ student) at `temperature`, scaled by T² (Hinton et al.), over real tokens."""
    import torch.nn.functional as F

    t = F.log_softmax(teacher_logits.float() / temperature, dim=-1)
    s = F.log_softmax(student_logits.float() / temperature, dim=-1)
    per_token = (t.exp() * (t - s)).sum(-1)
    return (per_token * mask).sum() / mask.sum() * temperature**2


def lm_loss(logits, input_ids, mask):
    import torch.nn.functional as F

    shift_logits, labels = logits[:, :-1].float(), input_ids[:, 1:].clone()
    labels[mask[:, 1:] == 0] = -100
    return F.cross_entropy(shift_logits.reshape(-1, shift_logits.shape[-1]), labels.reshape(-1), ignore_index=-100)


def train(
    model: Any,
    ctx: Any,
    trainable: Iterable[Any],
    *,
    steps: int,
    lr: float,
    loss: str = "kd",
    temperature: float = 2.0,
    hidden_weight: float = 0.0,
    samples: int = 32,
    seq_len: int = 256,
    batch_size: int = 4,
    masks: dict[str, Any] | None = None,
) -> list[float]:
    """Train `trainable` parameters of `model`; returns the loss per step. Pruned weights stay zero."""
    import torch

    params = [p for p in trainable if p.requires_grad]
    if not params:
        raise ValueError("nothing to train")
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    device = next(model.parameters()).device
    teacher = ctx.teacher if loss == "kd" else None
    pad = ctx.tokenizer.pad_token_id or 0
    history = []
    with ctx.progress.task(f"training ({loss}, {steps} steps)", total=steps) as bar:
        for x, mask in batches(ctx, samples, seq_len, batch_size, steps, pad):
            x, mask = x.to(device), mask.to(device)
            out = model(input_ids=x, attention_mask=mask, use_cache=False, output_hidden_states=hidden_weight > 0)
            if teacher is not None:
                with torch.no_grad():
                    ref = teacher(
                        input_ids=x, attention_mask=mask, use_cache=False, output_hidden_states=hidden_weight > 0
                    )
                value = kd_loss(out.logits, ref.logits, mask, temperature)
                if hidden_weight > 0:
                    value = (
                        value
                        + hidden_weight * (out.hidden_states[-1].float() - ref.hidden_states[-1].float()).pow(2).mean()
                    )
            else:
                value = lm_loss(out.logits, x, mask)
            optimizer.zero_grad(set_to_none=True)
            value.backward()
            optimizer.step()
            if masks:
                reapply_masks(model, masks)
            history.append(float(value.detach()))
            bar.advance()
    optimizer.zero_grad(set_to_none=True)
    return history
