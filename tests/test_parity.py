"""acf's default task variants against lm-eval itself, item by item, on files the tests write: the same choice for
every multiple-choice item and the same aggregate (to 1e-6 at fp32); for the generation tasks the same prompt
for every item and the same extracted answer and score for the same generated text."""

import json
import random
from pathlib import Path

import pytest

from acf.testing import load_model, model_context
from acf_plugins_builtin.evaluators.scoring.choices import choice_logprobs
from acf_plugins_builtin.evaluators.tasks import bbh, gsm8k
from acf_plugins_builtin.evaluators.tasks.commonsenseqa import CommonsenseQA
from acf_plugins_builtin.evaluators.tasks.truthfulqa import TruthfulQA

lm_eval = pytest.importorskip("lm_eval", reason="lm-eval is in the eval extra (and so in acf[dev])")
TASKS = Path(lm_eval.__file__).parent / "tasks"
WORDS = (
    "apple river stone cloud green music paper window silver garden bread candle mirror forest engine "
    "ladder pocket rabbit summer thunder"
).split()


def sentence(rng, n=4):
    return " ".join(rng.choice(WORDS) for _ in range(n))


def csqa_records(n=24):
    rng = random.Random(0)
    return [
        {
            "id": str(i),
            "question": f" Where would you find a {sentence(rng)}? ",
            "question_concept": "x",
            "choices": {"label": list("ABCDE"), "text": [sentence(rng, rng.randint(1, 3)) for _ in range(5)]},
            "answerKey": "ABCDE"[i % 5],
        }
        for i in range(n)
    ]


def tqa_records(n=22):
    rng = random.Random(1)

    def targets(k, true):
        return {
            "choices": [sentence(rng, rng.randint(2, 5)) + "." for _ in range(k)],
            "labels": [1] * true + [0] * (k - true),
        }

    return [
        {
            "question": f"What happens to a {sentence(rng, 2)} in {sentence(rng, 1)}?",
            "mc1_targets": targets(rng.randint(3, 5), 1),
            "mc2_targets": targets(rng.randint(3, 6), rng.randint(1, 2)),
        }
        for _ in range(n)
    ]


def wikitext_page(rng, words):
    """A page in WikiText's tokenized style (" @-@ ", " , ", " = Title = "), so the detokenizer has work to do."""
    body = " ".join(rng.choice(WORDS + ["@-@", ",", ".", "'s", "( x )", "N"]) for _ in range(words))
    return f" = {rng.choice(WORDS).title()} = \n {body} \n"


def write_task(folder: Path, name: str, base: Path, data: Path, split: str, extra: str = "") -> None:
    (folder / f"{name}.yaml").write_text(
        f"include: {base}\ntask: {name}\ndataset_path: json\ndataset_name: null\n"
        f"dataset_kwargs:\n  data_files:\n    {split}: {data}\n{extra}"
    )


