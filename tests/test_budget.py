"""The per-episode budget of estimated compression time."""

import importlib

import pytest

import acf
from acf.session.session import Session


def run(tiny, data, run_dir, **kw):
    return acf.compress(
        str(tiny),
        "gsm8k",
        run_dir=run_dir,
        seed=0,
        evaluator_options={"gsm8k": {"data_path": str(data), "limit": 4}},
        **kw,
    )


def test_over_budget_proposals_are_redrawn_without_using_episodes(acf_tiny_model, gsm8k_file, tmp_path, my_plugin):
    result = run(
        acf_tiny_model,
        gsm8k_file,
        tmp_path / "a",
        episodes=6,
        methods=["costly", "rtn"],
        max_steps=1,
        searcher="random",
        episode_budget_s=30,
    )
    assert len(result.candidates) == 6 and all(c.status == "ok" for c in result.candidates)
    efforts = [c.strategy.steps[0].params["effort"] for c in result.candidates if c.strategy.pipeline == ("costly",)]
    assert efforts and all(1 + 100 * e <= 30 for e in efforts)
    # the redraws replay identically: a resumed copy of the run proposes the same strategies
    again = run(
        acf_tiny_model,
        gsm8k_file,
        tmp_path / "b",
        episodes=6,
        methods=["costly", "rtn"],
        max_steps=1,
        searcher="random",
        episode_budget_s=30,
    )
    assert [c.strategy for c in again.candidates] == [c.strategy for c in result.candidates]


def test_a_named_method_that_cannot_fit_the_budget_is_an_error(acf_tiny_model, gsm8k_file, tmp_path, my_plugin):
    with pytest.raises(acf.AcfError, match="costly does not apply .* fastest setting needs about 1 s per episode"):
        run(acf_tiny_model, gsm8k_file, tmp_path / "a", episodes=1, methods=["costly"], episode_budget_s=0.5)


def test_unnamed_methods_that_cannot_fit_are_left_out(acf_tiny_model, gsm8k_file, tmp_path):
    options = {"dataset": "gsm8k", "evaluator_options": {"gsm8k": {"data_path": str(gsm8k_file)}}}
    with pytest.raises(acf.AcfError, match="no compression method applies"):
        Session(str(acf_tiny_model), episode_budget_s=1e-6, **options)
    session = Session(str(acf_tiny_model), episode_budget_s=30.0, **options)
    assert {"rtn", "magnitude", "gptq", "nf4", "structured"} <= set(session.methods)


@pytest.mark.parametrize(
    "module,method,extra",
    [
        ("acf_plugins_builtin.methods.llmc", "gptq", "llmcompressor"),
        ("acf_plugins_builtin.methods.bnb", "nf4", "bnb"),
        ("acf_plugins_builtin.methods.structured", "structured", "pruning"),
        ("acf_plugins_builtin.methods.lora", "lora", "lora"),
        ("acf_plugins_builtin.methods.autoround", "autoround", "autoround"),
    ],
)
def test_a_missing_backend_names_its_extra(module, method, extra, monkeypatch, acf_tiny_model):
    import json

    from acf.models.spec import infer_spec
    from acf.plugins.manager import registry

    spec = infer_spec(json.loads((acf_tiny_model / "config.json").read_text()), source="tiny")
    mod = importlib.import_module(module)
    monkeypatch.setattr(mod.importlib.util, "find_spec", lambda name: None)
    reason = registry().get("method", method)().applies_to(spec)
    assert f"pip install 'acf[{extra}]'" in reason
