"""The run directory, typed: each file of a run (named in `acf.rundir.names`) read and written as its model."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from acf.errors import RunStoreError
from acf.rundir.files import atomic_write_json, atomic_write_text, read_json
from acf.rundir.lock import RunLock
from acf.rundir.names import (
    BASELINE,
    BY_RUNTIME,
    EPISODE_DIR,
    ERROR,
    FINAL,
    FRONTIER,
    MODEL_SPEC,
    REPORT,
    RESULT,
    RUN_CONFIG,
    SEARCHER_RECORDS,
    STRATEGY,
    SUGGESTIONS,
)
from acf.types.config import RunConfig
from acf.types.frontier import Frontier
from acf.types.measurement import Measurement
from acf.types.results import EpisodeResult, FinalResults
from acf.types.strategy import Strategy


def run_summary_files(run_dir: Path) -> list[Path]:
    """The summary files of the run in `run_dir` that exist now (frontier, final results, report)."""
    return RunStore(run_dir).summary_files()


def is_run_dir(path: Path) -> bool:
    return (Path(path) / RUN_CONFIG).is_file()


class RunStore:
    """The files of one run; see the README's "Run directory" section for the layout."""

    def __init__(self, run_dir: Path):
        self.dir = Path(run_dir)

    def exists(self) -> bool:
        return is_run_dir(self.dir)

    def lock(self) -> RunLock:
        return RunLock(self.dir)

    def create(self) -> None:
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            probe = self.dir / ".write-test"
            probe.write_text("")
            probe.unlink()
        except OSError as exc:
            raise RunStoreError(f"cannot write to run directory {self.dir}: {exc.strerror or exc}") from None

    def remove_partial_writes(self) -> list[Path]:
        """Delete temporary files a killed writer left behind (`.NAME.*.tmp`; the real file is intact)."""
        stale = [p for p in [*self.dir.glob(".*.tmp"), *self.dir.glob("episode_*/.*.tmp")] if p.is_file()]
        for p in stale:
            p.unlink(missing_ok=True)
        return stale

    # ------------------------------------------------------------------ run-level files
    def read_config(self) -> RunConfig:
        if not self.exists():
            raise RunStoreError(f"{self.dir} is not an acf run directory (no {RUN_CONFIG})")
        return self._model(RunConfig, self.dir / RUN_CONFIG)

    def write_config(self, config: RunConfig) -> None:
        atomic_write_json(self.dir / RUN_CONFIG, config.model_dump(mode="json"))

    def write_spec(self, spec: Any) -> None:
        atomic_write_json(self.dir / MODEL_SPEC, spec.model_dump(mode="json"))

    def read_spec(self) -> dict[str, Any]:
        return read_json(self.dir / MODEL_SPEC) if (self.dir / MODEL_SPEC).is_file() else {}

    def write_baseline(
        self, measurements: dict[str, Measurement], by_runtime: dict[str, dict[str, Measurement]] | None = None
    ) -> None:
        """The uncompressed model's measurements (what every gain is relative to) and, under `by_runtime`, its costs
        on each runtime that measured a candidate of the run (the reference the runtime's own share is seen by)."""
        data: dict[str, Any] = {k: v.model_dump() for k, v in measurements.items()}
        data[BY_RUNTIME] = {r: {k: v.model_dump() for k, v in ms.items()} for r, ms in (by_runtime or {}).items()}
        atomic_write_json(self.dir / BASELINE, data)

    def read_baseline(self) -> dict[str, Measurement] | None:
        if not (self.dir / BASELINE).is_file():
            return None
        data = read_json(self.dir / BASELINE)
        return {k: Measurement.model_validate(v) for k, v in data.items() if k != BY_RUNTIME}

    def read_references(self) -> dict[str, dict[str, Measurement]]:
        """`baseline.json` → `by_runtime`: runtime → the uncompressed model's costs on it (empty before any)."""
        if not (self.dir / BASELINE).is_file():
            return {}
        stored = read_json(self.dir / BASELINE).get(BY_RUNTIME, {})
        return {r: {k: Measurement.model_validate(v) for k, v in ms.items()} for r, ms in stored.items()}

    def write_frontier(self, frontier: Frontier) -> None:
        atomic_write_json(self.dir / FRONTIER, frontier.model_dump(mode="json"))

    def has_frontier(self) -> bool:
        return (self.dir / FRONTIER).is_file()

    def read_frontier(self) -> Frontier:
        if not self.has_frontier():
            raise RunStoreError(f"{self.dir} has no {FRONTIER} yet (no episode has finished)")
        return self._model(Frontier, self.dir / FRONTIER)

    def write_final(self, final: FinalResults) -> None:
        atomic_write_json(self.dir / FINAL, final.model_dump(mode="json"))

    def read_final(self) -> FinalResults | None:
        return self._model(FinalResults, self.dir / FINAL) if (self.dir / FINAL).is_file() else None

    def final_path(self) -> Path:
        return self.dir / FINAL

    def report_path(self) -> Path:
        return self.dir / REPORT

    def summary_files(self) -> list[Path]:
        """The run's summary files that exist now (frontier, final results, report): what a tracker keeps."""
        return [p for p in (self.dir / FRONTIER, self.dir / FINAL, self.report_path()) if p.is_file()]

    # ------------------------------------------------------------------ episodes
    def write_suggestions(self, strategies: list[dict[str, Any]]) -> None:
        atomic_write_json(self.dir / SUGGESTIONS, strategies)

    def read_suggestions(self) -> list[dict[str, Any]] | None:
        """The strategies the methods suggested when the run began (None before that): a resumed run tries the
        same ones, without working them out again."""
        path = self.dir / SUGGESTIONS
        return read_json(path) if path.is_file() else None

    def episode_dir(self, episode: int) -> Path:
        return self.dir / f"episode_{episode:03d}"

    def write_strategy(
        self,
        episode: int,
        point: dict[str, Any],
        strategy: Strategy,
        asked_after: int | None = None,
        rationale: str | None = None,
    ) -> None:
        """An episode's point as the searcher proposed it, before any work; `asked_after`: how many results the
        searcher had been told then (default: all earlier episodes', as a one-at-a-time run does); `rationale`:
        why the searcher proposed it, when it says."""
        after = episode - 1 if asked_after is None else asked_after
        atomic_write_json(
            self.episode_dir(episode) / STRATEGY,
            {"point": point, "asked_after": after, "rationale": rationale, **strategy.model_dump(mode="json")},
        )

    def rationale(self, episode: int) -> str | None:
        path = self.episode_dir(episode) / STRATEGY
        return read_json(path).get("rationale") if path.is_file() else None

    def write_searcher_record(self, number: int, record: dict[str, Any]) -> None:
        atomic_write_json(self.dir / SEARCHER_RECORDS / f"round_{number:03d}.json", record)

    def read_searcher_record(self, number: int) -> dict[str, Any] | None:
        path = self.dir / SEARCHER_RECORDS / f"round_{number:03d}.json"
        return read_json(path) if path.is_file() else None

    def discard_result(self, episode: int) -> None:
        """Remove a result the replay could not keep (told after a lost one): the episode runs again."""
        (self.episode_dir(episode) / RESULT).unlink(missing_ok=True)

    def asked_after(self, episode: int) -> int:
        path = self.episode_dir(episode) / STRATEGY
        stored = read_json(path).get("asked_after") if path.is_file() else None
        return episode - 1 if stored is None else stored

    def history(self) -> tuple[list[tuple[int, dict[str, Any], int]], list[EpisodeResult]]:
        """What a resumed run replays: the episodes asked, in order, as (number, point, results told before it was
        asked), and the results in the order the searcher was told them.

        Only a history that can be replayed exactly is kept: the results whose tell order is a gap-free prefix
        (a result lost or torn cuts it there), and the asks made while at most that many had been told. An episode
        asked but left without a kept result is run again (its evaluations come back from the cache); one asked
        after the cut is asked afresh.
        """
        results = {r.episode: r for r in self.finished_episodes()}
        order = {r.episode: (r.episode - 1 if r.told is None else r.told) for r in results.values()}
        told = sorted(results.values(), key=lambda r: order[r.episode])
        cut = next((i for i, r in enumerate(told) if order[r.episode] != i), len(told))
        told = told[:cut]
        asked = []
        for episode in self.episode_numbers():
            path = self.episode_dir(episode) / STRATEGY
            if episode != len(asked) + 1 or not path.is_file():
                break
            after = self.asked_after(episode)
            if after > cut:
                break
            asked.append((episode, read_json(path)["point"], after))
        kept = {number for number, _, _ in asked}
        return asked, [r for r in told if r.episode in kept]

    def write_result(self, result: EpisodeResult) -> None:
        atomic_write_json(self.episode_dir(result.episode) / RESULT, result.model_dump(mode="json"))

    def write_error(self, episode: int, text: str) -> None:
        atomic_write_text(self.episode_dir(episode) / ERROR, text)

    def finished_episodes(self) -> list[EpisodeResult]:
        """Every episode's valid result, in episode order (with candidates in parallel, a killed run may have
        finished episode 5 and not 4). A torn result is left out with a warning; `history` decides what a resumed
        run replays."""
        results = []
        for episode in self.episode_numbers():
            path = self.episode_dir(episode) / RESULT
            if path.is_file():
                try:
                    results.append(self._model(EpisodeResult, path))
                except RunStoreError as exc:
                    warnings.warn(
                        f"{exc}; episode {episode} and later ones (in the order they finished) are run "
                        "again on resume (their evaluations are cached)",
                        stacklevel=2,
                    )
        return results

    def episode_numbers(self) -> list[int]:
        if not self.dir.is_dir():
            return []
        return sorted(int(m[1]) for p in self.dir.iterdir() if (m := EPISODE_DIR.match(p.name)))

    @staticmethod
    def _model(cls: Any, path: Path) -> Any:
        try:
            return cls.model_validate(read_json(path))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(map(str, first["loc"]))
            raise RunStoreError(f"{path} does not hold a valid {cls.__name__} ({where}: {first['msg']})") from None
