"""A model that outputs NaN: no task scores it above chance, its episode fails with the reason, the frontier and the
cache never hold it; a zero baseline still rewards an improvement."""

import copy
import json

import pytest
import torch

import acf
from acf import Method, Stage, hookimpl
from acf.models.loading import load_model
from acf.testing import model_context, registered_plugin
from acf.types.measurement import best_index
from acf.types.objectives import Constraint, Metric, gain
from acf_plugins_builtin.evaluators.tasks.commonsenseqa import CommonsenseQA
from acf_plugins_builtin.evaluators.tasks.truthfulqa import TruthfulQA

NAN = float("nan")


class Poison(Method):
    name = "poison"
    description = "every embedding becomes NaN (what a broken fp16 conversion can do)"
    stage = Stage.QUANTIZE

    def apply(self, model, params, ctx):
        with torch.no_grad():
            model.get_input_embeddings().weight.fill_(NAN)
        return model


class PoisonPlugin:
    @hookimpl
    def register_methods(self, register):
        register(Poison)


def truthfulqa_file(path):
    records = [
        {
            "question": f"Is the moon made of cheese {i}?",
            "mc1_targets": {"choices": ["No.", "Yes.", "Only on Sundays.", "Maybe."], "labels": [1, 0, 0, 0]},
            "mc2_targets": {"choices": ["No.", "It is rock.", "Yes."], "labels": [1, 1, 0]},
        }
        for i in range(8)
    ]
    path.write_text(json.dumps(records))
    return path


def commonsenseqa_file(path):
    rows = [
        {
            "question": f"Where do you keep milk cold {i}?",
            "choices": {"label": list("ABCDE"), "text": ["fridge", "oven", "desk", "car", "sun"]},
            "answerKey": "ABCDE"[i % 5],
        }
        for i in range(8)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_best_index_never_picks_nan():
    assert best_index([NAN, 1.0, 3.0]) == 2
    assert best_index([NAN, NAN]) == -1
    assert best_index([2.0, 2.0, 1.0]) == 0  # the first of equal scores, as numpy's argmax
    assert best_index([float("-inf"), -5.0]) == 1


def test_multiple_choice_on_a_nan_model_scores_nothing(acf_tiny_model, tmp_path):
    ctx = model_context(acf_tiny_model)
    model = Poison().apply(copy.deepcopy(load_model(acf_tiny_model)), {}, ctx)
    assert torch.isnan(model(torch.tensor([[1, 2, 3]])).logits).all()
    tqa = TruthfulQA(data_path=str(truthfulqa_file(tmp_path / "tqa.json"))).evaluate(model, ctx, "full")
    assert tqa["truthfulqa_mc1"].value == 0.0  # the gold answer is always first: NaN must not pick it
    assert tqa["truthfulqa_mc2"].value != tqa["truthfulqa_mc2"].value  # NaN, which fails the episode
    csqa = CommonsenseQA(data_path=str(commonsenseqa_file(tmp_path / "csqa.jsonl"))).evaluate(model, ctx, "full")
    assert csqa["commonsenseqa_acc"].value == 0.0 and csqa["commonsenseqa_acc_norm"].value == 0.0


def test_a_nan_candidate_fails_its_episode_and_stays_off_the_frontier(acf_tiny_model, tmp_path):
    data = truthfulqa_file(tmp_path / "tqa.json")
    with registered_plugin(PoisonPlugin(), name="poison"):
        result = acf.compress(
            str(acf_tiny_model),
            "truthfulqa",
            episodes=3,
            seed=0,
            run_dir=tmp_path / "run",
            methods=["poison", "rtn"],
            evaluators=["size"],
            max_steps=1,
            strategies=[{"steps": [{"method": "poison", "params": {}}]}],
            evaluator_options={"truthfulqa": {"data_path": str(data)}},
        )
        poisoned = result.candidates[0]
        assert poisoned.strategy.pipeline == ("poison",) and poisoned.status == "failed"
        assert "non-finite model output" in poisoned.reason and "truthfulqa_mc2" in poisoned.reason
        assert poisoned.id not in [c.id for c in result.frontier.candidates]
        assert result.frontier.recommended != poisoned.id
        stored = json.loads((tmp_path / "run" / "episode_001" / "result.json").read_text())
        assert stored["status"] == "failed" and not stored["measurements"]
        # the same strategy again, in a new run: nothing was cached, so it is measured (and fails) again
        again = acf.compress(
            str(acf_tiny_model),
            "truthfulqa",
            episodes=1,
            seed=0,
            run_dir=tmp_path / "again",
            methods=["poison", "rtn"],
            evaluators=["size"],
            max_steps=1,
            strategies=[{"steps": [{"method": "poison", "params": {}}]}],
            evaluator_options={"truthfulqa": {"data_path": str(data)}},
        )
        assert again.candidates[0].status == "failed" and not again.candidates[0].cached


def test_a_nan_value_violates_every_constraint():
    for text in ("size_mb<=100", "gsm8k_accuracy>=0.1", "latency_ms<1.1*baseline"):
        assert Constraint.parse(text).violation(NAN, 1.0) > 0


@pytest.mark.parametrize("direction,better,worse", [("max", 0.05, -0.05), ("min", -0.05, 0.05)])
def test_an_improvement_on_a_zero_baseline_has_a_positive_gain(direction, better, worse):
    metric = Metric(name="m", direction=direction)
    assert gain(metric, 0.0, 0.0) == 1.0
    assert gain(metric, better, 0.0) > 1.0 > gain(metric, worse, 0.0)
    # unchanged for ordinary baselines: 1 at the baseline, 0 at the reference point
    assert gain(metric, 0.5, 0.5) == 1.0
    assert gain(metric, 0.0 if direction == "max" else 1.0, 0.5) == 0.0
