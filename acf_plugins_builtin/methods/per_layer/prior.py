"""The prior: each unit's sensitivity to each level, from one pass over the calibration text — the loss increase
½ Σ F·(w − q)² with F the diagonal Fisher information (mean squared gradient of the next-token loss), as NVIDIA
ModelOpt's AutoQuantize scores layers — and the allocation that minimises its sum under a budget of average bits
(a multiple-choice knapsack, solved by its Lagrangian relaxation and a greedy fill)."""

from __future__ import annotations

from typing import Any

from .units import Level, Unit


def fisher(model: Any, batches: list[Any], modules: list[str]) -> dict[str, Any]:
    """Mean squared gradient of the next-token loss for the weight of each named module, over `batches` of ids."""
    import torch

    named = dict(model.named_modules())
    weights = {n: named[n].weight for n in modules}
    was = {n: w.requires_grad for n, w in weights.items()}
    for p in model.parameters():
        p.requires_grad_(False)
    for w in weights.values():
        w.requires_grad_(True)
    squares = {n: torch.zeros_like(w, dtype=torch.float32) for n, w in weights.items()}
    try:
        for ids in batches:
            model.zero_grad(set_to_none=True)
            loss = model(input_ids=ids, labels=ids).loss
            loss.backward()
            for n, w in weights.items():
                squares[n] += w.grad.detach().float() ** 2
    finally:
        model.zero_grad(set_to_none=True)
        for n, w in weights.items():
            w.requires_grad_(was[n])
    return {n: s / max(len(batches), 1) for n, s in squares.items()}


def sensitivities(
    model: Any,
    fisher_diag: dict[str, Any],
    unit_modules: dict[str, list[str]],
    units: list[Unit],
    levels: list[Level],
    weight_at: Any,
) -> dict[str, dict[str, float]]:
    """Unit key → level name → ½ Σ F·(w − w_level)² (0 for the kept weights); `weight_at(name, level)` is the
    database's dequantized weight."""
    import torch

    named = dict(model.named_modules())
    out: dict[str, dict[str, float]] = {}
    with torch.no_grad():
        for unit in units:
            row = {}
            for level in levels:
                total = 0.0
                if level.grid is not None:
                    for name in unit_modules.get(unit.key, []):
                        w = named[name].weight.float()
                        total += 0.5 * float((fisher_diag[name] * (w - weight_at(name, level).float()) ** 2).sum())
                row[level.name] = total
            out[unit.key] = row
    return out


def knapsack(
    units: list[Unit], levels: list[Level], sens: dict[str, dict[str, float]], budget_bits: float, dtype_bits: int
) -> dict[str, str]:
    """The allocation (unit key → level name) of least summed sensitivity whose average bits per weight is at
    most `budget_bits`. Raises ValueError when even the cheapest levels exceed it."""
    total_weights = sum(u.weights for u in units)
    capacity = budget_bits * total_weights
    cost = {u.key: {lv.name: lv.bits(u, dtype_bits) * u.weights for lv in levels} for u in units}

    def pick(lam: float) -> dict[str, str]:
        return {
            u.key: min(
                levels, key=lambda lv: (sens[u.key][lv.name] + lam * cost[u.key][lv.name], cost[u.key][lv.name])
            ).name
            for u in units
        }

    def used(allocation: dict[str, str]) -> float:
        return sum(cost[k][v] for k, v in allocation.items())

    cheapest = {u.key: min(levels, key=lambda lv: cost[u.key][lv.name]).name for u in units}
    if used(cheapest) > capacity * (1 + 1e-9):
        raise ValueError(
            f"no allocation reaches {budget_bits:g} bits per weight: the fewest is {used(cheapest) / total_weights:.4g}"
        )
    low, high = 0.0, 1.0
    while used(pick(high)) > capacity and high < 1e30:
        high *= 10
    for _ in range(100):  # the smallest multiplier whose choice fits
        mid = (low + high) / 2
        low, high = (mid, high) if used(pick(mid)) > capacity else (low, mid)
    allocation = pick(high) if used(pick(high)) <= capacity else cheapest
    return fill(allocation, units, levels, sens, cost, capacity)


def fill(
    allocation: dict[str, str],
    units: list[Unit],
    levels: list[Level],
    sens: dict[str, dict[str, float]],
    cost: dict[str, dict[str, float]],
    capacity: float,
) -> dict[str, str]:
    """Spend what budget is left: repeatedly take the change of one unit's level that lowers the summed
    sensitivity most per bit and still fits."""
    allocation = dict(allocation)
    spent = sum(cost[k][v] for k, v in allocation.items())
    while True:
        best, best_rate = None, 0.0
        for u in units:
            now = allocation[u.key]
            for lv in levels:
                extra = cost[u.key][lv.name] - cost[u.key][now]
                gain = sens[u.key][now] - sens[u.key][lv.name]
                if extra > 0 and gain > 0 and spent + extra <= capacity and gain / extra > best_rate:
                    best, best_rate = (u.key, lv.name, extra), gain / extra
        if best is None:
            return allocation
        allocation[best[0]] = best[1]
        spent += best[2]
