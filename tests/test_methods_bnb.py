"""bitsandbytes int8 and NF4/FP4 on a tiny Llama: what they store, that they generate, that they export."""

import copy
import json

import pytest
import torch

import acf
from acf.models.loading import load_model
from acf.models.spec import infer_spec
from acf.plugins.context import Context
from acf_plugins_builtin.evaluators.costs.size import model_size_bits
from acf_plugins_builtin.methods.bnb import FourBit, Int8

pytest.importorskip("bitsandbytes", reason="the bnb extra is part of acf[dev]")


@pytest.fixture(scope="module")
def base(acf_tiny_model):
    spec = infer_spec(json.loads((acf_tiny_model / "config.json").read_text()), source="tiny", path=str(acf_tiny_model))
    return load_model(acf_tiny_model), Context(spec=spec)


def quantized_linear_weights(model):
    head = model.get_output_embeddings()
    return [m for m in model.modules() if isinstance(m, torch.nn.Linear) and m is not head]


@pytest.mark.parametrize(
    "method,params,bits",
    [
        (Int8, {"threshold": 6.0}, 8 + 32 / 64),  # one fp32 scale per row of 64 inputs... per output row
        (FourBit, {"quant_type": "nf4", "double_quant": False}, 4 + 32 / 64),
        (FourBit, {"quant_type": "fp4", "double_quant": True}, 4 + (8 + 32 / 256) / 64),
    ],
)
def test_bnb_layers_sizes_and_generation(base, method, params, bits):
    import bitsandbytes as bnb

    model, ctx = base
    q = method().apply(copy.deepcopy(model), params, ctx)
    layer_type = bnb.nn.Linear8bitLt if method is Int8 else bnb.nn.Linear4bit
    layers = [m for m in q.modules() if isinstance(m, layer_type)]
    assert len(layers) == len(quantized_linear_weights(model))
    total, count = model_size_bits(q, ctx.tensor_formats)
    n_quant = sum(m.in_features * m.out_features for m in layers)
    dense = count - sum(p.numel() for m in layers for p in m.parameters())
    per_row = method is Int8  # int8 keeps one scale per output row, 4-bit one per block of 64
    expected_q = sum(m.out_features * (m.in_features * 8 + 32) for m in layers) if per_row else n_quant * bits
    assert total == pytest.approx(expected_q + dense * 32, rel=1e-6)
    ids = torch.tensor([[1, 5, 9, 12]])
    with torch.no_grad():
        err = (q(ids).logits - model(ids).logits).abs().max().item()
    assert 0 < err < 1.0
    assert q.generate(ids, max_new_tokens=3, do_sample=False).shape[1] == 7


def test_bnb_candidates_export_and_reload(acf_tiny_model, gsm8k_file, tmp_path, acf_cli):
    from transformers import AutoModelForCausalLM

    result = acf.compress(
        str(acf_tiny_model),
        "gsm8k",
        episodes=2,
        seed=0,
        run_dir=tmp_path / "run",
        methods=["int8", "nf4"],
        max_steps=1,
        searcher="grid",
        evaluator_options={"gsm8k": {"data_path": str(gsm8k_file), "limit": 8}},
    )
    assert {c.strategy.steps[0].method for c in result.candidates} == {"int8", "nf4"}
    for c in result.candidates:
        out = tmp_path / c.id
        code, _, err = acf_cli(["export", str(tmp_path / "run"), "--candidate", c.id, "--out", str(out), "-q"])
        assert code == 0, err
        config = json.loads((out / "config.json").read_text())
        assert config["quantization_config"]["quant_method"] == "bitsandbytes"
        reloaded = AutoModelForCausalLM.from_pretrained(out, device_map={"": "cpu"})
        assert reloaded.generate(torch.tensor([[1, 5, 9]]), max_new_tokens=2, do_sample=False).shape[1] == 5
