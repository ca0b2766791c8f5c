"""AutoRound on a tiny Llama: quantized grid, recorded format, and a compressed-tensors export that reloads."""

import copy
import json

import pytest
import torch

from acf.models.export import check_reload
from acf.models.loading import load_model
from acf.testing import model_context
from acf_plugins_builtin.evaluators.tasks.gsm8k import GSM8K
from acf_plugins_builtin.methods.autoround import AutoRoundMethod
from acf_plugins_builtin.methods.calibration import calibration_chunks

pytest.importorskip("auto_round", reason="the autoround extra is part of acf[dev]")


def test_autoround_quantizes_exports_and_reloads(acf_tiny_model, gsm8k_file, tmp_path):
    ctx = model_context(acf_tiny_model, dataset=GSM8K(data_path=str(gsm8k_file)))
    tok = ctx.tokenizer
    assert all(len(c) == 64 for c in calibration_chunks(ctx, 8, 64))
    base = load_model(acf_tiny_model)
    model = AutoRoundMethod().apply(
        copy.deepcopy(base),
        {"bits": 4, "group_size": 32, "symmetric": True, "iters": 5, "samples": 8, "seq_len": 64},
        ctx,
    )
    down = model.model.layers[0].mlp.down_proj.weight.detach()
    assert max(len(torch.unique(g)) for g in down.reshape(-1, 32)) <= 16
    fmt = ctx.tensor_formats["model.layers.0.mlp.down_proj.weight"]
    assert (fmt.bits, fmt.group_size, fmt.zero_bits) == (4, 32, 0)
    assert AutoRoundMethod().write(model, tmp_path, ctx)
    tok.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["quantization_config"]["quant_method"] == "compressed-tensors"
    check_reload(model, tok, tmp_path)  # raises if from_pretrained gives other outputs
