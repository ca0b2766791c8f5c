"""Errors a user can act on: the CLI prints each as one line plus a hint, and exits with `exit_code`."""

from __future__ import annotations


class AcfError(Exception):
    """Base of every error acf and its plugins raise for bad input or an unusable environment."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None):
        super().__init__(message)
        self.hint = hint


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a run: every finished episode is on disk; `run_dir` says where to resume."""

    def __init__(self, run_dir):
        super().__init__(str(run_dir))
        self.run_dir = run_dir

    def message(self) -> str:
        return f"Interrupted; finished episodes are saved (continue with: acf resume {self.run_dir})"


class UnknownPluginError(AcfError):
    """A method, evaluator, searcher, preset or alias name that no installed plugin registered."""

    def __init__(self, kind: str, name: str, available: list[str]):
        listing = ", ".join(sorted(available)) or "none installed"
        super().__init__(f"unknown {kind} {name!r}; available: {listing}")
        self.kind, self.name, self.available = kind, name, sorted(available)


class PluginCollisionError(AcfError):
    """Two plugins registered the same name for the same kind."""


class PluginLoadError(AcfError):
    """A plugin could not be imported or registered."""


class ModelNotFoundError(AcfError):
    """A model alias, folder or Hub id that cannot be resolved."""


class DatasetNotFoundError(AcfError):
    """Evaluation or calibration data that cannot be found or read."""


class MissingBackendError(AcfError):
    """An optional library is not installed; the message says how to install it.

    `extra` names one of acf's extras (`pip install 'acf[EXTRA]'`); a third-party plugin passes its own
    `install_hint` instead (default: `pip install PACKAGE`).
    """

    def __init__(self, package: str, extra: str | None, purpose: str, *, install_hint: str | None = None):
        how = install_hint or (f"pip install 'acf[{extra}]'" if extra else f"pip install {package}")
        super().__init__(f"{purpose} needs the '{package}' package, which is not installed: {how}")
        self.package, self.extra = package, extra


class BackendImportError(AcfError):
    """An optional library is installed but fails to import; the message carries its own error."""

    def __init__(self, module: str, purpose: str, error: BaseException):
        detail = " ".join(f"{type(error).__name__}: {error}".split())
        super().__init__(
            f"{purpose} needs '{module}', which is installed but fails to import: {detail}",
            hint="reinstall it, or the version of its dependency it names",
        )
        self.module, self.error = module, error


class ConstraintError(AcfError):
    """A constraint that cannot be parsed, or that names a metric no evaluator produces."""


class StrategyError(AcfError):
    """A strategy with an unknown method, an out-of-range parameter or an illegal step order."""


class NonFiniteOutputError(AcfError):
    """A model produced NaN or infinite numbers: its measurements mean nothing (the episode fails)."""


class RunStoreError(AcfError):
    """A run directory that is missing, locked by another process, unwritable or holds unreadable JSON."""


class InfeasibleError(AcfError):
    """The pre-flight check refuses work that would not fit this machine."""
