"""RunConfig: every run option, declared once (type, default, help); `run_config.json` is its dump.

`acf.compress(model, dataset, **options)` validates its options here, and `acf compress` takes each option's
default and help text from here (a test checks that the two agree).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from acf.errors import AcfError

DEFAULT_COST_EVALUATORS = ("size", "latency", "memory")


class RunConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = Field(description="alias (acf plugins list --all), local folder or Hub id")
    dataset: str = Field(description="task to keep accurate on, e.g. gsm8k")
    episodes: int = Field(8, description="strategies to try")
    searcher: str = Field("nevergrad", description="nevergrad, random, grid or a plugin's")
    seed: int = Field(0, description="makes the search reproducible")
    reward: str = Field("balanced", description="reward preset: balanced, accuracy, latency, size")
    weights: dict[str, float] = Field(default_factory=dict, description="custom weight METRIC=W (overrides the preset)")
    objectives: list[str] = Field(
        default_factory=list, description="frontier objective (repeat); default: task metric and size_mb")
    constraints: list[str] = Field(
        default_factory=list, description="hard constraint, e.g. 'size_mb<=100' or 'perplexity<=1.1*baseline'")
    methods: list[str] = Field(default_factory=list, description="restrict to these methods (repeat)")
    max_steps: int = Field(2, description="longest pipeline of methods")
    strategies: list[dict[str, Any]] = Field(
        default_factory=list, description="strategies to try first (as given), before the searcher's own")
    evaluators: list[str] = Field(
        default_factory=list, description="cost evaluators (repeat); default: size, latency, memory")
    evaluator_options: dict[str, dict[str, Any]] = Field(default_factory=dict, description="EVALUATOR.OPTION=VALUE")
    promote: int = Field(
        0, description="after the search, re-score this many promising candidates at the task's full fidelity")
    episode_budget_s: float | None = Field(
        None, description="most estimated seconds of compression per episode (default 30 on CPU, 900 on GPU)")
    episode_timeout_s: float | None = Field(
        None, description="wall-clock seconds one episode may take; past it the episode fails")
    track: list[str] = Field(default_factory=list, description="mirror the run into a tracker, e.g. mlflow (repeat)")
    track_uri: str | None = Field(None, description="tracking URI (default: MLFLOW_TRACKING_URI or ./mlruns)")
    device: str = Field("auto", description="auto, cpu, cuda, cuda:1 …")
    dtype: str = Field("auto", description="auto, float32, bfloat16, float16")
    trust_remote_code: bool = Field(False, description="allow the model's own code to run")

    @field_validator("episodes", "max_steps")
    @classmethod
    def _at_least_one(cls, value: int, info) -> int:
        if value < 1:
            raise ValueError(f"--{info.field_name.replace('_', '-')} must be at least 1, got {value}")
        return value

    @field_validator("episode_timeout_s")
    @classmethod
    def _positive_timeout(cls, value: float | None) -> float | None:
        if value is not None and value <= 0:
            raise ValueError(f"--timeout must be positive, got {value:g}")
        return value

    @field_validator("promote")
    @classmethod
    def _not_negative(cls, value: int) -> int:
        if value < 0:
            raise ValueError(f"--promote must be 0 or more, got {value}")
        return value

    @classmethod
    def build(cls, **options: Any) -> "RunConfig":
        """Validate run options (keyword arguments named as the fields); bad input is one AcfError line."""
        try:
            return cls(**{k: v for k, v in options.items() if v is not None or k in cls.nullable()})
        except ValidationError as exc:
            first = exc.errors()[0]
            name = ".".join(map(str, first["loc"])) or "options"
            if first["type"] == "extra_forbidden":
                raise AcfError(f"unknown run option {name!r}; run options: {', '.join(cls.model_fields)}") from None
            message = first["msg"].removeprefix("Value error, ")
            raise AcfError(message if message.startswith("--") else f"run option {name}: {message}") from None

    @classmethod
    def nullable(cls) -> set[str]:
        return {k for k, f in cls.model_fields.items() if f.default is None and not f.is_required()}

    @classmethod
    def help(cls, name: str) -> str:
        return cls.model_fields[name].description or ""

    @classmethod
    def default(cls, name: str) -> Any:
        return cls.model_fields[name].get_default(call_default_factory=True)

    def same_search(self, other: "RunConfig") -> list[str]:
        """Fields that differ from `other` (a resumed run must match the stored one)."""
        mine, theirs = self.model_dump(), other.model_dump()
        return [k for k in mine if mine[k] != theirs[k]]
