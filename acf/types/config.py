"""`RunConfig` and `SessionOptions`: the options of `acf.types.options` as pydantic models; `run_config.json` is a
`RunConfig`'s dump.

`acf.compress(model, dataset, **options)` validates its options here, and `acf.Session(model, **options)` its own;
bad input is one `AcfError` line.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, create_model, field_validator

from acf.errors import AcfError
from acf.types.options import EXECUTORS, OPTIONS, REQUIRED, RUN_OPTIONS, SESSION_OPTIONS, TELL_ORDERS, Option


def flag(field: str) -> str:
    """The command-line flag of a run option."""
    return OPTIONS[field].flag


class _Options(BaseModel):
    """Validation shared by `RunConfig` and `SessionOptions`: unknown options and bad values are one line."""

    model_config = ConfigDict(extra="forbid")
    what: ClassVar[str] = "run option"

    @classmethod
    def build(cls, **options: Any) -> Any:
        """Validate options (keyword arguments named as the fields); bad input is one AcfError line."""
        try:
            return cls(**{k: v for k, v in options.items() if v is not None or k in cls.nullable()})
        except ValidationError as exc:
            first = exc.errors()[0]
            name = ".".join(map(str, first["loc"])) or "options"
            if first["type"] == "extra_forbidden":
                raise AcfError(f"unknown {cls.what} {name!r}; {cls.what}s: {', '.join(cls.model_fields)}") from None
            message = first["msg"].removeprefix("Value error, ")
            raise AcfError(message if message.startswith("--") else f"{cls.what} {name}: {message}") from None

    @classmethod
    def nullable(cls) -> set[str]:
        return {k for k, f in cls.model_fields.items() if f.default is None and not f.is_required()}


class _RunConfig(_Options):
    """Methods and validators of `RunConfig`; its fields come from `RUN_OPTIONS`."""

    @field_validator("episodes", "max_steps", "workers", check_fields=False)
    @classmethod
    def _at_least_one(cls, value: int, info: ValidationInfo) -> int:
        if value < 1:
            raise ValueError(f"{flag(info.field_name)} must be at least 1, got {value}")
        return value

    @field_validator("episode_timeout_s", "cpus_per_candidate", check_fields=False)
    @classmethod
    def _positive(cls, value: float | None, info: ValidationInfo) -> float | None:
        if value is not None and value <= 0:
            raise ValueError(f"{flag(info.field_name)} must be positive, got {value:g}")
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

    def same_search(self, other: "_RunConfig") -> list[str]:
        """Fields that differ from `other` (a resumed run must match the stored one), where it runs aside."""
        mine, theirs = self.model_dump(), other.model_dump()
        return [k for k in mine if mine[k] != theirs[k] and not OPTIONS[k].placement]

    def session_options(self) -> "SessionOptions":
        """The options of the measuring session this run builds (`acf.Session`)."""
        return SessionOptions(**{o.name: getattr(self, o.name) for o in SESSION_OPTIONS})


class _SessionOptions(_Options):
    what: ClassVar[str] = "session option"


def _field(option: Option, *, optional: bool = False) -> Any:
    if option.default is REQUIRED:
        if optional:  # a session measures without a task when none is named
            return (option.type | None, Field(None, description=option.help))
        return (option.type, Field(description=option.help))
    if option.default in (list, dict):
        return (option.type, Field(default_factory=option.default, description=option.help))
    return (option.type, Field(option.default, description=option.help))


RunConfig = create_model(
    "RunConfig", __base__=_RunConfig, __module__=__name__, **{o.name: _field(o) for o in RUN_OPTIONS}
)
RunConfig.__doc__ = "Every run option (see `acf.types.options.RUN_OPTIONS`); `run_config.json` is its dump."

SessionOptions = create_model(
    "SessionOptions",
    __base__=_SessionOptions,
    __module__=__name__,
    **{o.name: _field(o, optional=o.name != "model") for o in SESSION_OPTIONS},
)
SessionOptions.__doc__ = (
    "What a measuring `Session` is built from: the session options of "
    "`acf.types.options.RUN_OPTIONS` (`dataset` may be None: no task)."
)
