"""CommonsenseQA, TruthfulQA, HumanEval (with its sandbox), BBH, throughput, energy and `acf eval`."""

import json
import math

import pytest

from acf.models.loading import load_model, load_tokenizer
from acf.models.spec import infer_spec
from acf.plugins.context import Context
from acf.testing import deploy_on
from acf.types.measurement import Measurement
from acf_plugins_builtin.evaluators.costs.energy import Energy
from acf_plugins_builtin.evaluators.costs.throughput import Throughput
from acf_plugins_builtin.evaluators.scoring.choices import choice_logprobs
from acf_plugins_builtin.evaluators.scoring.logprobs import continuation_logprobs
from acf_plugins_builtin.evaluators.tasks import humaneval as he
from acf_plugins_builtin.evaluators.tasks.bbh import BBH, extract, macro
from acf_plugins_builtin.evaluators.tasks.commonsenseqa import CommonsenseQA
from acf_plugins_builtin.evaluators.tasks.sandbox import run_program
from acf_plugins_builtin.evaluators.tasks.truthfulqa import TruthfulQA


@pytest.fixture(scope="module")
def tiny(acf_tiny_model):
    spec = infer_spec(json.loads((acf_tiny_model / "config.json").read_text()), source="tiny")
    tok = load_tokenizer(acf_tiny_model)
    return load_model(acf_tiny_model), Context(spec=spec, load_tokenizer=lambda: tok, deploy=deploy_on())


CSQA = [
    {
        "question": "Where do you keep milk cold?",
        "choices": {"label": list("ABCDE"), "text": ["fridge", "oven", "desk", "car", "sun"]},
        "answerKey": "A",
    },
    {
        "question": "What do birds use to fly?",
        "choices": {"label": list("ABCDE"), "text": ["wheels", "wings", "fins", "roots", "hats"]},
        "answerKey": "B",
    },
    {
        "question": "What melts in the sun?",
        "choices": {"label": list("ABCDE"), "text": ["rock", "glass", "ice cream", "iron", "wood"]},
        "answerKey": "C",
    },
    {
        "question": "Where do fish live?",
        "choices": {"label": list("ABCDE"), "text": ["tree", "sky", "desert", "water", "attic"]},
        "answerKey": "D",
    },
] * 2


@pytest.mark.parametrize(
    "budget,mode",
    [(16, "packed"), (64, "packed"), (1024, "packed"), (16, "kv-cache"), (1024, "kv-cache"), (64, "full-logits")],
)
def test_shared_context_choice_scores_equal_scoring_each_choice_alone(tiny, budget, mode, monkeypatch):
    from acf_plugins_builtin.evaluators.scoring import choices as scoring

    if mode == "kv-cache":  # families that take no custom 4D mask: the context's cache repeated per choice
        monkeypatch.setattr(scoring, "_packable", lambda model: False)
    if mode == "full-logits":  # models whose logits are not a plain head (soft-capping, scaling)
        monkeypatch.setattr(scoring, "_plain_head", lambda model: None)
    model, ctx = tiny
    items = [
        ("Question: what is two plus two?\nAnswer:", [" four", " five apples", " a dog"]),
        (
            "Question: a much longer context, with many more words in it than the first one?\nAnswer:",
            [" yes", " no", " maybe so", " certainly not at all", " x", " maybe so"],
        ),
    ]  # a repeated choice
    shared = choice_logprobs(model, ctx.tokenizer, items, batch_tokens=budget)
    alone = continuation_logprobs(model, ctx.tokenizer, [(c, ch) for c, chs in items for ch in chs])
    flat = [x for row in shared for x in row]
    assert [n for _, n in flat] == [n for _, n in alone]
    for (a, _), (b, _) in zip(flat, alone):
        assert a == pytest.approx(b, abs=1e-4)


