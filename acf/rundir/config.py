"""RunConfig: the run options of `acf.rundir.options` as a pydantic model; `run_config.json` is its dump.

`acf.compress(model, dataset, **options)` validates its options here; bad input is one `AcfError` line.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, create_model, field_validator

from acf.errors import AcfError
from acf.rundir.options import DEFAULT_COST_EVALUATORS, EXECUTORS, OPTIONS, REQUIRED, RUN_OPTIONS, TELL_ORDERS, RunOption



def flag(field: str) -> str:
    """The command-line flag of a run option."""
    return "--" + field.replace("_", "-")

class _RunConfig(BaseModel):
    """Methods and validators of `RunConfig`; its fields come from `RUN_OPTIONS`."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("episodes", "max_steps", check_fields=False)
    @classmethod
    def _at_least_one(cls, value: int, info) -> int:
        if value < 1:
            raise ValueError(f"--{info.field_name.replace('_', '-')} must be at least 1, got {value}")
        return value

    @field_validator("episode_timeout_s", check_fields=False)
    @classmethod
    def _positive_timeout(cls, value: float | None) -> float | None:
        if value is not None and value <= 0:
            raise ValueError(f"--timeout must be positive, got {value:g}")
        return value

    @field_validator("workers", check_fields=False)
    @classmethod
    def _some_workers(cls, value: int) -> int:
        if value < 1:
            raise ValueError(f"--workers must be at least 1, got {value}")
        return value

    @field_validator("gpus_per_candidate", "promote", check_fields=False)
    @classmethod
    def _not_negative(cls, value: float, info: ValidationInfo) -> float:
        if value < 0:
            raise ValueError(f"{flag(info.field_name)} must be 0 or more, got {value:g}")
        return value

    @field_validator("executor", "tell_order", check_fields=False)
    @classmethod
    def _one_of(cls, value: str, info: ValidationInfo) -> str:
        allowed = {"executor": EXECUTORS, "tell_order": TELL_ORDERS}[info.field_name]
        if value not in allowed:
            raise ValueError(f"{flag(info.field_name)} must be one of {', '.join(allowed)}, got {value!r}")
        return value

    @classmethod
    def build(cls, **options: Any) -> "_RunConfig":
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

    def same_search(self, other: "_RunConfig") -> list[str]:
        """Fields that differ from `other` (a resumed run must match the stored one), where it runs aside."""
        mine, theirs = self.model_dump(), other.model_dump()
        return [k for k in mine if mine[k] != theirs[k] and not OPTIONS[k].placement]


def _field(option: RunOption) -> Any:
    if option.default is REQUIRED:
        return (option.type, Field(description=option.help))
    if option.default in (list, dict):
        return (option.type, Field(default_factory=option.default, description=option.help))
    return (option.type, Field(option.default, description=option.help))


RunConfig = create_model("RunConfig", __base__=_RunConfig, __module__=__name__,
                         **{o.name: _field(o) for o in RUN_OPTIONS})
RunConfig.__doc__ = "Every run option (see `acf.rundir.options.RUN_OPTIONS`); `run_config.json` is its dump."
