"""llm-compressor methods (GPTQ, AWQ, SparseGPT, Wanda) on a tiny Llama, and exporting their results."""

import copy
import json

import pytest
import torch

import acf
from acf.errors import MissingBackendError
from acf.models.loading import load_model
from acf_plugins_builtin.evaluators.tasks.gsm8k import GSM8K
from acf_plugins_builtin.methods.awq import AWQ
from acf_plugins_builtin.methods.calibration import calibration_ids
from acf_plugins_builtin.methods.gptq import GPTQ
from acf_plugins_builtin.methods.rtn import RoundToNearest
from acf_plugins_builtin.methods.sparsegpt import SparseGPT, Wanda

pytest.importorskip("llmcompressor", reason="the llmcompressor extra is part of acf[dev]")
CALIB = {"samples": 32, "seq_len": 256}


@pytest.fixture(scope="module")
def setup(acf_tiny_model, tmp_path_factory):
    from acf.testing import model_context, write_gsm8k

    data = write_gsm8k(tmp_path_factory.mktemp("d") / "g.jsonl", n=80)
    return load_model(acf_tiny_model), model_context(acf_tiny_model, dataset=GSM8K(data_path=str(data)))


def linears(model):
    return [
        (n, m)
        for n, m in model.named_modules()
        if isinstance(m, torch.nn.Linear) and m is not model.get_output_embeddings()
    ]


def output_error(model, base, ctx):
    ids = calibration_ids(ctx, 32, 256)
    err = 0.0
    with torch.no_grad():
        for seq in ids[:16]:
            x = torch.tensor([seq])
            err += (model(x).logits - base(x).logits).pow(2).mean().item()
    return err


@pytest.mark.parametrize("bits", [3, 4])
def test_gptq_beats_rtn_at_equal_bits(setup, bits):
    base, ctx = setup
    params = {"bits": bits, "group_size": 32, "symmetric": True}
    gptq = GPTQ().apply(copy.deepcopy(base), {**params, "dampening": 0.01, "actorder": "static", **CALIB}, ctx)
    rtn = RoundToNearest().apply(copy.deepcopy(base), params, ctx)
    assert output_error(gptq, base, ctx) < output_error(rtn, base, ctx)


def test_gptq_quantizes_to_the_requested_grid_and_records_bits(setup):
    base, ctx = setup
    model = GPTQ().apply(
        copy.deepcopy(base),
        {"bits": 4, "group_size": 32, "symmetric": True, "dampening": 0.01, "actorder": "none", **CALIB},
        ctx,
    )
    formats = ctx.tensor_formats
    for name, module in linears(model):
        fmt = formats[f"{name}.weight"]
        assert (fmt.bits, fmt.group_size, fmt.zero_bits) == (4, 32, 0)
        groups = module.weight.detach().reshape(module.out_features, -1, 32)
        assert max(len(torch.unique(g)) for g in groups.reshape(-1, 32)) <= 16
    out = model.generate(torch.tensor([[1, 5, 9]]), max_new_tokens=3, do_sample=False)
    assert out.shape[1] == 6


def test_awq_runs_on_cpu_and_records_asymmetric_format(setup):
    base, ctx = setup
    model = AWQ().apply(copy.deepcopy(base), {"bits": 4, "group_size": 64, "symmetric": False, **CALIB}, ctx)
    fmt = ctx.tensor_formats["model.layers.0.mlp.down_proj.weight"]
    assert (fmt.bits, fmt.group_size, fmt.zero_bits, fmt.scale_bits) == (
        4,
        64,
        4,
        32,
    )  # packed zero points, fp32 scales
    assert output_error(model, base, ctx) > 0


@pytest.mark.parametrize("method", [SparseGPT, Wanda])
def test_n_m_sparsity_pattern_is_exact(setup, method):
    base, ctx = setup
    params = {"mask": "2:4", **CALIB}
    if method is SparseGPT:
        params["dampening"] = 0.01
    model = method().apply(copy.deepcopy(base), params, ctx)
    for _, module in linears(model):
        blocks = (module.weight.detach() != 0).reshape(module.out_features, -1, 4).sum(-1)
        assert (blocks <= 2).all()
        assert (module.weight == 0).float().mean().item() == pytest.approx(0.5, abs=0.01)


@pytest.mark.parametrize("sparsity", [0.3, 0.6])
def test_unstructured_sparsity_matches_request(setup, sparsity):
    base, ctx = setup
    model = Wanda().apply(copy.deepcopy(base), {"mask": "unstructured", "sparsity": sparsity, **CALIB}, ctx)
    zeros = [(m.weight == 0).float().mean().item() for _, m in linears(model)]
    assert sum(zeros) / len(zeros) == pytest.approx(sparsity, abs=0.02)


def test_missing_llmcompressor_names_the_extra(setup, monkeypatch):
    import acf_plugins_builtin.methods.llmc as llmc

    base, ctx = setup
    monkeypatch.setattr(llmc.importlib.util, "find_spec", lambda name: None)
    assert "pip install 'acf[llmcompressor]'" in GPTQ().applies_to(ctx.spec)
    with pytest.raises(MissingBackendError, match=r"pip install 'acf\[llmcompressor\]'"):
        GPTQ().apply(base, {}, ctx)


def test_export_round_trips_through_from_pretrained(acf_tiny_model, gsm8k_file, tmp_path, acf_cli):
    from transformers import AutoModelForCausalLM

    result = acf.compress(
        str(acf_tiny_model),
        "gsm8k",
        episodes=2,
        seed=0,
        run_dir=tmp_path / "run",
        methods=["gptq", "sparsegpt"],
        searcher="grid",
        evaluator_options={"gsm8k": {"data_path": str(gsm8k_file), "limit": 8}},
    )
    for candidate in result.candidates:
        out = tmp_path / f"export-{candidate.id}"
        code, stdout, err = acf_cli(
            ["export", str(tmp_path / "run"), "--candidate", candidate.id, "--out", str(out), "-q"]
        )
        assert code == 0, err
        assert "reloaded on hf" in stdout
        card = (out / "README.md").read_text()
        assert candidate.strategy.steps[0].method in card and "gsm8k_loglik" in card
        reloaded = AutoModelForCausalLM.from_pretrained(out)
        config = json.loads((out / "config.json").read_text())
        if candidate.strategy.steps[0].method == "gptq":
            assert config["quantization_config"]["quant_method"] == "compressed-tensors"
        else:  # SparseGPT's zeros survive the round trip
            assert (reloaded.model.layers[0].mlp.down_proj.weight == 0).float().mean().item() >= 0.1
        ids = torch.tensor([[1, 7, 11, 30]])
        assert reloaded(ids).logits.shape[-1] == reloaded.config.vocab_size
    code, _, err = acf_cli(["export", str(tmp_path / "run"), "--candidate", "ep999", "--out", str(tmp_path / "x")])
    assert code == 2 and "has no candidate 'ep999'" in err