@pytest.mark.parametrize("variant", ["lm-eval", "cloze"])
def test_commonsenseqa_accuracy_is_the_argmax_of_choice_loglikelihoods(tiny, tmp_path, variant):
    model, ctx = tiny
    path = tmp_path / "csqa.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in CSQA))
    calibration = tmp_path / "train.jsonl"
    calibration.write_text(json.dumps(CSQA[2]) + "\n")
    ev = CommonsenseQA(data_path=str(path), calibration_path=str(calibration), variant=variant)
    out = ev.evaluate(model, ctx, "full")
    items = ev.items_for(ctx, "full")
    assert len(items) == 8  # full: the whole split
    hits = hits_norm = 0
    for context, choices, gold in items:
        if variant == "lm-eval":
            assert context.endswith("\nE. sun\nAnswer:") or "\nA. " in context
            assert choices == [" A", " B", " C", " D", " E"]
        lls = [lp for lp, _ in continuation_logprobs(model, ctx.tokenizer, [(context, c) for c in choices])]
        hits += lls.index(max(lls)) == gold
        normed = [lp / len(c.lstrip(" ")) for lp, c in zip(lls, choices)]  # lm-eval: len(choice) in characters
        hits_norm += normed.index(max(normed)) == gold
    assert out["commonsenseqa_acc"].value == hits / 8 and out["commonsenseqa_acc"].n == 8
    assert out["commonsenseqa_acc_norm"].value == hits_norm / 8
    assert out["commonsenseqa_acc"].items == f"items [0:8] of 8 (--data-path {path})"
    assert ev.evaluate(model, ctx, "subset")["commonsenseqa_acc"].n == 8  # subset (100) > items
    assert (
        CommonsenseQA(data_path=str(path), subset=2, variant=variant)
        .evaluate(model, ctx, "subset")["commonsenseqa_acc"]
        .n
        == 2
    )
    expected = (
        "Question: What melts in the sun?\nAnswer: ice cream"
        if variant == "cloze"
        else ("Question: What melts in the sun?\nA. rock\nB. glass\nC. ice cream\nD. iron\nE. wood\nAnswer: C")
    )
    assert ev.calibration_texts(ctx, 5) == [expected]  # from calibration_path, not the evaluated split


def test_truthfulqa_mc1_and_mc2_by_hand(tiny, tmp_path):
    model, ctx = tiny
    records = [
        {
            "question": f"Is the moon made of cheese {i}?",
            "mc1_targets": {"choices": ["No.", "Yes.", "Only on Sundays."], "labels": [1, 0, 0]},
            "mc2_targets": {"choices": ["No.", "It is rock.", "Yes."], "labels": [1, 1, 0]},
        }
        for i in range(3)
    ]
    path = tmp_path / "tqa.json"
    path.write_text(json.dumps(records))
    ev = TruthfulQA(data_path=str(path))
    out = ev.evaluate(model, ctx, "full")
    mc1 = []
    mc2 = []
    for context, choices, (split, _, _labels2) in ev.items_for(ctx, "full"):
        lls = [lp for lp, _ in continuation_logprobs(model, ctx.tokenizer, [(context, c) for c in choices])]
        mc1.append(lls[:split].index(max(lls[:split])) == 0)
        p = [math.exp(x) for x in lls[split:]]
        mc2.append((p[0] + p[1]) / sum(p))
    assert out["truthfulqa_mc1"].value == sum(mc1) / len(mc1)
    assert out["truthfulqa_mc2"].value == pytest.approx(sum(mc2) / len(mc2), rel=1e-6)
    assert out["truthfulqa_mc2"].low <= out["truthfulqa_mc2"].value <= out["truthfulqa_mc2"].high


def test_the_164_canonical_humaneval_solutions_pass_in_the_sandbox():
    problems = he.HumanEval._packaged()
    assert problems is not None and len(problems) == 164
    outcomes = he.execute([he.program(p, p["canonical_solution"]) for p in problems], timeout=20)
    assert sum(o.passed for o in outcomes) == 164
    # and a wrong completion fails its tests
    assert [o.passed for o in he.execute([he.program(problems[0], "    return None\n")], timeout=20)] == [False]


def test_hostile_programs_are_contained_and_fail(tmp_path):
    outside = tmp_path / "escaped.txt"
    hostile = {
        "infinite loop": "while True:\n    pass\n",
        "fork bomb": "import os\nwhile True:\n    os.fork()\n",
        "write outside": f"open({str(outside)!r}, 'w').write('x')\n",
        "rename outside": f"import os\nos.rename('program.py', {str(outside)!r})\n",
        "network": "import socket\nsocket.create_connection(('127.0.0.1', 22), timeout=1)\n",
        "raw network": "import _socket\n_socket.socket()\n",
        "shell": f"import os\nos.system('touch {outside}')\n",
        "native code": "import ctypes\nctypes.CDLL(None).system(b'true')\n",
        "memory": "x = bytearray(8 * 2**30)\n",
    }
    for name, source in hostile.items():
        outcome = run_program(source, timeout=2, memory_mb=512)
        assert not outcome.passed, name
    assert not outside.exists()
    assert run_program("open('inside.txt', 'w').write('ok')\nassert open('inside.txt').read() == 'ok'\n").passed


