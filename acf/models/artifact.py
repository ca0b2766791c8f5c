"""Candidates written to disk once: a Hugging Face folder (or a file a runtime deploys, such as a GGUF), kept in
`$ACF_CACHE_DIR/artifacts/` under a hash of the candidate's content, the least recently used removed past
`ACF_ARTIFACT_CACHE_GB` (default 20). The size evaluator, the runtimes and `acf export` share them.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

from acf.models.loading import quiet_progress_bars
from acf.rundir.files import cache_dir
from acf.rundir.names import CANDIDATE_RECORD, EXPORT_RECORD

DEFAULT_LIMIT_GB = 20.0
# The artifact kind of a candidate written as a Hugging Face folder (`write_candidate`); others name a file format.
HF = "hf"
COMPLETE = ".complete"
# Files of a Hugging Face folder that every candidate of a model shares and that compression does not change:
# not part of a candidate's size.
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.json",
    "merges.txt",
    "tokenizer.model",
    "added_tokens.json",
    "chat_template.jinja",
    "chat_template.json",
)


def content_hash(model: Any, tensor_formats: dict[str, Any], writers: list[str]) -> str:
    """A hash of what a candidate's checkpoint holds: every tensor of its state dict (name, dtype, shape, bytes),
    its architecture, how each tensor is stored (`tensor_formats`) and which steps write it (`writers`)."""
    import torch

    digest = hashlib.sha256()
    config = {k: v for k, v in model.config.to_diff_dict().items() if k not in ("_name_or_path", "name_or_path")}
    formats = {k: v.model_dump() for k, v in sorted(tensor_formats.items())}
    digest.update(json.dumps([config, formats, writers], sort_keys=True, default=str).encode())
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            t = tensor.detach()
            digest.update(f"{name}:{t.dtype}:{tuple(t.shape)};".encode())
            digest.update(t.contiguous().cpu().reshape(-1).view(torch.uint8).numpy().data)
    return digest.hexdigest()[:32]


def weight_bytes(path: Path) -> int:
    """Bytes on disk of a checkpoint: the file itself, or a folder's weights and configuration (tokenizer files,
    README and acf's own notes left out)."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    skip = {*TOKENIZER_FILES, "README.md", CANDIDATE_RECORD, EXPORT_RECORD, COMPLETE}
    return sum(p.stat().st_size for p in path.iterdir() if p.is_file() and p.name not in skip)


def tensor_bytes(path: Path) -> int:
    """Bytes of tensor data in a checkpoint (safetensors or GGUF files), headers and metadata left out: what a
    size computed from the tensors' formats should agree with."""
    path = Path(path)
    total = 0
    for file in [path] if path.is_file() else sorted(path.iterdir()):
        if file.suffix == ".safetensors":
            with open(file, "rb") as fh:
                header = int.from_bytes(fh.read(8), "little")
            total += file.stat().st_size - 8 - header
        elif file.suffix == ".gguf":
            from gguf import GGUFReader

            total += sum(int(t.n_bytes) for t in GGUFReader(file).tensors)
    return total


def limit_bytes() -> int:
    return int(float(os.environ.get("ACF_ARTIFACT_CACHE_GB", DEFAULT_LIMIT_GB)) * 1e9)


class ArtifactStore:
    """Folders keyed by content, written once (staged, then renamed into place) and touched on every use."""

    def __init__(self, root: Path | None = None, limit: int | None = None):
        self.root = Path(root) if root else cache_dir() / "artifacts"
        self.limit = limit_bytes() if limit is None else limit

    def get(self, key: str, build: Callable[[Path], Any]) -> Path:
        """The folder for `key`, made by `build(folder)` the first time it is asked for."""
        folder = self.root / key
        if (folder / COMPLETE).is_file():
            os.utime(folder / COMPLETE)
            return folder
        self.root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=self.root))
        try:
            build(staging)
            (staging / COMPLETE).write_text("")
            shutil.rmtree(folder, ignore_errors=True)  # an incomplete leftover of a killed export
            try:
                staging.rename(folder)
            except OSError:  # another process finished the same export first: theirs is as good
                if not (folder / COMPLETE).is_file():
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        self.prune(keep=folder)
        return folder

    def prune(self, keep: Path | None = None) -> None:
        """Remove the least recently used folders until the store fits its limit (never `keep`)."""
        entries = []
        for folder in self.root.iterdir() if self.root.is_dir() else []:
            marker = folder / COMPLETE
            if marker.is_file() and folder != keep:
                size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
                entries.append((marker.stat().st_mtime, size, folder))
        total = sum(size for _, size, _ in entries) + (folder_size(keep) if keep else 0)
        for _, size, folder in sorted(entries):
            if total <= self.limit:
                break
            shutil.rmtree(folder, ignore_errors=True)
            total -= size


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())


def write_candidate(model: Any, folder: Path, ctx: Any, *, tokenizer: bool = True) -> Path:
    """Write the candidate being measured as a Hugging Face folder a runtime can serve: the last of its steps'
    methods that writes it itself does (`Method.write`: compressed-tensors for quantized results), else
    `save_pretrained`; then the tokenizer, unless `tokenizer` is False."""
    # llm-compressor's save re-reads the config at `_name_or_path`; point it at the folder being written, whose
    # config is the compressed model's own (layers dropped, channels removed), not the base model's.
    name = model.config._name_or_path
    model.config._name_or_path = str(folder)
    try:
        with quiet_progress_bars():
            if not any(method.write(model, folder, ctx) for method in reversed(ctx.records.methods)):
                model.save_pretrained(folder)
    finally:
        model.config._name_or_path = name
    if tokenizer:
        ctx.tokenizer.save_pretrained(folder)
    return folder