@pytest.fixture(scope="module")
def harness(tmp_path_factory, acf_tiny_model):
    """lm-eval's HF backend on the same tiny model and tokenizer, and a task folder for the written files."""
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    folder = tmp_path_factory.mktemp("lm-eval-tasks")
    data = tmp_path_factory.mktemp("data")
    (data / "csqa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in csqa_records()))
    (data / "tqa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in tqa_records()))
    write_task(
        folder,
        "acf_commonsense_qa",
        TASKS / "commonsense_qa" / "default.yaml",
        data / "csqa.jsonl",
        "validation",
        "training_split: null\n",
    )
    write_task(
        folder, "acf_truthfulqa_mc1", TASKS / "truthfulqa" / "truthfulqa_mc1.yaml", data / "tqa.jsonl", "validation"
    )
    write_task(
        folder, "acf_truthfulqa_mc2", TASKS / "truthfulqa" / "truthfulqa_mc2.yaml", data / "tqa.jsonl", "validation"
    )
    write_task(folder, "acf_gsm8k_cot", TASKS / "gsm8k" / "gsm8k-cot.yaml", data / "gsm8k.jsonl", "test")
    (data / "bbh.jsonl").write_text(json.dumps({"input": "Take 1 step. Take 1 step back.", "target": "Yes"}) + "\n")
    pages = [wikitext_page(random.Random(i), 30 + 400 * (i % 3)) for i in range(20)]
    (data / "wiki.jsonl").write_text("".join(json.dumps({"page": p}) + "\n" for p in pages))
    write_task(
        folder,
        "acf_wikitext",
        TASKS / "wikitext" / "wikitext.yaml",
        data / "wiki.jsonl",
        "test",
        "training_split: null\nvalidation_split: null\n",
    )
    write_task(folder, "acf_bbh_navigate", TASKS / "bbh" / "cot_fewshot" / "navigate.yaml", data / "bbh.jsonl", "test")
    from acf.testing import write_gsm8k

    write_gsm8k(data / "gsm8k.jsonl", n=20)
    model = load_model(acf_tiny_model)
    ctx = model_context(acf_tiny_model)
    lm = HFLM(pretrained=model, tokenizer=ctx.tokenizer, batch_size=8)
    return lm, TaskManager(include_path=str(folder)), data, model, ctx


def lm_eval_samples(harness, task: str):
    from lm_eval import simple_evaluate

    lm, manager, *_ = harness
    out = simple_evaluate(
        model=lm,
        tasks=[task],
        task_manager=manager,
        log_samples=True,
        bootstrap_iters=0,
        random_seed=0,
        numpy_random_seed=0,
        torch_random_seed=0,
        fewshot_random_seed=0,
    )
    samples = sorted(out["samples"][task], key=lambda s: s["doc_id"])
    return samples, out["results"][task]


def test_commonsense_qa_matches_lm_eval_item_by_item(harness):
    _, _, data, model, ctx = harness
    samples, results = lm_eval_samples(harness, "acf_commonsense_qa")
    ev = CommonsenseQA(data_path=str(data / "csqa.jsonl"), calibration_path=str(data / "csqa.jsonl"))
    items = ev.items_for(ctx, "full")
    assert len(items) == len(samples) >= 20
    ours = choice_logprobs(model, ctx.tokenizer, [(c, ch) for c, ch, _ in items])
    for (context, choices, _gold), scores, sample in zip(items, ours, samples):
        theirs = [ll for ll, _ in sample["filtered_resps"]]
        assert sample["arguments"][0][0] == context  # the same prompt
        assert [c for _, c in sample["arguments"]] == choices  # the same continuations
        assert max(range(5), key=[s for s, _ in scores].__getitem__) == max(range(5), key=theirs.__getitem__)
        assert [s for s, _ in scores] == pytest.approx(theirs, abs=1e-4)
    acc = ev.score(items, ours, "full")["commonsenseqa_acc"].value
    assert acc == pytest.approx(results["acc,none"], abs=1e-6)


@pytest.mark.parametrize("which", ["mc1", "mc2"])
def test_truthfulqa_matches_lm_eval_item_by_item(harness, which):
    _, _, data, model, ctx = harness
    samples, results = lm_eval_samples(harness, f"acf_truthfulqa_{which}")
    ev = TruthfulQA(data_path=str(data / "tqa.jsonl"), calibration_path=str(data / "tqa.jsonl"))
    items = ev.items_for(ctx, "full")
    assert len(items) == len(samples) >= 20
    ours = choice_logprobs(model, ctx.tokenizer, [(c, ch) for c, ch, _ in items])
    for (context, _choices, (split, _, _)), scores, sample in zip(items, ours, samples):
        assert sample["arguments"][0][0] == context
        mine = [s for s, _ in scores][:split] if which == "mc1" else [s for s, _ in scores][split:]
        assert mine == pytest.approx([ll for ll, _ in sample["filtered_resps"]], abs=1e-4)
    value = ev.score(items, ours, "full")[f"truthfulqa_{which}"].value
    assert value == pytest.approx(results["acc,none"], abs=1e-6)


def test_wikitext_matches_lm_eval_document_by_document(harness):
    from acf_plugins_builtin.evaluators.scoring.logprobs import rolling_nll
    from acf_plugins_builtin.evaluators.tasks.perplexity import Perplexity

    _, _, data, model, ctx = harness
    samples, results = lm_eval_samples(harness, "acf_wikitext")
    ev = Perplexity(data_path=str(data / "wiki.jsonl"), calibration_path=str(data / "wiki.jsonl"))
    docs, _ = ev._docs(ctx)
    assert len(docs) == len(samples) == 20 and max(len(ctx.tokenizer(d["text"])["input_ids"]) for d in docs) > 1024
    ours = rolling_nll(model, ctx.tokenizer, [d["text"] for d in docs], window=1024, special_tokens=True)
    for (nll, _), sample in zip(ours, samples):
        assert -nll == pytest.approx(sample["resps"][0][0], rel=1e-5)
    out = ev.evaluate(model, ctx, "full")
    for metric in ("word_perplexity", "byte_perplexity", "bits_per_byte"):
        assert out[metric].value == pytest.approx(results[f"{metric},none"], rel=1e-6)


def test_gsm8k_cot_prompts_and_answers_match_lm_eval(harness):
    from lm_eval.api.metrics import exact_match_hf_evaluate
    from lm_eval.filters.extraction import RegexFilter

    _, manager, data, _, _ = harness
    task = manager.load(["acf_gsm8k_cot"])["tasks"]["acf_gsm8k_cot"]
    task.build_all_requests(rank=0, world_size=1)
    records = [json.loads(line) for line in (data / "gsm8k.jsonl").read_text().splitlines()]
    instances = sorted(task.instances, key=lambda i: i.doc_id)
    assert len(instances) == len(records) == 20
    for inst, record in zip(instances, records):
        context, kwargs = inst.args
        assert gsm8k.cot_prompt(record["question"]) == context
        assert tuple(kwargs["until"]) == gsm8k.UNTIL
    strict = RegexFilter(regex_pattern=gsm8k.STRICT)
    flexible = RegexFilter(regex_pattern=gsm8k.FLEXIBLE, group_select=-1)
    texts = [
        "So 3 + 5 = 8. The answer is 8.",
        "The answer is $1,234.",
        "It is 7, no 9.",
        "nothing",
        "The answer is -3.5.",
        "He has 12 apples.\n\nQ: next",
        "The answer is 10. And then 11.",
        "$ 5",
        "The answer is 6",
    ]
    answers = [
        "Tom has 8 apples.\n#### 8",
        "#### 1234",
        "#### 9",
        "#### 0",
        "#### -3.5",
        "#### 12",
        "#### 10",
        "#### 5",
        "#### 6",
    ]
    for text, answer in zip(texts, answers):
        ref = gsm8k.target(answer)
        theirs = [
            exact_match_hf_evaluate(
                [f.apply([[text]], [None])[0][0]], [ref], regexes_to_ignore=list(gsm8k.IGNORE), ignore_case=True
            )["exact_match"]
            for f in (strict, flexible)
        ]
        assert gsm8k.scores(text, answer) == tuple(bool(x) for x in theirs), text


def test_bbh_prompts_and_answers_match_lm_eval(harness):
    import yaml
    from lm_eval.filters.extraction import RegexFilter

    _, manager, *_ = harness

    spec = yaml.safe_load((TASKS / "bbh" / "cot_fewshot" / "_cot_fewshot_template_yaml").read_text())
    assert tuple(spec["generation_kwargs"]["until"]) == bbh.UNTIL
    assert spec["generation_kwargs"]["max_gen_toks"] == bbh.MAX_GEN_TOKS
    assert spec["filter_list"][0]["filter"][0]["regex_pattern"] == bbh.ANSWER
    # the context lm-eval builds for a navigate item, from its own task object
    task = manager.load(["acf_bbh_navigate"])["tasks"]["acf_bbh_navigate"]
    task.build_all_requests(rank=0, world_size=1)
    (instance,) = task.instances
    description, shots = bbh.exemplars("navigate")
    assert instance.args[0] == bbh.prompt(description, shots, "Take 1 step. Take 1 step back.")
    flt = RegexFilter(regex_pattern=bbh.ANSWER)
    for text in ["... So the answer is (B).", "no marker", "the answer is Yes.", "So the answer is 42."]:
        assert bbh.extract(text) == flt.apply([[text]], [None])[0][0]