def test_pass_at_k_matches_hand_computed_values():
    assert he.pass_at_k(5, 2, 1) == pytest.approx(0.4)
    assert he.pass_at_k(5, 0, 1) == 0.0
    assert he.pass_at_k(10, 3, 2) == pytest.approx(1 - 21 / 45)  # 1 - C(7,2)/C(10,2)
    assert he.pass_at_k(3, 3, 2) == 1.0


def test_humaneval_on_a_tiny_model_generates_and_executes(tiny, tmp_path):
    model, ctx = tiny
    problems = he.HumanEval._packaged()[:2]
    path = tmp_path / "he.jsonl"
    path.write_text("".join(json.dumps(p) + "\n" for p in problems))
    ev = he.HumanEval(data_path=str(path), max_new_tokens=8)
    out = ev.evaluate(model, ctx, "generate")["humaneval_pass_at_1"]
    assert out.n == 2 and out.value == 0.0 and out.high > 0  # random weights write no working code
    sampled = he.HumanEval(data_path=str(path), max_new_tokens=8, samples=2).evaluate(model, ctx, "generate")
    assert sampled["humaneval_pass_at_1"].n == 2
    loglik = ev.evaluate(model, ctx, "loglik")["humaneval_loglik"]
    assert loglik.n == 2 and loglik.value < 0


