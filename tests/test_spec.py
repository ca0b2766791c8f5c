import json

import pytest

from acf.models.spec import infer_spec

LLAMA3_8B = {
    "model_type": "llama",
    "architectures": ["LlamaForCausalLM"],
    "hidden_size": 4096,
    "intermediate_size": 14336,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "vocab_size": 128256,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
    "max_position_embeddings": 8192,
}
MISTRAL_7B = {
    "model_type": "mistral",
    "hidden_size": 4096,
    "intermediate_size": 14336,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "vocab_size": 32000,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
}
MIXTRAL = {**MISTRAL_7B, "model_type": "mixtral", "num_local_experts": 8, "num_experts_per_tok": 2}
PHI3_MINI = {
    "model_type": "phi3",
    "hidden_size": 3072,
    "intermediate_size": 8192,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": 32,
    "vocab_size": 32064,
    "tie_word_embeddings": False,
}
QWEN25_05B = {
    "model_type": "qwen2",
    "hidden_size": 896,
    "intermediate_size": 4864,
    "num_hidden_layers": 24,
    "num_attention_heads": 14,
    "num_key_value_heads": 2,
    "vocab_size": 151936,
    "tie_word_embeddings": True,
    "torch_dtype": "bfloat16",
}
GEMMA2_2B = {
    "model_type": "gemma2",
    "hidden_size": 2304,
    "intermediate_size": 9216,
    "num_hidden_layers": 26,
    "num_attention_heads": 8,
    "num_key_value_heads": 4,
    "head_dim": 256,
    "vocab_size": 256000,
}
GPT2 = {
    "model_type": "gpt2",
    "n_embd": 768,
    "n_layer": 12,
    "n_head": 12,
    "vocab_size": 50257,
    "n_inner": None,
    "n_positions": 1024,
    "activation_function": "gelu_new",
}
SMOLLM2 = {
    "model_type": "llama",
    "hidden_size": 576,
    "intermediate_size": 1536,
    "num_hidden_layers": 30,
    "num_attention_heads": 9,
    "num_key_value_heads": 3,
    "head_dim": 64,
    "vocab_size": 49152,
    "tie_word_embeddings": True,
}


@pytest.mark.parametrize(
    "config,published,tolerance",
    [
        (LLAMA3_8B, 8_030_261_248, 0.0),
        (MISTRAL_7B, 7_241_732_096, 0.0),
        (MIXTRAL, 46_702_792_704, 0.0),
        (PHI3_MINI, 3_821_079_552, 0.0),
        (QWEN25_05B, 494_032_768, 1e-4),  # q/k/v biases are not counted
        (GEMMA2_2B, 2_614_341_888, 1e-4),  # gemma2's extra norms are not counted
        (GPT2, 124_439_808, 0.01),  # position embeddings and biases are not counted
        (SMOLLM2, 134_515_008, 0.0),
    ],
)
def test_parameter_count_matches_published(config, published, tolerance):
    spec = infer_spec(config, source="x")
    assert spec.num_parameters == pytest.approx(published, rel=tolerance, abs=0)


def test_llama3_fields():
    spec = infer_spec(LLAMA3_8B, source="llama3")
    assert (spec.num_layers, spec.hidden_size, spec.num_key_value_heads, spec.head_dim) == (32, 4096, 8, 128)
    assert spec.dtype == "bfloat16"
    assert spec.memory_bytes["bfloat16"] == 2 * spec.num_parameters
    assert spec.memory_bytes["int4"] == spec.num_parameters // 2
    assert spec.valid_group_sizes == [32, 64, 128, 256, -1]


def test_gpt2_naming_and_defaults():
    spec = infer_spec(GPT2, source="gpt2")
    assert (spec.hidden_size, spec.num_layers, spec.num_attention_heads, spec.intermediate_size) == (768, 12, 12, 3072)
    assert spec.tie_word_embeddings and not spec.gated_mlp
    assert spec.max_position_embeddings == 1024


@pytest.mark.parametrize(
    "config,groups",
    [
        (SMOLLM2, [32, 64, -1]),  # 576 = 64·9 rules out 128
        (QWEN25_05B, [32, 64, 128, -1]),
        (GEMMA2_2B, [32, 64, 128, 256, -1]),
    ],
)
def test_valid_group_sizes_divide_every_width(config, groups):
    spec = infer_spec(config, source="x")
    assert spec.valid_group_sizes == groups
    for g in groups:
        if g > 0:
            assert all(w % g == 0 for w in spec.linear_input_widths)


def test_moe_and_remote_code():
    assert infer_spec(MIXTRAL, source="x").num_experts == 8
    custom = {**LLAMA3_8B, "model_type": "my_custom_arch", "auto_map": {"AutoModelForCausalLM": "modeling.MyModel"}}
    assert infer_spec(custom, source="x").trust_remote_code_required
    assert not infer_spec(LLAMA3_8B, source="x").trust_remote_code_required


def test_spec_cli_reads_only_config(tmp_path, acf_cli):
    (tmp_path / "config.json").write_text(json.dumps(LLAMA3_8B))  # no weights in the folder
    code, out, err = acf_cli(["spec", str(tmp_path), "--json"])
    assert code == 0, err
    data = json.loads(out)
    assert data["num_parameters"] == 8_030_261_248
    assert {"rtn", "magnitude", "gptq", "awq", "sparsegpt", "wanda", "nf4", "structured", "lora"} <= set(
        data["applicable_methods"]
    )
