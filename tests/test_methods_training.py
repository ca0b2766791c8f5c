"""Distillation, progressive pruning, LoRA and QLoRA on a tiny Llama."""

import copy

import pytest
import torch

import acf
from acf.errors import StrategyError
from acf.models.loading import load_model
from acf.plugins.validation import validate_strategy
from acf.testing import model_context
from acf.types.strategy import Step, Strategy
from acf_plugins_builtin.evaluators.tasks.gsm8k import GSM8K
from acf_plugins_builtin.methods.distill import Distill, ProgressiveDistill
from acf_plugins_builtin.methods.lora import LoRA, QLoRA
from acf_plugins_builtin.methods.magnitude import MagnitudePruning
from acf_plugins_builtin.methods.training import kd_loss

pytest.importorskip("peft", reason="the lora extra is part of acf[dev]")
TRAIN = {"steps": 10, "lr": 1e-3, "samples": 32, "seq_len": 128}


@pytest.fixture(scope="module")
def setup(acf_tiny_model, gsm8k_file):
    teacher = load_model(acf_tiny_model)
    return teacher, model_context(acf_tiny_model, dataset=GSM8K(data_path=str(gsm8k_file)), teacher=teacher)


def kd_to_teacher(model, teacher, ctx):
    from acf_plugins_builtin.methods.training import batches

    total = 0.0
    with torch.no_grad():
        for x, mask in batches(ctx, 32, 128, 4, 4, ctx.tokenizer.pad_token_id):
            total += kd_loss(
                model(input_ids=x, attention_mask=mask).logits,
                teacher(input_ids=x, attention_mask=mask).logits,
                mask,
                1.0,
            ).item()
    return total


def test_kd_loss_is_zero_for_identical_logits_and_positive_otherwise():
    logits = torch.randn(2, 5, 11)
    mask = torch.ones(2, 5)
    assert kd_loss(logits, logits, mask, 2.0).item() == pytest.approx(0.0, abs=1e-6)
    assert kd_loss(logits + torch.randn(2, 5, 11), logits, mask, 2.0).item() > 0


def test_distillation_moves_a_pruned_student_towards_the_teacher_and_keeps_its_zeros(setup):
    teacher, ctx = setup
    student = MagnitudePruning().apply(copy.deepcopy(teacher), {"sparsity": 0.6, "scope": "layer"}, ctx)
    zeros = {
        n: (m.weight == 0).clone()
        for n, m in student.named_modules()
        if isinstance(m, torch.nn.Linear) and m is not student.lm_head
    }
    before = kd_to_teacher(student, teacher, ctx)
    student = Distill().apply(student, {**TRAIN, "steps": 25, "temperature": 1.0, "hidden_weight": 0.5}, ctx)
    assert kd_to_teacher(student, teacher, ctx) < before
    modules = dict(student.named_modules())
    for name, zero in zeros.items():
        assert (modules[name].weight[zero] == 0).all()
    assert len(ctx.records.steps[-1]["training_loss"]) == 25


def test_progressive_reaches_the_final_sparsity_in_stages(setup):
    teacher, ctx = setup
    model = ProgressiveDistill().apply(
        copy.deepcopy(teacher), {**TRAIN, "sparsity": 0.5, "stages": 2, "temperature": 2.0}, ctx
    )
    for _name, m in model.named_modules():
        if isinstance(m, torch.nn.Linear) and m is not model.lm_head:
            assert (m.weight == 0).float().mean().item() == pytest.approx(0.5, abs=0.01)
    assert len(ctx.records.steps[-1]["training_loss"]) == 20


def test_lora_recovers_and_merges_into_a_plain_model(setup):
    teacher, ctx = setup
    student = MagnitudePruning().apply(copy.deepcopy(teacher), {"sparsity": 0.5, "scope": "row"}, ctx)
    before = kd_to_teacher(student, teacher, ctx)
    merged = LoRA().apply(student, {**TRAIN, "rank": 8, "alpha_ratio": 2, "loss": "kd", "steps": 25}, ctx)
    assert not any("lora_" in n for n, _ in merged.named_parameters())
    assert type(merged).__name__ == "LlamaForCausalLM"
    assert kd_to_teacher(merged, teacher, ctx) < before
    for m in merged.modules():
        if isinstance(m, torch.nn.Linear) and m is not merged.lm_head:
            assert (m.weight == 0).float().mean().item() == pytest.approx(0.5, abs=0.01)


def test_qlora_needs_an_nf4_base(setup):
    teacher, ctx = setup
    methods = {m.name: m for m in (QLoRA(), LoRA(), MagnitudePruning())}
    with pytest.raises(StrategyError, match="qlora needs an nf4 step before it"):
        validate_strategy(Strategy(steps=[Step(method="qlora")]), methods, ctx.spec)


def test_qlora_trains_on_a_4bit_base_and_exports(acf_tiny_model, gsm8k_file, tmp_path, acf_cli):
    pytest.importorskip("bitsandbytes")
    result = acf.compress(
        str(acf_tiny_model),
        "gsm8k",
        episodes=2,
        seed=0,
        run_dir=tmp_path / "run",
        methods=["nf4", "qlora"],
        searcher="grid",
        max_steps=2,
        evaluator_options={"gsm8k": {"data_path": str(gsm8k_file), "limit": 8}},
    )
    by_pipeline = {c.strategy.pipeline: c for c in result.candidates}
    candidate, base = by_pipeline[("nf4", "qlora")], by_pipeline[("nf4",)]
    assert candidate.status == "ok", candidate.reason
    # still 4-bit after the merge (the same tensors on disk; the config may differ by a byte)
    assert candidate.value("size_mb") == pytest.approx(base.value("size_mb"), rel=1e-4)
    assert candidate.value("gsm8k_loglik") != base.value("gsm8k_loglik")  # the adapters changed the model
    code, _, err = acf_cli(
        ["export", str(tmp_path / "run"), "--candidate", candidate.id, "--out", str(tmp_path / "out"), "-q"]
    )
    assert code == 0, err
