"""Inferring a `ModelSpec` from a config.json dict of any common causal-LM family (no weights are read)."""

from __future__ import annotations

import math
from typing import Any

from acf.types.spec import ModelSpec

BYTES_PER_PARAM = {"float32": 4.0, "bfloat16": 2.0, "float16": 2.0, "int8": 1.0, "int4": 0.5}
GROUP_SIZE_CANDIDATES = (32, 64, 128, 256)
# Families whose MLP has a gate, an up and a down projection (3 matrices instead of 2).
GATED_MLP = {
    "llama",
    "mistral",
    "mixtral",
    "qwen2",
    "qwen2_moe",
    "qwen3",
    "qwen3_moe",
    "gemma",
    "gemma2",
    "gemma3",
    "gemma3_text",
    "phi3",
    "olmo",
    "olmo2",
    "granite",
    "cohere",
    "deepseek_v2",
    "deepseek_v3",
    "internlm2",
    "stablelm",
    "smollm3",
    "starcoder2_gated",
    "exaone",
    "minicpm",
}


def _first(config: dict[str, Any], *keys: str, default: Any = None) -> Any:
    for key in keys:
        if config.get(key) is not None:
            return config[key]
    return default


def estimate_parameters(
    *,
    layers: int,
    hidden: int,
    intermediate: int,
    heads: int,
    kv_heads: int,
    head_dim: int,
    vocab: int,
    tied: bool,
    gated: bool,
    experts: int,
) -> int:
    attention = hidden * heads * head_dim * 2 + hidden * kv_heads * head_dim * 2  # q, o and k, v
    mlp = (3 if gated else 2) * hidden * intermediate * experts + (hidden * experts if experts > 1 else 0)
    norms = 2 * hidden
    embeddings = vocab * hidden * (1 if tied else 2)
    return layers * (attention + mlp + norms) + embeddings + hidden


def infer_spec(config: dict[str, Any], *, source: str, path: str | None = None, hub_id: str | None = None) -> ModelSpec:
    """Build a ModelSpec from a config.json dict of any common causal-LM family."""
    text = config.get("text_config") if isinstance(config.get("text_config"), dict) else None
    cfg = {**config, **text} if text else config
    model_type = str(cfg.get("model_type") or config.get("model_type") or "unknown")
    hidden = int(_first(cfg, "hidden_size", "n_embd", "d_model", "dim"))
    layers = int(_first(cfg, "num_hidden_layers", "n_layer", "num_layers", "n_layers"))
    heads = int(_first(cfg, "num_attention_heads", "n_head", "num_heads", "n_heads"))
    kv_heads = int(
        _first(cfg, "num_key_value_heads", "n_head_kv", "num_kv_heads", "multi_query_group_num", default=heads)
    )
    if cfg.get("multi_query") and "num_key_value_heads" not in cfg:
        kv_heads = 1
    head_dim = int(_first(cfg, "head_dim", default=hidden // heads))
    gated = model_type in GATED_MLP or str(cfg.get("hidden_act", cfg.get("activation_function", ""))) in {
        "swiglu",
        "geglu",
    }
    default_inter = 4 * hidden
    intermediate = int(
        _first(cfg, "intermediate_size", "n_inner", "ffn_dim", "ffn_hidden_size", default=default_inter)
        or default_inter
    )
    vocab = int(_first(cfg, "vocab_size", "padded_vocab_size", default=32000))
    experts = int(_first(cfg, "num_local_experts", "num_experts", "n_routed_experts", default=1) or 1)
    if experts > 1 and cfg.get("moe_intermediate_size"):
        intermediate = int(cfg["moe_intermediate_size"])
    tied = bool(
        _first(
            config,
            "tie_word_embeddings",
            default=model_type in {"gpt2", "gpt_neox_tied", "gemma", "gemma2", "gemma3_text"},
        )
    )
    params = estimate_parameters(
        layers=layers,
        hidden=hidden,
        intermediate=intermediate,
        heads=heads,
        kv_heads=kv_heads,
        head_dim=head_dim,
        vocab=vocab,
        tied=tied,
        gated=gated,
        experts=experts,
    )
    dtype = str(_first(config, "torch_dtype", "dtype", default="float32") or "float32").replace("torch.", "")
    if dtype not in BYTES_PER_PARAM:
        dtype = "float32"
    widths = sorted({hidden, intermediate, heads * head_dim})
    width_gcd = math.gcd(*widths)
    groups = [g for g in GROUP_SIZE_CANDIDATES if width_gcd % g == 0] + [-1]
    architectures = config.get("architectures") or [None]
    auto_map = config.get("auto_map") or {}
    calib = 128 if params < 3e9 else 256
    return ModelSpec(
        source=source,
        path=path,
        hub_id=hub_id,
        model_type=model_type,
        architecture=architectures[0],
        num_parameters=params,
        num_layers=layers,
        hidden_size=hidden,
        intermediate_size=intermediate,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        head_dim=head_dim,
        vocab_size=vocab,
        max_position_embeddings=_first(cfg, "max_position_embeddings", "n_positions", "max_seq_len"),
        tie_word_embeddings=tied,
        gated_mlp=gated,
        num_experts=experts,
        dtype=dtype,
        memory_bytes={k: int(params * v) for k, v in BYTES_PER_PARAM.items()},
        linear_input_widths=widths,
        valid_group_sizes=groups,
        calibration_samples=calib,
        calibration_seq_len=min(512, int(_first(cfg, "max_position_embeddings", "n_positions", default=512))),
        trust_remote_code_required=bool(auto_map.get("AutoModelForCausalLM"))
        and model_type not in _builtin_model_types(),
    )


def _builtin_model_types() -> set[str]:
    """Model types this transformers install can build without remote code (import is deferred)."""
    try:
        from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES
    except Exception:  # pragma: no cover - transformers is a dependency
        return set()
    return set(CONFIG_MAPPING_NAMES)
