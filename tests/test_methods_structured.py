"""Structured pruning and layer dropping on a tiny Llama: smaller configs, exact parameter counts, exports."""

import copy
import json

import pytest
import torch

import acf
from acf.models.loading import load_model
from acf.testing import build_tiny_model, model_context
from acf_plugins_builtin.evaluators.tasks.gsm8k import GSM8K
from acf_plugins_builtin.methods.layer_drop import LayerDrop, block_influence
from acf_plugins_builtin.methods.structured import StructuredPruning

pytest.importorskip("torch_pruning", reason="the pruning extra is part of acf[dev]")


@pytest.fixture(scope="module")
def wide(tmp_path_factory, gsm8k_file):
    # 4 heads of 64 in 2 KV groups, MLP 384 wide, 4 layers; pruned widths stay multiples of 128
    folder = build_tiny_model(
        tmp_path_factory.mktemp("wide"), hidden=256, intermediate=384, layers=4, heads=4, kv_heads=2
    )
    return folder, load_model(folder), model_context(folder, dataset=GSM8K(data_path=str(gsm8k_file)))


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def test_structured_removes_the_requested_channels_and_groups(wide):
    _, base, ctx = wide
    assert StructuredPruning().space(ctx.spec).get("kv_groups").options == [0, 1]
    model = StructuredPruning().apply(copy.deepcopy(base), {"mlp_ratio": 0.25, "kv_groups": 1, "samples": 8}, ctx)
    mlp, attn = model.model.layers[0].mlp, model.model.layers[0].self_attn
    # 384 × 0.75 = 288 channels, rounded to a multiple of 128
    assert (mlp.gate_proj.out_features, mlp.up_proj.out_features, mlp.down_proj.in_features) == (256, 256, 256)
    assert (attn.q_proj.out_features, attn.k_proj.out_features, attn.o_proj.in_features) == (128, 64, 128)
    assert (model.config.intermediate_size, model.config.num_attention_heads, model.config.num_key_value_heads) == (
        256,
        2,
        1,
    )
    # per layer: 128 MLP channels × 3 matrices, 2 query heads in q and o, 1 KV head in k and v (64 wide, 256 in)
    removed = n_params(base) - n_params(model)
    assert removed == 4 * (3 * 256 * 128 + 2 * 256 * 128 + 2 * 256 * 64)
    ids = torch.tensor([[1, 5, 9, 12]])
    assert model.generate(ids, max_new_tokens=3, do_sample=False).shape[1] == 7


def test_structured_keeps_the_strongest_channels(wide):
    _, base, ctx = wide
    model = copy.deepcopy(base)
    with torch.no_grad():
        model.model.layers[0].mlp.down_proj.weight[:, 128:256] *= 100  # make channels 128..255 dominant
    dominant = model.model.layers[0].mlp.down_proj.weight[:, 128:256].clone()
    pruned = StructuredPruning().apply(model, {"mlp_ratio": 0.6, "kv_groups": 0, "samples": 8}, ctx)
    assert torch.equal(pruned.model.layers[0].mlp.down_proj.weight, dominant)


def test_layer_drop_removes_the_least_influential_layers(wide):
    _, base, ctx = wide
    from acf_plugins_builtin.methods.calibration import calibration_ids

    scores = block_influence(base, calibration_ids(ctx, 16, 256))
    model = LayerDrop().apply(copy.deepcopy(base), {"layers": 1, "samples": 16}, ctx)
    assert ctx.records.steps[-1]["dropped_layers"] == [min(range(4), key=lambda i: scores[i])]
    assert model.config.num_hidden_layers == 3 and len(model.model.layers) == 3
    assert [layer.self_attn.layer_idx for layer in model.model.layers] == [0, 1, 2]
    ids = torch.tensor([[1, 5, 9, 12]])
    assert model.generate(ids, max_new_tokens=3, do_sample=False).shape[1] == 7  # the KV cache follows the new indices


def test_shrunk_models_export_as_smaller_configs(wide, gsm8k_file, tmp_path, acf_cli):
    from transformers import AutoModelForCausalLM

    folder, _, _ = wide
    result = acf.compress(
        str(folder),
        "gsm8k",
        episodes=3,
        seed=0,
        run_dir=tmp_path / "run",
        methods=["structured", "layer_drop", "gptq"],
        searcher="grid",
        evaluator_options={"gsm8k": {"data_path": str(gsm8k_file), "limit": 8}},
    )
    assert all(c.status == "ok" for c in result.candidates), [c.reason for c in result.candidates]
    for c in result.candidates:
        out = tmp_path / c.id
        code, _, err = acf_cli(["export", str(tmp_path / "run"), "--candidate", c.id, "--out", str(out), "-q"])
        assert code == 0, err
        config = json.loads((out / "config.json").read_text())
        reloaded = AutoModelForCausalLM.from_pretrained(out)
        assert reloaded.config.num_hidden_layers == config["num_hidden_layers"]
        if "layer_drop" in c.strategy.pipeline:
            assert config["num_hidden_layers"] < 4
        if "structured" in c.strategy.pipeline:
            assert config["intermediate_size"] <= 384


def test_hidden_width_pruning_keeps_the_model_tied_and_exportable(gsm8k_file, tmp_path_factory):
    from acf.models.export import check_reload

    folder = build_tiny_model(
        tmp_path_factory.mktemp("deep"), hidden=512, intermediate=384, layers=2, heads=4, kv_heads=2
    )
    ctx = model_context(folder, dataset=GSM8K(data_path=str(gsm8k_file)))
    tok = ctx.tokenizer
    base = load_model(folder)
    model = StructuredPruning().apply(copy.deepcopy(base), {"mlp_ratio": 0.0, "hidden_ratio": 0.25, "samples": 8}, ctx)
    assert (model.config.hidden_size, model.config.head_dim) == (384, 128)
    assert model.lm_head.weight is model.model.embed_tokens.weight and model.lm_head.weight.shape[1] == 384
    assert all(layer.input_layernorm.weight.shape == (384,) for layer in model.model.layers)
    assert (
        model.model.layers[0].self_attn.q_proj.in_features == 384
        and model.model.layers[0].mlp.down_proj.out_features == 384
    )
    out = tmp_path_factory.mktemp("deep-out")
    model.save_pretrained(out)
    tok.save_pretrained(out)
    check_reload(model, tok, out)
