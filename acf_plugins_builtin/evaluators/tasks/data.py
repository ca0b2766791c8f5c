"""Reading benchmark records: a local file (jsonl, json, parquet, arrow), a packaged copy, or the Hub."""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import socket
import urllib.parse
from pathlib import Path
from typing import Any, Callable

from acf import DatasetNotFoundError, MissingBackendError


def read_records(path: str | Path) -> list[dict[str, Any]]:
    """Records from a local .jsonl, .json, .parquet or .arrow file."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DatasetNotFoundError(f"data file {path} does not exist")
    suffix = path.suffix.lower()
    try:
        if suffix == ".jsonl":
            return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        if suffix == ".json":
            data = json.loads(path.read_text())
            return data if isinstance(data, list) else data.get("data") or data.get("rows") or [data]
        if suffix in {".parquet", ".arrow"}:
            return _read_arrow_like(path, suffix)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DatasetNotFoundError(f"{path} is not valid {suffix[1:]} ({exc})") from None
    raise DatasetNotFoundError(
        f"{path}: unsupported data file type {suffix or '(none)'}; use .jsonl, .json, .parquet or .arrow"
    )


def _read_arrow_like(path: Path, suffix: str) -> list[dict[str, Any]]:
    if importlib.util.find_spec("pyarrow") is None:
        raise MissingBackendError("pyarrow", "hub", f"reading {path.name}")
    import pyarrow as pa

    if suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    with pa.memory_map(str(path)) as source:
        try:
            table = pa.ipc.open_stream(source).read_all()
        except pa.ArrowInvalid:
            table = pa.ipc.open_file(source).read_all()
    return table.to_pylist()


def packaged_file(package: str, relative: str) -> Path | None:
    """A data file shipped inside an installed package, located without importing the package."""
    spec = importlib.util.find_spec(package)
    for folder in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(folder) / relative
        if candidate.is_file():
            return candidate
    return None


@functools.lru_cache(maxsize=1)
def hub_unreachable() -> str | None:
    """Why the Hub cannot be reached from here, or None. Checked once per process with a 3 s connection, so an
    offline machine does not spend `datasets`' ~25 s of retries on every data source it tries."""
    if (
        os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes"}
        or os.environ.get("HF_DATASETS_OFFLINE") == "1"
    ):
        return "HF_HUB_OFFLINE is set"
    host = urllib.parse.urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co").hostname or "huggingface.co"
    try:
        socket.create_connection((host, 443), timeout=3).close()
    except OSError as exc:
        return f"{host} is not reachable ({exc.strerror or type(exc).__name__})"
    return None


def hub_records(dataset: str, config: str | None, split: str) -> list[dict[str, Any]]:
    if importlib.util.find_spec("datasets") is None:
        raise MissingBackendError("datasets", "hub", f"loading {dataset} from the Hugging Face Hub")
    offline = hub_unreachable()
    if offline:
        raise DatasetNotFoundError(f"cannot load {dataset} ({split}) from the Hub: {offline}")
    import datasets

    try:
        return list(datasets.load_dataset(dataset, config, split=split))
    except Exception as exc:
        raise DatasetNotFoundError(f"cannot load {dataset} ({split}) from the Hub: {type(exc).__name__}") from None


def check_schema(records: list[dict[str, Any]], fields: tuple[str, ...], where: str) -> list[dict[str, Any]]:
    if not records:
        raise DatasetNotFoundError(f"{where} holds no records")
    missing = [f for f in fields if f not in records[0]]
    if missing:
        raise DatasetNotFoundError(
            f"{where} does not have the expected fields: missing {', '.join(missing)} "
            f"(found {', '.join(sorted(records[0]))})"
        )
    return records


def first_available(
    sources: list[tuple[str, Callable[[], list[dict[str, Any]] | None]]], name: str, hint: str
) -> tuple[list[dict[str, Any]], str]:
    """Try each (description, loader) in order; a loader returns None when its source is absent."""
    tried = []
    for description, loader in sources:
        try:
            records = loader()
        except (DatasetNotFoundError, MissingBackendError) as exc:
            tried.append(f"{description} ({exc})")
            continue
        if records is not None:
            return records, description
        tried.append(f"{description} (not installed)")
    raise DatasetNotFoundError(f"cannot find {name} data; looked in: {'; '.join(tried)}", hint=hint)


def find_records(
    name: str,
    data_path: str | Path | None,
    defaults: list[tuple[str, Callable[[], list[dict[str, Any]] | None]]],
    *,
    fields: tuple[str, ...],
    hint: str,
) -> tuple[list[dict[str, Any]], str]:
    """A task's records: from `--data-path` when given, else the first default source that has them; the
    schema is checked either way. Returns (records, where they came from)."""
    sources = [(f"--data-path {data_path}", lambda: read_records(data_path))] if data_path else defaults
    records, where = first_available(sources, name, hint=hint)
    return check_schema(records, fields, where), where
