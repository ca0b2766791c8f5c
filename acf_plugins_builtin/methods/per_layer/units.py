"""What a per-layer allocation assigns: units (a decoder block's projection group) and levels (a setting each)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..packing import SCALE_BITS, Grid

# A block's projections, grouped by what they read: attention's q/k/v, its output, the MLP's gate/up, its down.
GROUPS = ("attn_in", "attn_out", "mlp_in", "mlp_out")
KEEP = "keep"


@dataclass(frozen=True)
class Unit:
    layer: int
    group: str
    weights: int  # parameters of the unit's projections
    in_features: int  # the input width of each (one per unit: its projections read the same input)

    @property
    def key(self) -> str:
        return f"L{self.layer:02d}_{self.group}"


@dataclass(frozen=True)
class Level:
    """A setting: `grid` (symmetric, float16 scales) or None for the weights kept as they are."""

    name: str
    grid: Grid | None

    def bits(self, unit: Unit, dtype_bits: int) -> float:
        """Stored bits per weight of `unit` at this level, its scales included."""
        if self.grid is None:
            return float(dtype_bits)
        group = unit.in_features if self.grid.group_size == -1 else self.grid.group_size
        return self.grid.bits + SCALE_BITS / group


def group_size(spec: Any) -> int:
    """The grouped levels' group size: 64 where every layer's width allows it (SmolLM2's 576 does not take 128),
    else the largest valid one."""
    valid = [g for g in spec.valid_group_sizes if g > 0]
    return 64 if 64 in valid else (max(valid) if valid else -1)


def levels_for(spec: Any) -> list[Level]:
    """Fewest bits first: 2 bits grouped, 3 and 4 bits per channel and grouped, 8 bits per channel, kept."""
    g = group_size(spec)
    out = []
    for bits, group in ((2, g), (3, -1), (3, g), (4, -1), (4, g), (8, -1)):
        name = f"{bits}ch" if group == -1 else f"{bits}g{group}"
        if all(level.name != name for level in out):
            out.append(Level(name, Grid(bits, group, True)))
    return [*out, Level(KEEP, None)]


def units_of(spec: Any) -> list[Unit]:
    """Every unit of the model, block by block, from its config alone (so the space needs no weights)."""
    h, heads, kv, d, inter = (
        spec.hidden_size,
        spec.num_attention_heads,
        spec.num_key_value_heads,
        spec.head_dim,
        spec.intermediate_size,
    )
    mlp_in = (2 if spec.gated_mlp else 1) * h * inter
    shapes = {
        "attn_in": ((heads + 2 * kv) * d * h, h),
        "attn_out": (heads * d * h, heads * d),
        "mlp_in": (mlp_in, h),
        "mlp_out": (inter * h, inter),
    }
    return [Unit(layer, group, *shapes[group]) for layer in range(spec.num_layers) for group in GROUPS]


def unit_modules(model: Any, family: Any) -> dict[str, list[str]]:
    """Unit key → the names of its Linear modules in `model`."""
    names = {id(m): n for n, m in model.named_modules()}
    out = {}
    for i, layer in enumerate(family.decoder_layers(model)):
        members = {
            "attn_in": family.attention_inputs(layer),
            "attn_out": [family.attention_output(layer)],
            "mlp_in": family.mlp_inputs(layer),
            "mlp_out": [family.down_proj(layer)],
        }
        for group, modules in members.items():
            out[f"L{i:02d}_{group}"] = [names[id(m)] for m in modules]
    return out


def average_bits(allocation: dict[str, str], units: list[Unit], levels: dict[str, Level], dtype_bits: int) -> float:
    """Average stored bits per weight of an allocation (unit key → level name) over all units."""
    total = sum(u.weights for u in units)
    return sum(levels[allocation[u.key]].bits(u, dtype_bits) * u.weights for u in units) / total
