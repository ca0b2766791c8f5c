"""Helpers for testing acf plugins, exposed as a pytest plugin (fixtures `acf_tiny_model`, `acf_cli`).

- `build_tiny_model(folder, model_type="llama")`: a randomly initialised causal LM (llama, qwen2, phi3, gemma, …)
  with a byte-level BPE tokenizer, built offline.
- `model_context(folder, dataset=..., teacher=...)`: the `Context` a run would give methods and evaluators.
- `load_model(folder)`: load a model folder as a run does (safetensors, fp32 on CPU).
- `registered_plugin(plugin)`: register a plugin object for the duration of a `with` block.
- `run_cli(args)`: run the `acf` CLI in-process and return (exit code, stdout, stderr).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

from acf.cli import main
from acf.models.artifact import ArtifactStore
from acf.models.loading import load_model, load_tokenizer
from acf.models.spec import infer_spec
from acf.plugins.context import Context
from acf.plugins.manager import register_plugin, registry, unregister_plugin
from acf.plugins.runtime import Runtimes

__all__ = [
    "build_tiny_model",
    "write_gsm8k",
    "deploy_on",
    "model_context",
    "load_model",
    "registered_plugin",
    "run_cli",
    "acf_tiny_model",
    "acf_cli",
]

TOKENIZER_CORPUS = [
    "Question: Janet has 3 apples and buys 5 more. How many apples does she have?",
    "Answer: She has 3 + 5 = 8 apples. #### 8",
    "The quick brown fox jumps over the lazy dog. 0 1 2 3 4 5 6 7 8 9 10 100 1000",
    "Compression keeps a model small and fast while it stays accurate on the task.",
]


def build_tiny_model(
    folder: str | Path,
    *,
    hidden: int = 64,
    intermediate: int = 128,
    layers: int = 2,
    heads: int = 4,
    kv_heads: int = 2,
    vocab: int = 384,
    seed: int = 0,
    model_type: str = "llama",
) -> Path:
    """Save a tiny random causal LM of `model_type` (llama, qwen2, phi3, gemma, gemma2, …) and its tokenizer
    (safetensors) to `folder`; returns the folder."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import AutoConfig, AutoModelForCausalLM, PreTrainedTokenizerFast

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    specials = ["<unk>", "<s>", "</s>", "<pad>"]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(TOKENIZER_CORPUS * 4, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="<unk>", bos_token="<s>", eos_token="</s>", pad_token="<pad>"
    )
    fast.save_pretrained(folder)
    torch.manual_seed(seed)
    config = AutoConfig.for_model(
        model_type,
        vocab_size=len(fast),
        hidden_size=hidden,
        intermediate_size=intermediate,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        head_dim=hidden // heads,
        max_position_embeddings=1024,
        tie_word_embeddings=True,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
    )
    model = AutoModelForCausalLM.from_config(config)
    model.config.name_or_path = str(folder)
    model.save_pretrained(folder, safe_serialization=True)
    return folder


def write_gsm8k(path: str | Path, n: int = 24) -> Path:
    """A small GSM8K-schema jsonl file (question / answer with '#### N')."""
    path = Path(path)
    rows = []
    for i in range(n):
        a, b = i + 2, (i * 7) % 11 + 1
        rows.append(
            {
                "question": f"Tom has {a} apples and buys {b} more. How many apples does he have?",
                "answer": f"Tom has {a} + {b} = <<{a}+{b}={a + b}>>{a + b} apples.\n#### {a + b}",
            }
        )
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def deploy_on(runtime: str = "auto"):
    """A `Context.deploy` that measures cost as a run with `--runtime runtime` on the CPU would."""
    return Runtimes(registry().all("runtime"), runtime, "cpu").deploy


def model_context(folder: str | Path, *, dataset: Any = None, teacher: Any = None, runtime: str = "auto"):
    """A `Context` for calling a method or evaluator directly on the model in `folder`, as a run would.

    `dataset` (a task evaluator instance, e.g. `GSM8K(data_path=...)`) supplies calibration text; `teacher` the
    uncompressed model for distillation; cost is measured on `runtime` (`deploy_on`); checkpoints are written to
    the artifact store of `ACF_CACHE_DIR`. The tokenizer is loaded once.
    """
    folder = Path(folder)
    spec = infer_spec(json.loads((folder / "config.json").read_text()), source=folder.name, path=str(folder))
    tokenizer = load_tokenizer(folder)
    ctx = Context(
        spec=spec,
        load_tokenizer=lambda: tokenizer,
        load_teacher=(lambda: teacher) if teacher is not None else None,
        deploy=deploy_on(runtime),
        artifacts=ArtifactStore(),
    )
    if dataset is not None:
        ctx.load_calibration = lambda n: dataset.calibration_texts(ctx, n)
    return ctx


@contextlib.contextmanager
def registered_plugin(plugin: Any, name: str | None = None) -> Iterator[str]:
    """Register `plugin` (a module or object with hookimpls) and always unregister it afterwards."""
    plugin_name = register_plugin(plugin, name=name)
    try:
        yield plugin_name
    finally:
        unregister_plugin(plugin_name)


def run_cli(args: list[str], env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Run `acf ARGS` in this process; returns (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    old_argv, old_env = sys.argv, dict(os.environ)
    sys.argv = ["acf", *args]
    os.environ.update(env or {})
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv = old_argv
        os.environ.clear()
        os.environ.update(old_env)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="session")
def acf_tiny_model(tmp_path_factory) -> Path:
    """A folder holding a tiny random Llama and its tokenizer, built once per test session."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture
def acf_cli():
    """Call as `acf_cli(["plugins", "list"])` → (exit code, stdout, stderr)."""
    return run_cli
