"""A strategy is an ordered list of steps `{method, params}` (validated by `acf.plugins.validation` before any work)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from acf.errors import StrategyError


class Step(BaseModel):
    method: str
    params: dict[str, Any] = Field(default_factory=dict)

    def describe(self) -> str:
        inner = ", ".join(f"{k}={_short(v)}" for k, v in self.params.items())
        return f"{self.method}({inner})"


class Strategy(BaseModel):
    steps: list[Step] = Field(default_factory=list)

    @property
    def pipeline(self) -> tuple[str, ...]:
        return tuple(s.method for s in self.steps)

    def key(self) -> str:
        """A stable hash of the strategy: the same steps and parameters give the same key."""
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def describe(self) -> str:
        return " → ".join(s.describe() for s in self.steps) or "baseline"


def load_strategies(path: str | Path) -> list[Strategy]:
    """Strategies from a JSON file: one `{"steps": [{"method": ..., "params": {...}}]}` or a list of them."""
    from pydantic import ValidationError

    try:
        data = json.loads(Path(path).read_text())
    except OSError as exc:
        raise StrategyError(f"cannot read strategy file {path}: {exc.strerror or exc}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise StrategyError(f"{path} is not valid JSON: {exc}") from None
    items = data if isinstance(data, list) else [data]
    strategies = []
    for i, item in enumerate(items, 1):
        unknown = sorted(set(item) - {"steps"}) if isinstance(item, dict) else []
        if unknown:
            raise StrategyError(f'{path}: strategy {i} has unknown key(s) {", ".join(unknown)}; expected only "steps"')
        try:
            strategies.append(Strategy.model_validate(item))
        except ValidationError as exc:
            where = ".".join(str(x) for x in exc.errors()[0]["loc"]) or "top level"
            raise StrategyError(
                f'{path}: strategy {i} is not {{"steps": [{{"method": ..., "params": {{...}}}}]}} '
                f"({where}: {exc.errors()[0]['msg']})"
            ) from None
    return strategies


def _short(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)