def test_bbh_extracts_answers_and_macro_averages(tiny, tmp_path):
    pytest.importorskip("lm_eval")  # the exemplars come from lm-eval's task files (in the dev extra)
    assert extract("... So the answer is (B).") == "(B)"
    assert extract("no marker") == "[invalid]"  # as lm-eval: no "the answer is", no answer
    m = macro([Measurement(value=0.5, low=0, high=1, n=4), Measurement(value=1.0, low=0, high=1, n=2)], "full")
    half = 1.959963984540054 * math.sqrt((0.25 / 4 + 0) / 4)
    assert m.value == 0.75 and m.low == pytest.approx(0.75 - half) and m.high == pytest.approx(0.75 + half) and m.n == 6
    model, ctx = tiny
    path = tmp_path / "bbh.jsonl"
    rows = [
        {"task": "navigate", "input": "Take 1 step. Take 1 step back.", "target": "Yes"},
        {"task": "boolean_expressions", "input": "True and False is", "target": "False"},
        {"task": "boolean_expressions", "input": "not False is", "target": "True"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = BBH(data_path=str(path), max_new_tokens=4).evaluate(model, ctx, "full")
    assert set(out) == {"bbh_exact_match", "bbh_navigate", "bbh_boolean_expressions"}
    assert out["bbh_boolean_expressions"].n == 2 and out["bbh_exact_match"].n == 3
    only = BBH(data_path=str(path), tasks="navigate", max_new_tokens=4).evaluate(model, ctx, "full")
    assert set(only) == {"bbh_exact_match", "bbh_navigate"}
    with pytest.raises(Exception, match="unknown BBH task"):
        BBH(data_path=str(path), tasks="chess").prepare(Context(spec=ctx.spec))


def test_throughput_and_energy(tiny):
    model, ctx = tiny
    out = Throughput(batch_sizes="1,2", repeats=2, new_tokens=4).evaluate(model, ctx, "full")
    assert set(out) == {"throughput_tps_b1", "throughput_tps_b2", "throughput_tps"}
    assert out["throughput_tps"].value == out["throughput_tps_b2"].value > 0
    energy = Energy(repeats=2, new_tokens=4).evaluate(model, ctx, "full")["energy_j_per_token"]
    assert energy.value > 0 and energy.low <= energy.value <= energy.high
    from acf.toolkit import model_device
    from acf_plugins_builtin.evaluators.costs.energy import EnergyCounter

    assert energy.estimated == (EnergyCounter(model_device(model)).source == "estimate")


def test_acf_eval_a_model_and_a_run_candidate(acf_cli, acf_tiny_model, gsm8k_file, tmp_path):
    import acf

    code, out, err = acf_cli(
        [
            "eval",
            str(acf_tiny_model),
            "--evaluators",
            "gsm8k,size",
            "--data-path",
            str(gsm8k_file),
            "--limit",
            "6",
            "--fidelity",
            "cheapest",
            "--json",
            "-q",
        ]
    )
    assert code == 0, err
    data = json.loads(out)
    assert {"gsm8k_loglik", "size_mb"} <= set(data["measurements"]) and data["measurements"]["gsm8k_loglik"]["n"] == 6
    result = acf.compress(
        str(acf_tiny_model),
        "gsm8k",
        run_dir=tmp_path / "run",
        episodes=2,
        methods=["rtn"],
        evaluators=["size"],
        evaluator_options={"gsm8k": {"data_path": str(gsm8k_file), "limit": 6}},
    )
    ep = result.candidates[0]
    code, out, err = acf_cli(
        [
            "eval",
            f"{tmp_path / 'run'}:{ep.id}",
            "--evaluators",
            "gsm8k",
            "--fidelity",
            "loglik",
            "--eval-option",
            "gsm8k.limit=6",
            "--eval-option",
            f"gsm8k.data_path={gsm8k_file}",
            "--json",
            "-q",
        ]
    )
    assert code == 0, err
    assert json.loads(out)["measurements"]["gsm8k_loglik"]["value"] == ep.measurements["gsm8k_loglik"].value
    code, out, err = acf_cli(["eval", str(acf_tiny_model), "--evaluators", "size,latency"])
    assert code == 2 and "needs at least one task" in err
    code, out, err = acf_cli(["eval", f"{tmp_path / 'run'}:ep099", "--evaluators", "gsm8k"])
    assert code == 2 and "has no candidate 'ep099'" in err
    # the older spellings still work, and say they are deprecated: --tasks, and the fidelity alias `cheap`
    old = ["eval", str(acf_tiny_model), "--tasks", "gsm8k,size", "--data-path", str(gsm8k_file), "--limit", "6"]
    code, out, err = acf_cli([*old, "--fidelity", "cheap", "--json", "-q"])
    assert code == 0 and "--tasks is deprecated" in err, err
    assert json.loads(out)["measurements"]["gsm8k_loglik"] == data["measurements"]["gsm8k_loglik"]


def test_gpu_memory_monitor_samples_nvml_and_is_inert_on_cpu(monkeypatch):
    import sys
    import time
    import types

    from acf.system.gpu_monitor import GpuMemoryMonitor

    with GpuMemoryMonitor("cpu") as cpu:
        pass
    assert cpu.peak_mb is None
    used = iter([1e9, 3e9] + [2e9] * 1000)  # bytes in use, as NVML would report them
    fake = types.SimpleNamespace(
        nvmlInit=lambda: None,
        nvmlDeviceGetHandleByIndex=lambda i: i,
        nvmlDeviceGetMemoryInfo=lambda h: types.SimpleNamespace(used=next(used)),
    )
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    with GpuMemoryMonitor("cuda:0", interval_s=0.001) as gpu:
        time.sleep(0.05)
    assert gpu.peak_mb == 3000.0


def test_generation_from_a_shared_preamble_equals_generating_each_prompt_whole(tiny, monkeypatch):
    from acf_plugins_builtin.evaluators.scoring import logprobs as scoring
    from acf_plugins_builtin.evaluators.scoring.generation import greedy_generate

    model, ctx = tiny
    preamble = "Q: What is one plus one?\nA: One plus one is two. The answer is 2.\n\n" * 3
    prompts = [preamble + f"Q: {q}\nA:" for q in ("What is two plus two?", "How many legs has a cat, really?", "Why?")]
    assert scoring.shared_prefix([ctx.tokenizer(p)["input_ids"] for p in prompts])
    shared = greedy_generate(model, ctx.tokenizer, prompts, max_new_tokens=12)
    monkeypatch.setattr(scoring, "MIN_SHARED_PREFIX", 10**9)
    whole = greedy_generate(model, ctx.tokenizer, prompts, max_new_tokens=12)
    assert shared == whole and all(shared)
