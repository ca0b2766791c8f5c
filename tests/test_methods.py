import pytest
import torch

from acf import StrategyError
from acf.models.loading import load_model
from acf.testing import model_context
from acf_plugins_builtin.evaluators.costs.size import model_size_bits
from acf_plugins_builtin.methods.magnitude import MagnitudePruning
from acf_plugins_builtin.methods.rtn import RoundToNearest, quantize_rtn


@pytest.mark.parametrize("bits", [2, 3, 4, 8])
@pytest.mark.parametrize("symmetric", [True, False])
def test_rtn_uses_at_most_2_to_the_bits_levels_per_group(bits, symmetric):
    torch.manual_seed(0)
    w = torch.randn(8, 64)
    q = quantize_rtn(w, bits, 32, symmetric)
    groups = q.reshape(8, 2, 32)
    for row in groups.reshape(-1, 32):
        assert len(torch.unique(row)) <= 2**bits
    assert (q - w).abs().max() < (w.abs().max() if bits == 2 else w.abs().max() / 2 ** (bits - 2))


def test_rtn_error_shrinks_with_bits_and_group_size():
    torch.manual_seed(0)
    w = torch.randn(64, 128)
    err = {b: (quantize_rtn(w, b, 32, False) - w).pow(2).mean().item() for b in (2, 4, 8)}
    assert err[2] > err[4] > err[8]
    assert (quantize_rtn(w, 4, 32, True) - w).pow(2).mean() < (quantize_rtn(w, 4, -1, True) - w).pow(2).mean()


def test_rtn_rejects_group_that_does_not_divide():
    with pytest.raises(StrategyError, match="does not divide"):
        quantize_rtn(torch.randn(4, 96), 4, 64, True)


def test_rtn_records_effective_bits_and_size(acf_tiny_model):
    model, ctx = load_model(acf_tiny_model), model_context(acf_tiny_model)
    before_bits, count = model_size_bits(model, ctx.tensor_formats)
    assert before_bits == pytest.approx(count * 32)
    RoundToNearest().apply(model, {"bits": 4, "group_size": 32, "symmetric": False}, ctx)
    formats = ctx.tensor_formats
    linear = dict(model.named_modules())["model.layers.0.mlp.down_proj"]
    fmt = formats["model.layers.0.mlp.down_proj.weight"]
    # a float16 scale and a zero point packed at 4 bits per group of 32
    assert fmt.effective_bits(linear.in_features) == pytest.approx(4 + (16 + 4) / 32)
    bits, _ = model_size_bits(model, formats)
    quantized = sum(m.weight.numel() for n, m in model.named_modules() if f"{n}.weight" in formats)
    embed = model.get_input_embeddings().weight.numel()
    norms = count - quantized - embed
    assert bits == pytest.approx(quantized * (4 + 20 / 32) + (embed + norms) * 32)
    ids = torch.tensor([[1, 5, 9, 12]])
    assert model.generate(ids, max_new_tokens=4, do_sample=False).shape[1] == 8


@pytest.mark.parametrize("sparsity", [0.1, 0.37, 0.5, 0.8])
@pytest.mark.parametrize("scope", ["layer", "row"])
def test_magnitude_reaches_requested_sparsity(acf_tiny_model, sparsity, scope):
    model = load_model(acf_tiny_model)
    embeddings = model.get_input_embeddings().weight.clone()
    MagnitudePruning().apply(model, {"sparsity": sparsity, "scope": scope}, model_context(acf_tiny_model))
    for _name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear) and module is not model.get_output_embeddings():
            zeros = (module.weight == 0).float().mean().item()
            assert zeros == pytest.approx(sparsity, abs=1.0 / module.weight.shape[1])
    assert torch.equal(model.get_input_embeddings().weight, embeddings)  # embeddings (tied head) untouched


def test_magnitude_keeps_the_largest_weights():
    from acf_plugins_builtin.methods.magnitude import prune_magnitude

    w = torch.nn.Parameter(torch.tensor([[0.1, -3.0, 0.2, 4.0], [-0.5, 0.05, 2.0, -1.0]]))
    prune_magnitude(w, 0.5, "row")
    assert w.data.tolist() == [[0.0, -3.0, 0.0, 4.0], [0.0, 0.0, 2.0, -1.0]]


def test_masked_weights_are_stored_dense(acf_tiny_model):
    """compressed-tensors 0.19 has no sparse layout: a pruned model's checkpoint is as big as the dense one's."""
    from acf_plugins_builtin.evaluators.costs.size import Size

    model, ctx = load_model(acf_tiny_model), model_context(acf_tiny_model)
    dense = Size().evaluate(model, ctx, "full")["size_mb"]
    ctx.records.begin_step("magnitude")
    MagnitudePruning().apply(model, {"sparsity": 0.5, "scope": "layer"}, ctx)
    sparse = Size().evaluate(model, ctx, "full")["size_mb"]
    assert sparse.value == pytest.approx(dense.value, rel=1e-4) and not sparse.notes
    assert model_size_bits(model, {})[0] == model_size_bits(load_model(acf_tiny_model), {})[0]


@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("group_size", [32, -1])
def test_rtn_checkpoint_is_packed_and_reloads_with_the_same_outputs(acf_tiny_model, tmp_path, symmetric, group_size):
    from acf.models.export import check_reload
    from acf_plugins_builtin.evaluators.costs.size import Size

    model, ctx = load_model(acf_tiny_model), model_context(acf_tiny_model)
    dense = Size().evaluate(model, ctx, "full")["size_mb"].value
    ctx.records.begin_step("rtn")
    ctx.records.methods = [RoundToNearest()]
    RoundToNearest().apply(model, {"bits": 3, "group_size": group_size, "symmetric": symmetric}, ctx)
    size = Size().evaluate(model, ctx, "full")
    folder = ctx.artifact(model)
    config = __import__("json").loads((folder / "config.json").read_text())["quantization_config"]
    assert config["format"] == "pack-quantized"
    assert config["config_groups"]["group_0"]["weights"]["num_bits"] == 3
    assert size["size_mb"].value < dense / 2 and not size["size_mb"].notes  # within 2% of the computed size
    check_reload(model, ctx.tokenizer, folder, atol=1e-5, rtol=0)
