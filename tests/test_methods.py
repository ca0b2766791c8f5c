import pytest
import torch

from acf import StrategyError
from acf.models.loading import load_model
from acf.testing import model_context
from acf_plugins_builtin.evaluators.size import model_size_bits
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
    assert fmt.effective_bits(linear.in_features) == pytest.approx(4 + (16 + 8) / 32)
    bits, _ = model_size_bits(model, formats)
    quantized = sum(m.weight.numel() for n, m in model.named_modules() if f"{n}.weight" in formats)
    embed = model.get_input_embeddings().weight.numel()
    norms = count - quantized - embed
    assert bits == pytest.approx(quantized * (4 + 24 / 32) + (embed + norms) * 32)
    ids = torch.tensor([[1, 5, 9, 12]])
    assert model.generate(ids, max_new_tokens=4, do_sample=False).shape[1] == 8


@pytest.mark.parametrize("sparsity", [0.1, 0.37, 0.5, 0.8])
@pytest.mark.parametrize("scope", ["layer", "row"])
def test_magnitude_reaches_requested_sparsity(acf_tiny_model, sparsity, scope):
    model = load_model(acf_tiny_model)
    embeddings = model.get_input_embeddings().weight.clone()
    MagnitudePruning().apply(model, {"sparsity": sparsity, "scope": scope}, model_context(acf_tiny_model))
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear) and module is not model.get_output_embeddings():
            zeros = (module.weight == 0).float().mean().item()
            assert zeros == pytest.approx(sparsity, abs=1.0 / module.weight.shape[1])
    assert torch.equal(model.get_input_embeddings().weight, embeddings)  # embeddings (tied head) untouched


def test_magnitude_keeps_the_largest_weights():
    from acf_plugins_builtin.methods.magnitude import prune_magnitude

    w = torch.nn.Parameter(torch.tensor([[0.1, -3.0, 0.2, 4.0], [-0.5, 0.05, 2.0, -1.0]]))
    prune_magnitude(w, 0.5, "row")
    assert w.data.tolist() == [[0.0, -3.0, 0.0, 4.0], [0.0, 0.0, 2.0, -1.0]]


def test_sparse_size_uses_bitmask_only_when_smaller(acf_tiny_model):
    model = load_model(acf_tiny_model)
    dense_bits, _ = model_size_bits(model, {})
    MagnitudePruning().apply(model, {"sparsity": 0.5, "scope": "layer"}, model_context(acf_tiny_model))
    sparse_bits, _ = model_size_bits(model, {})
    pruned = sum(m.weight.numel() for n, m in model.named_modules()
                 if isinstance(m, torch.nn.Linear) and m is not model.get_output_embeddings())
    # each pruned matrix: 1 bit per element + 32 bits per surviving weight instead of 32 bits per element
    assert dense_bits - sparse_bits == pytest.approx(pruned * (32 - 1 - 16), rel=1e-3)
