"""An episode's wall-clock limit (`--timeout`), and how a failed episode's exception is described."""

from __future__ import annotations

import contextlib
import signal
import threading

# What torch's CPU allocator says when an allocation fails (it raises RuntimeError, not MemoryError).
OOM_TEXTS = ("can't allocate memory", "not enough memory")


class EpisodeTimeout(Exception):
    """An episode ran past --timeout; it is recorded as failed."""


@contextlib.contextmanager
def deadline(seconds: float | None):
    """Raise EpisodeTimeout in the main thread after `seconds` (SIGALRM; a no-op elsewhere or when None).

    The signal interrupts Python code and sleeps; a long native call (one big matmul) finishes first.
    """
    if not seconds or threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def expire(signum, frame):
        raise EpisodeTimeout(f"timed out after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def describe_failure(exc: BaseException) -> str:
    name = type(exc).__name__
    if isinstance(exc, MemoryError) or "OutOfMemory" in name or any(t in str(exc) for t in OOM_TEXTS):
        return f"out of memory: {exc}".strip()
    return f"{name}: {exc}"
