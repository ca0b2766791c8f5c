"""Every method's candidate exports as a Hugging Face folder that reloads with the same outputs and generates."""

import json

import pytest
import torch

import acf


@pytest.mark.parametrize("method", ["rtn", "magnitude", "awq", "wanda", "distill", "progressive", "lora", "layer_drop"])
def test_candidate_exports_and_generates(method, acf_tiny_model, gsm8k_file, tmp_path, acf_cli):
    from transformers import AutoModelForCausalLM

    result = acf.compress(
        str(acf_tiny_model),
        "gsm8k",
        episodes=1,
        seed=0,
        run_dir=tmp_path / "run",
        methods=[method],
        max_steps=1,
        evaluators=["size"],
        evaluator_options={"gsm8k": {"data_path": str(gsm8k_file), "limit": 4}},
    )
    (candidate,) = result.candidates
    assert candidate.status == "ok", candidate.reason
    out = tmp_path / "out"
    code, stdout, err = acf_cli(["export", str(tmp_path / "run"), "--out", str(out), "-q"])
    assert code == 0, err
    assert "reloaded on hf" in stdout and "within" in stdout
    saved = json.loads((out / "acf_candidate.json").read_text())
    assert saved["id"] == candidate.id and saved["strategy"] == candidate.strategy.model_dump(mode="json")
    model = AutoModelForCausalLM.from_pretrained(out)
    ids = torch.tensor([[1, 5, 9, 12]])
    assert model.generate(ids, max_new_tokens=3, do_sample=False).shape[1] == 7
    code, _, err = acf_cli(["export", str(tmp_path / "run"), "--out", str(out)])
    assert code == 2 and "already exists" in err


def test_failed_candidates_do_not_export(acf_tiny_model, gsm8k_file, tmp_path, acf_cli, my_plugin):
    acf.compress(
        str(acf_tiny_model),
        "gsm8k",
        episodes=1,
        seed=0,
        run_dir=tmp_path / "run",
        methods=["explode"],
        max_steps=1,
        evaluators=["size"],
        evaluator_options={"gsm8k": {"data_path": str(gsm8k_file), "limit": 4}},
    )
    code, _, err = acf_cli(["export", str(tmp_path / "run"), "--candidate", "ep001", "--out", str(tmp_path / "x")])
    assert code == 2 and "candidate ep001 failed" in err and not (tmp_path / "x").exists()
