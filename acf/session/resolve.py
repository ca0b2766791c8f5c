"""From what the user typed to a model: an alias, a local folder or a Hub id; config.json without weights."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from acf.errors import ModelNotFoundError
from acf.models.loading import load_model, load_tokenizer
from acf.plugins.manager import registry

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass
class ResolvedModel:
    source: str
    path: Path | None = None
    hub_id: str | None = None
    alias: str | None = None


def resolve_model(name: str) -> ResolvedModel:
    """Alias → (folder | Hub id); an existing folder; or an `org/name` Hub id."""
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
            raise ModelNotFoundError(
                f"{path} is a folder but has no config.json; it is not a Hugging Face model folder"
            )
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
        raise ModelNotFoundError(
            f"cannot download {resolved.hub_id} from the Hugging Face Hub ({type(exc).__name__}: {exc})"
        ) from None
    resolved.path = Path(folder)
    return resolved.path


def load_named_model(name: str, *, device: str = "cpu") -> tuple[Any, Any]:
    """(model, tokenizer) for an alias, a folder or a Hub id, as a run loads them (safetensors, no remote code)."""
    path = ensure_local(resolve_model(name))
    return load_model(path, device=device), load_tokenizer(path)
