"""Model-family adapters: one place that knows, per family, where the decoder layers, attention and MLP
projections and norms are, so structural methods (channel pruning, layer drop) work on each family or refuse it
at validation with the reason."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ModelFamily:
    """Where things are in one family's transformers implementation (attribute names inside a decoder layer).

    Fused projections (Phi-3's `qkv_proj` and `gate_up_proj`) are named in `fused_qkv` / `fused_gate_up`; then
    the separate names are unused. `unsupported` maps a structural change to why this family cannot take it.
    """

    name: str
    model_types: tuple[str, ...]
    layers: str = "model.layers"
    final_norm: str = "model.norm"
    attention: str = "self_attn"
    q: str = "q_proj"
    k: str = "k_proj"
    v: str = "v_proj"
    o: str = "o_proj"
    fused_qkv: str | None = None
    mlp: str = "mlp"
    gate: str = "gate_proj"
    up: str = "up_proj"
    down: str = "down_proj"
    fused_gate_up: str | None = None
    norms: tuple[str, ...] = ("input_layernorm", "post_attention_layernorm")
    unsupported: tuple[tuple[str, str], ...] = ()

    def why_not(self, change: str) -> str | None:
        """Why `change` ("mlp_channels", "kv_groups", "hidden", "layer_drop") cannot be made to this family."""
        return dict(self.unsupported).get(change)

    # ------------------------------------------------------------------ finding modules
    def decoder_layers(self, model: Any) -> Any:
        return _path(model, self.layers)

    def set_decoder_layers(self, model: Any, layers: Any) -> None:
        parent, _, attr = self.layers.rpartition(".")
        setattr(_path(model, parent) if parent else model, attr, layers)

    def attention_of(self, layer: Any) -> Any:
        return getattr(layer, self.attention)

    def mlp_of(self, layer: Any) -> Any:
        return getattr(layer, self.mlp)

    def down_proj(self, layer: Any) -> Any:
        return getattr(self.mlp_of(layer), self.down)

    def mlp_inputs(self, layer: Any) -> list[Any]:
        """The MLP projections that read the hidden state (gate and up, or the fused gate_up)."""
        mlp = self.mlp_of(layer)
        names = [self.fused_gate_up] if self.fused_gate_up else [self.gate, self.up]
        return [getattr(mlp, n) for n in names]

    def attention_inputs(self, layer: Any) -> list[Any]:
        """The attention projections that read the hidden state (q, k, v, or the fused qkv)."""
        attn = self.attention_of(layer)
        names = [self.fused_qkv] if self.fused_qkv else [self.q, self.k, self.v]
        return [getattr(attn, n) for n in names]

    def attention_output(self, layer: Any) -> Any:
        return getattr(self.attention_of(layer), self.o)

    def layer_norms(self, model: Any) -> list[Any]:
        """Every norm over the hidden state: the final one and each layer's."""
        out = [_path(model, self.final_norm)]
        for layer in self.decoder_layers(model):
            out += [getattr(layer, n) for n in self.norms if hasattr(layer, n)]
        return out


def _path(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


GEMMA_HIDDEN = ("hidden", "Gemma scales its embeddings by sqrt(hidden_size): removing hidden width changes that scale")
PHI3_KV = ("kv_groups", "Phi-3 fuses q, k and v into one projection; removing KV groups from it is not supported")

FAMILIES = (
    ModelFamily(name="llama", model_types=("llama", "mistral", "granite", "olmo", "olmo2", "smollm3")),
    ModelFamily(name="qwen2", model_types=("qwen2", "qwen3")),
    ModelFamily(name="gemma", model_types=("gemma",), unsupported=(GEMMA_HIDDEN,)),
    ModelFamily(
        name="gemma2",
        model_types=("gemma2", "gemma3_text"),
        norms=(
            "input_layernorm",
            "post_attention_layernorm",
            "pre_feedforward_layernorm",
            "post_feedforward_layernorm",
        ),
        unsupported=(GEMMA_HIDDEN,),
    ),
    ModelFamily(
        name="phi3", model_types=("phi3",), fused_qkv="qkv_proj", fused_gate_up="gate_up_proj", unsupported=(PHI3_KV,)
    ),
)


def family_of(model_type: str | None) -> ModelFamily | None:
    """The adapter for a config's `model_type`, or None when acf has none for it."""
    return next((f for f in FAMILIES if model_type in f.model_types), None)


def unsupported_family(model_type: str | None, change: str) -> str | None:
    """Why a structural `change` cannot be made to models of `model_type`, or None when it can."""
    family = family_of(model_type)
    if family is None:
        known = ", ".join(t for f in FAMILIES for t in f.model_types)
        return f"no layer adapter for model type {model_type!r} (acf knows: {known})"
    return family.why_not(change)


def compressible_linears(model: Any) -> list[tuple[str, Any]]:
    """Every `nn.Linear` except the output head (whose weight is usually tied to the embeddings)."""
    import torch.nn as nn

    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    return [
        (name, module) for name, module in model.named_modules() if isinstance(module, nn.Linear) and module is not head
    ]
