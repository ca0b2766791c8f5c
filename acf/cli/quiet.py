"""A library's repeated message is said once per command: Python warnings (shown as one line) and log records that
reach logging's last resort (a library logger with no handler of its own: bitsandbytes logs its int8 cast warning on
every matmul — 10,080 lines in one run of the README's main command)."""

from __future__ import annotations

import logging
import sys
import warnings


class Once(logging.Filter):
    """Passes each (logger, message) once."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        text = f"{record.name}\0{record.getMessage()}"
        if text in self.seen:
            return False
        self.seen.add(text)
        return True


ONCE = Once()
_shown: set[str] = set()


def show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A warning as one line, each text once."""
    text = str(message)
    if text not in _shown:
        _shown.add(text)
        print(f"Warning: {text}", file=sys.stderr)


def say_each_once() -> None:
    """At the start of a command: warnings and last-resort log records from here on, each text once (a command run
    in-process again — tests, plugins — says them again)."""
    _shown.clear()
    ONCE.seen.clear()
    warnings.showwarning = show_warning
    for handler in (logging.lastResort, *logging.getLogger().handlers):
        if handler is not None and ONCE not in handler.filters:
            handler.addFilter(ONCE)
