"""Loading a local model folder: safetensors weights only, a content fingerprint, the device to run on."""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path
from typing import Any, Iterator

from acf.errors import ModelNotFoundError
from acf.rundir.files import atomic_write_json, cache_dir, read_json


def fingerprint(path: Path) -> str:
    """A content hash of the config and weight files (memoised per file size and mtime)."""
    files = sorted(p for p in Path(path).iterdir() if p.suffix in {".json", ".safetensors"} and p.is_file())
    stamp = [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in files]
    memo_path = cache_dir() / "fingerprints.json"
    try:
        memo = read_json(memo_path) if memo_path.is_file() else {}
    except Exception:
        memo = {}
    key = hashlib.sha256(json.dumps([str(Path(path).resolve()), stamp]).encode()).hexdigest()
    if key in memo:
        return memo[key]
    digest = hashlib.sha256()
    for p in files:
        digest.update(p.name.encode())
        with open(p, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 22), b""):
                digest.update(chunk)
    memo[key] = digest.hexdigest()[:32]
    try:
        atomic_write_json(memo_path, memo)
    except OSError:
        pass
    return memo[key]


def pick_device(requested: str = "auto") -> str:
    import torch

    if requested != "auto":
        return requested
    if torch.cuda.is_available():
        return "cuda"
    return "cpu"


def load_model(path: Path, *, device: str = "cpu", dtype: str = "auto", trust_remote_code: bool = False) -> Any:
    """Load a causal LM from a local folder with safetensors weights."""
    import torch
    from transformers import AutoModelForCausalLM

    if not any(Path(path).glob("*.safetensors")):
        raise ModelNotFoundError(
            f"{path} has no .safetensors weights; acf loads weights only from safetensors",
            hint="convert the checkpoint with save_pretrained(..., safe_serialization=True)",
        )
    torch_dtype = "auto" if dtype == "auto" else getattr(torch, dtype)
    if dtype == "auto" and device == "cpu":
        torch_dtype = torch.float32  # half precision matmuls are slow or missing on many CPUs
    with quiet_progress_bars():
        model = AutoModelForCausalLM.from_pretrained(
            path, dtype=torch_dtype, use_safetensors=True, trust_remote_code=trust_remote_code
        )
    model.to(device)
    model.eval()
    return model


def load_tokenizer(path: Path, *, trust_remote_code: bool = False) -> Any:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


@contextlib.contextmanager
def quiet_progress_bars() -> Iterator[None]:
    """Hide the tqdm bars of transformers and backend libraries while acf shows its own progress."""
    from functools import partialmethod

    from tqdm import tqdm
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    original = tqdm.__init__
    tqdm.__init__ = partialmethod(original, disable=True)
    try:
        yield
    finally:
        tqdm.__init__ = original
        if was_enabled:
            hf_logging.enable_progress_bar()
