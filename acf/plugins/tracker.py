"""The base class of experiment trackers: told when a run starts, after each episode, and when it ends."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from acf.types.config import RunConfig
from acf.types.results import EpisodeResult


class Tracker:
    """Mirrors a run into an experiment tracker. Construct with `uri` (None: the tracker's default).

    Calls, in order: `start` once (also on resume: continue the same tracked run, using `run_dir` to keep
    its id), `episode` for every episode finished in this process, `finish` with the final results. A
    tracker's exception becomes a warning; the run goes on::

        from acf import Tracker, hookimpl

        class Printer(Tracker):
            name = "print"
            def episode(self, candidate):
                print(candidate.id, candidate.reward)

        @hookimpl
        def register_trackers(register):
            register(Printer)
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""

    def __init__(self, uri: str | None = None):
        self.uri = uri

    def start(self, run_dir: Path, config: RunConfig, spec: dict[str, Any]) -> None:
        pass

    def episode(self, candidate: EpisodeResult) -> None:
        pass

    def finish(self, run_dir: Path, final: dict[str, Any]) -> None:
        pass
