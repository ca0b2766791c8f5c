"""From what the user typed to a loaded model: aliases, local folders, Hub ids; safetensors only."""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Iterator

from acf.errors import ModelNotFoundError

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


class ModelAlias:
    """A short name for a model. `resolve()` returns a local folder or a Hub id.

    Register instances from a plugin::

        @hookimpl
        def register_model_aliases(register):
            register(ModelAlias(name="llama3", hub_id="meta-llama/Meta-Llama-3-8B-Instruct"))
    """

    name: str
    hub_id: str | None
    description: ClassVar[str] = ""

    def __init__(self, name: str, hub_id: str | None = None, description: str = ""):
        self.name, self.hub_id = name, hub_id
        if description:
            self.description = description

    def resolve(self) -> str:
        if not self.hub_id:
            raise ModelNotFoundError(f"alias {self.name!r} has no Hub id")
        return self.hub_id


@dataclass
class ResolvedModel:
    source: str
    path: Path | None = None
    hub_id: str | None = None
    alias: str | None = None


def resolve_model(name: str) -> ResolvedModel:
    """Alias → (folder | Hub id); an existing folder; or an `org/name` Hub id."""
    from acf.plugins import registry

    aliases = registry().all("model_alias")
    if name in aliases:
        alias = aliases[name]
        resolved = _resolve_target(alias.resolve(), name)
        resolved.alias = name
        resolved.hub_id = resolved.hub_id or alias.hub_id  # where the local copy came from
        return resolved
    return _resolve_target(name, name, aliases=sorted(aliases))


def _resolve_target(target: str, source: str, aliases: list[str] | None = None) -> ResolvedModel:
    path = Path(target).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelNotFoundError(f"{path} is a folder but has no config.json; it is not a Hugging Face model folder")
        return ResolvedModel(source=source, path=path.resolve())
    if path.exists():
        raise ModelNotFoundError(f"{target} is a file, not a model folder")
    if target.startswith((".", "/", "~")) or target.count("/") > 1:
        raise ModelNotFoundError(f"no model folder at {target}")
    if HUB_ID.match(target):
        return ResolvedModel(source=source, hub_id=target)
    known = f"; known aliases: {', '.join(aliases)}" if aliases else ""
    raise ModelNotFoundError(
        f"{target!r} is not a model alias, a folder or a Hub id (org/name){known}",
        hint="run 'acf plugins list --all' to see every alias",
    )


def read_config(resolved: ResolvedModel) -> dict[str, Any]:
    """config.json only: no weights are downloaded or read."""
    if resolved.path is not None:
        return json.loads((resolved.path / "config.json").read_text())
    try:
        from huggingface_hub import hf_hub_download

        config_path = hf_hub_download(resolved.hub_id, "config.json")
    except Exception as exc:
        raise ModelNotFoundError(
            f"cannot read config.json of {resolved.hub_id} from the Hugging Face Hub ({type(exc).__name__})",
            hint="check the id and your network, or pass a local model folder",
        ) from None
    return json.loads(Path(config_path).read_text())


def ensure_local(resolved: ResolvedModel) -> Path:
    """The model's local folder, downloading config, tokenizer and safetensors weights from the Hub if needed."""
    if resolved.path is not None:
        return resolved.path
    try:
        from huggingface_hub import snapshot_download

        folder = snapshot_download(
            resolved.hub_id,
            allow_patterns=["*.json", "*.safetensors", "tokenizer*", "*.model", "*.txt", "*.jinja"],
        )
    except Exception as exc:
        raise ModelNotFoundError(f"cannot download {resolved.hub_id} from the Hugging Face Hub ({type(exc).__name__}: {exc})") from None
    resolved.path = Path(folder)
    return resolved.path


def fingerprint(path: Path) -> str:
    """A content hash of the config and weight files (memoised per file size and mtime)."""
    from acf.store import atomic_write_json, cache_dir, read_json

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
