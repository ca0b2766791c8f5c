"""Tests for the {{name}} plugin, with acf's pytest plugin (fixtures acf_tiny_model and acf_cli)."""

import json

import torch

from acf.testing import load_model, model_context


def test_bf16_rounds_every_linear_weight(acf_tiny_model):
    from acf_plugin_{{name}}.method import RoundToBF16

    model = load_model(acf_tiny_model)
    before = model.model.layers[0].mlp.up_proj.weight.clone()
    RoundToBF16().apply(model, {"skip_attention": False}, model_context(acf_tiny_model))
    after = model.model.layers[0].mlp.up_proj.weight
    assert torch.equal(after, before.to(torch.bfloat16).float())
    assert not torch.equal(after, before)


def test_bf16_checkpoint_is_smaller_and_reloads_the_same(acf_tiny_model, tmp_path):
    from acf_plugin_{{name}}.method import RoundToBF16
    from transformers import AutoModelForCausalLM

    model, ctx = load_model(acf_tiny_model), model_context(acf_tiny_model)
    RoundToBF16().apply(model, {"skip_attention": False}, ctx)
    assert RoundToBF16().write(model, tmp_path, ctx)
    dense = (acf_tiny_model / "model.safetensors").stat().st_size
    assert (tmp_path / "model.safetensors").stat().st_size < 0.75 * dense
    reloaded = AutoModelForCausalLM.from_pretrained(tmp_path)
    ids = torch.tensor([[1, 5, 9]])
    with torch.no_grad():
        assert torch.equal(model(input_ids=ids).logits, reloaded(input_ids=ids).logits)


def test_zero_fraction_counts_zeros(acf_tiny_model):
    from acf_plugin_{{name}}.evaluator import ZeroFraction

    model = load_model(acf_tiny_model)
    with torch.no_grad():
        model.model.layers[0].mlp.up_proj.weight.zero_()
    value = ZeroFraction().evaluate(model, model_context(acf_tiny_model), "full")["{{name}}_zero_fraction"].value
    assert 0 < value < 1


def test_acf_lists_the_installed_plugin(acf_cli):
    code, out, err = acf_cli(["plugins", "list", "--json"])  # found through the entry point (pip install -e .)
    assert code == 0, err
    row = next(r for r in json.loads(out) if r["name"] == "{{name}}")
    assert row["methods"] == ["{{name}}_bf16"] and row["evaluators"] == ["{{name}}_zeros"]

