"""Candidates written to disk once per content; size read from the checkpoint, the computed size kept as a check."""

import json
import os
import time

import pytest
import torch

from acf import Records, TensorFormat
from acf.models.artifact import ArtifactStore, content_hash, tensor_bytes, weight_bytes
from acf.models.loading import load_model
from acf.testing import model_context
from acf_plugins_builtin.evaluators.costs.size import Size


def test_a_candidate_is_written_once_per_content(acf_tiny_model):
    model, ctx = load_model(acf_tiny_model), model_context(acf_tiny_model)
    builds = []

    def build(folder):
        builds.append(folder)
        (folder / "weights.bin").write_bytes(b"x" * 10)

    first = ctx.artifact(model, "test", build=build)
    assert ctx.artifact(model, "test", build=build) == first  # same candidate: memoised
    ctx.records = Records()  # a new candidate with the same weights: found by its content
    assert ctx.artifact(model, "test", build=build) == first and len(builds) == 1
    with torch.no_grad():
        model.model.layers[0].mlp.down_proj.weight[0, 0] += 1.0
    ctx.records = Records()
    assert ctx.artifact(model, "test", build=build) != first and len(builds) == 2  # one weight changed: another


def test_the_content_hash_covers_weights_formats_and_writers(acf_tiny_model):
    model = load_model(acf_tiny_model)
    base = content_hash(model, {}, [])
    assert content_hash(model, {}, []) == base
    fmt = {"model.layers.0.mlp.down_proj.weight": TensorFormat(bits=4, group_size=32)}
    assert content_hash(model, fmt, []) != base
    assert content_hash(model, {}, ["RoundToNearest"]) != base
    model.config.rope_theta = 1234.0
    assert content_hash(model, {}, []) != base


def test_a_new_step_forgets_what_was_written_for_the_model_before_it(acf_tiny_model):
    model, ctx = load_model(acf_tiny_model), model_context(acf_tiny_model)
    ctx.records.begin_step("one")
    first = ctx.artifact(model)
    ctx.records.begin_step("two")
    with torch.no_grad():
        model.model.layers[0].mlp.up_proj.weight.mul_(0.5)
    assert ctx.artifact(model) != first


def test_the_store_removes_the_least_recently_used_past_its_limit(tmp_path):
    store = ArtifactStore(tmp_path / "store", limit=2500)

    def of(size):
        return lambda folder: (folder / "w").write_bytes(b"x" * size)

    a, b = store.get("a", of(1000)), store.get("b", of(1000))
    os.utime(a / ".complete", (time.time() - 100, time.time() - 100))
    store.get("b", of(1000))  # used again: the most recent
    c = store.get("c", of(1000))  # 3000 > 2500: the least recently used (a) goes
    assert not a.exists() and b.exists() and c.exists()
    big = store.get("big", of(5000))  # bigger than the limit by itself: kept (it is in use), the others go
    assert big.exists() and not b.exists() and not c.exists()


def test_a_half_written_export_is_never_used(tmp_path):
    store = ArtifactStore(tmp_path / "store")
    leftover = tmp_path / "store" / "k"
    leftover.mkdir(parents=True)
    (leftover / "w").write_bytes(b"torn")  # a killed export: no completion marker
    folder = store.get("k", lambda f: (f / "w").write_bytes(b"whole"))
    assert (folder / "w").read_bytes() == b"whole"

    def dies(folder):
        (folder / "w").write_bytes(b"part")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        store.get("other", dies)
    assert not (tmp_path / "store" / "other").exists()
    assert [p.name for p in (tmp_path / "store").iterdir()] == ["k"]  # no staging folder left behind


def test_size_is_the_checkpoint_on_disk(acf_tiny_model):
    model, ctx = load_model(acf_tiny_model), model_context(acf_tiny_model)
    size = Size().evaluate(model, ctx, "full")
    folder = ctx.checkpoint(model)
    assert size["size_mb"].value * 1e6 == weight_bytes(folder)
    on_disk = sum(
        p.stat().st_size
        for p in folder.iterdir()
        if p.suffix in (".safetensors", ".json")
        and not p.name.startswith("tokenizer")
        and p.name != "special_tokens_map.json"
    )
    assert weight_bytes(folder) == on_disk  # weights and configuration; the tokenizer is not the candidate's
    fp32 = sum(p.numel() for p in model.parameters()) * 4
    assert tensor_bytes(folder) == fp32 and not size["size_mb"].notes
    assert size["bits_per_weight"].value == pytest.approx(8 * weight_bytes(folder) / (fp32 / 4))


def test_a_size_computed_from_a_wrong_format_is_reported_not_hidden(acf_tiny_model):
    model, ctx = load_model(acf_tiny_model), model_context(acf_tiny_model)
    for name, _ in [(n, m) for n, m in model.named_modules() if n.endswith("proj")]:
        ctx.set_tensor_format(f"{name}.weight", TensorFormat(bits=4, group_size=32))  # claims 4 bits, stores fp32
    size = Size().evaluate(model, ctx, "full")["size_mb"]
    assert size.value * 1e6 == pytest.approx(weight_bytes(ctx.checkpoint(model)))  # the truth is what is on disk
    assert size.notes and "off the" in size.notes[0] and "computed from their formats" in size.notes[0]


def test_gptq_exports_packed_and_the_candidate_stays_as_measured(acf_tiny_model, gsm8k_file):
    pytest.importorskip("llmcompressor")
    from acf.models.export import check_reload
    from acf_plugins_builtin.evaluators.tasks.gsm8k import GSM8K
    from acf_plugins_builtin.methods.gptq import GPTQ

    model = load_model(acf_tiny_model)
    ctx = model_context(acf_tiny_model, dataset=GSM8K(data_path=str(gsm8k_file)))
    dense = weight_bytes(ctx.artifact(model))
    ctx.records.begin_step("gptq")
    ctx.records.methods = [GPTQ()]
    model = GPTQ().apply(
        model,
        {
            "bits": 4,
            "group_size": 32,
            "symmetric": False,
            "dampening": 0.01,
            "actorder": "none",
            "samples": 8,
            "seq_len": 64,
        },
        ctx,
    )
    ids = torch.tensor([[1, 5, 9, 22, 40, 7]])
    with torch.no_grad():
        before = model(ids).logits
    size = Size().evaluate(model, ctx, "full")["size_mb"]
    folder = ctx.checkpoint(model)
    assert json.loads((folder / "config.json").read_text())["quantization_config"]["format"] == "pack-quantized"
    assert size.value * 1e6 < dense / 2 and not size.notes  # float32 scales and packed zero points counted
    weights = [n for n, p in model.named_parameters() if n.endswith("proj.weight")]
    assert weights and not [n for n, _ in model.named_parameters() if n.endswith("weight_packed")]  # unpacked
    with torch.no_grad():
        assert torch.equal(model(ids).logits, before)
    check_reload(model, ctx.tokenizer, folder)
