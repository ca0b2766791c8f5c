"""Progress reporting: rich bars for a person, nothing with --quiet."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator


class Progress:
    """The quiet reporter, and the interface: the coordinator and plugins call these."""

    def start(self, total: int, done: int = 0, title: str = "") -> None: ...

    def episode(self, number: int, description: str) -> None: ...

    def phase(self, text: str) -> None: ...

    def advance(self) -> None: ...

    def running(self, worker: str, text: str | None) -> None:
        """What a worker is evaluating now (candidates in parallel); None when it is idle again."""

    def log(self, text: str) -> None: ...

    def stop(self) -> None: ...

    @contextmanager
    def task(self, description: str, total: int | None = None) -> Iterator["_Task"]:
        """A long step (conversion, calibration, evaluation) with its own bar and ETA."""
        yield _Task(None, None)


class _Task:
    def __init__(self, progress, task_id):
        self._progress, self._id = progress, task_id

    def advance(self, n: int = 1) -> None:
        if self._progress is not None:
            self._progress.advance(self._id, n)


class RichProgress(Progress):
    def __init__(self, console: Any = None):
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import (
            Progress as Bar,
        )

        self.console = console or Console(stderr=True)
        self._bar = Bar(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        )
        self._main = None
        self._label = ""
        self._workers: dict[str, int] = {}  # worker → its line (candidates in parallel)

    def start(self, total: int, done: int = 0, title: str = "") -> None:
        self._bar.start()
        self._title = title or "episodes"
        self._main = self._bar.add_task(self._title, total=total, completed=done)

    def episode(self, number: int, description: str) -> None:
        self._label = f"episode {number}: {description}"
        self.phase("starting")

    def phase(self, text: str) -> None:
        if self._main is not None:
            self._bar.update(self._main, description=f"{self._label} [dim]{text}[/dim]" if self._label else text)

    def advance(self) -> None:
        if self._main is not None:
            self._bar.advance(self._main)

    def running(self, worker: str, text: str | None) -> None:
        """A line per busy worker under the episodes bar."""
        if text is None:
            task = self._workers.pop(worker, None)
            if task is not None:
                self._bar.remove_task(task)
        elif worker in self._workers:
            self._bar.update(self._workers[worker], description=f"  {worker}: {text}")
        else:
            self._workers[worker] = self._bar.add_task(f"  {worker}: {text}", total=None)

    def log(self, text: str) -> None:
        self._bar.console.print(text, soft_wrap=True, markup=False, highlight=False)

    def stop(self) -> None:
        if self._main is not None:  # the last frame is kept on screen: the run's title, not the last episode's phase
            self._bar.update(self._main, description=self._title)
        self._bar.stop()

    @contextmanager
    def task(self, description: str, total: int | None = None):
        task_id = self._bar.add_task(f"  {description}", total=total)
        started = not self._bar.live.is_started
        if started:
            self._bar.start()
        try:
            yield _Task(self._bar, task_id)
        finally:
            self._bar.remove_task(task_id)
            if started:
                self._bar.stop()
