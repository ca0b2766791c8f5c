"""Model-family adapters: structured pruning and layer drop on tiny Llama, Qwen2, Phi-3 and Gemma models built
offline from configs — each either works (and exports) or is refused at validation with the reason."""

import copy
import json

import pytest
import torch

from acf.errors import StrategyError
from acf.models.export import check_reload
from acf.models.families import family_of, unsupported_family
from acf.models.loading import load_model
from acf.models.spec import infer_spec
from acf.plugins.validation import validate_strategy
from acf.testing import build_tiny_model, model_context
from acf.types.strategy import Step, Strategy
from acf_plugins_builtin.evaluators.tasks.gsm8k import GSM8K
from acf_plugins_builtin.methods.layer_drop import LayerDrop
from acf_plugins_builtin.methods.structured import StructuredPruning

pytest.importorskip("torch_pruning", reason="the pruning extra is part of acf[dev]")

FAMILIES = ["llama", "qwen2", "phi3", "gemma", "gemma2"]


@pytest.fixture(scope="module", params=FAMILIES)
def tiny(request, tmp_path_factory, gsm8k_file):
    folder = build_tiny_model(
        tmp_path_factory.mktemp(request.param),
        model_type=request.param,
        hidden=512,
        intermediate=512,
        layers=3,
        heads=4,
        kv_heads=2,
    )
    return request.param, folder, model_context(folder, dataset=GSM8K(data_path=str(gsm8k_file)))


def generates(model, tokenizer) -> bool:
    ids = tokenizer("Tom has 3 apples", return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        out = model.generate(ids, max_new_tokens=3, do_sample=False)
    return out.shape[1] == ids.shape[1] + 3 and torch.isfinite(model(ids).logits).all().item()


def test_every_family_has_an_adapter_that_finds_its_layers(tiny):
    model_type, folder, ctx = tiny
    family = family_of(model_type)
    model = load_model(folder)
    layers = family.decoder_layers(model)
    assert len(layers) == 3
    assert family.down_proj(layers[0]).out_features == 512
    assert sum(p.out_features for p in family.mlp_inputs(layers[0])) == 2 * 512
    assert sum(p.out_features for p in family.attention_inputs(layers[0])) == (4 + 2 + 2) * 128


def test_layer_drop_works_and_exports_on_every_family(tiny, tmp_path):
    model_type, folder, ctx = tiny
    assert LayerDrop().applies_to(ctx.spec) is None
    model = LayerDrop().apply(copy.deepcopy(load_model(folder)), {"layers": 1, "samples": 16}, ctx)
    assert model.config.num_hidden_layers == 2 and len(family_of(model_type).decoder_layers(model)) == 2
    assert len(ctx.records.steps[-1]["dropped_layers"]) == 1
    assert generates(model, ctx.tokenizer)
    model.save_pretrained(tmp_path)
    ctx.tokenizer.save_pretrained(tmp_path)
    check_reload(model, ctx.tokenizer, tmp_path)


def test_structured_mlp_channels_work_and_export_on_every_family(tiny, tmp_path):
    model_type, folder, ctx = tiny
    method = StructuredPruning()
    assert method.applies_to(ctx.spec) is None
    base = load_model(folder)
    model = method.apply(copy.deepcopy(base), {"mlp_ratio": 0.5, "samples": 8}, ctx)
    family = family_of(model_type)
    assert model.config.intermediate_size == 256
    for layer in family.decoder_layers(model):
        assert family.down_proj(layer).in_features == 256
        assert sum(p.out_features for p in family.mlp_inputs(layer)) == 2 * 256
    assert generates(model, ctx.tokenizer)
    model.save_pretrained(tmp_path)
    ctx.tokenizer.save_pretrained(tmp_path)
    check_reload(model, ctx.tokenizer, tmp_path)


def test_structured_changes_a_family_cannot_take_are_refused_at_validation(tiny):
    model_type, folder, ctx = tiny
    space = StructuredPruning().space(ctx.spec)
    methods = {"structured": StructuredPruning()}
    if model_type == "phi3":
        assert "kv_groups" not in space.names()
        with pytest.raises(StrategyError, match="kv_groups"):
            validate_strategy(Strategy(steps=[Step(method="structured", params={"kv_groups": 1})]), methods, ctx.spec)
    if model_type.startswith("gemma"):
        assert "hidden_ratio" not in space.names()
        assert "sqrt(hidden_size)" in unsupported_family(model_type, "hidden")
        with pytest.raises(StrategyError, match="hidden_ratio"):
            validate_strategy(
                Strategy(steps=[Step(method="structured", params={"hidden_ratio": 0.25})]), methods, ctx.spec
            )
    if model_type in ("llama", "qwen2"):
        assert {"hidden_ratio", "kv_groups"} <= set(space.names())
        model = StructuredPruning().apply(
            copy.deepcopy(load_model(folder)),
            {"mlp_ratio": 0.0, "hidden_ratio": 0.25, "kv_groups": 1, "samples": 8},
            ctx,
        )
        assert (model.config.hidden_size, model.config.num_key_value_heads) == (384, 1)
        assert generates(model, ctx.tokenizer)


def test_a_family_without_an_adapter_is_refused_before_any_episode(acf_tiny_model):
    config = json.loads((acf_tiny_model / "config.json").read_text())
    spec = infer_spec({**config, "model_type": "cohere", "architectures": ["CohereForCausalLM"]}, source="x")
    for method in (StructuredPruning(), LayerDrop()):
        reason = method.applies_to(spec)
        assert reason and "no layer adapter for model type 'cohere'" in reason


PREAMBLE = "Q: What is the capital of France?\nA: Paris is the capital of France.\n\n" * 3


@pytest.mark.parametrize("preamble", ["", PREAMBLE], ids=["own-contexts", "shared-preamble"])
def test_packed_choice_scoring_equals_scoring_each_choice_alone_on_every_family(tiny, preamble):
    from acf.toolkit import split_pair
    from acf_plugins_builtin.evaluators.scoring import choices as choice_scoring
    from acf_plugins_builtin.evaluators.scoring import logprobs as scoring

    model_type, folder, ctx = tiny
    model = load_model(folder)
    items = [
        (preamble + "Question: what is two plus two?\nAnswer:", [" four", " five apples", " a dog", " four"]),
        (
            preamble + "Question: a longer context, with more words in it?\nAnswer:",
            [" yes", " maybe so", " not at all"],
        ),
    ]
    shared_tokens = scoring.shared_prefix([split_pair(ctx.tokenizer, c, chs[0])[0] for c, chs in items])
    assert bool(shared_tokens) == bool(preamble)  # the preamble runs once for both questions
    shared = [x for row in choice_scoring.choice_logprobs(model, ctx.tokenizer, items) for x in row]
    alone = scoring.continuation_logprobs(model, ctx.tokenizer, [(c, ch) for c, chs in items for ch in chs])
    assert choice_scoring._packable(model) == (model_type != "gemma2")  # Gemma 2 soft-caps its logits
    assert [n for _, n in shared] == [n for _, n in alone]
    assert [a for a, _ in shared] == pytest.approx([b for b, _ in alone], abs=1e-4)
