"""Importing a plugin's optional backend library: missing → install hint; installed but broken → its own error."""

from __future__ import annotations

import importlib
from types import ModuleType

from acf.errors import BackendImportError, MissingBackendError


def import_backend(
    module: str, *, purpose: str, package: str | None = None, extra: str | None = None, install_hint: str | None = None
) -> ModuleType:
    """Import `module` for `purpose` (e.g. "the nevergrad searcher").

    Not installed → `MissingBackendError` with how to install it: `pip install 'acf[EXTRA]'` for acf's own
    extras, else `install_hint` (a third-party plugin's own advice) or `pip install PACKAGE`. Installed but
    failing to import (a wrong version of one of its dependencies, say) → `BackendImportError` carrying the
    library's own exception, never a claim that it is missing.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (module == exc.name or module.startswith(exc.name + ".")):
            raise MissingBackendError(package or module, extra, purpose, install_hint=install_hint) from None
        raise BackendImportError(module, purpose, exc) from exc
    except Exception as exc:
        raise BackendImportError(module, purpose, exc) from exc
