"""The uncompressed model's costs on every runtime that measures a candidate of the run (`baseline.json` →
`by_runtime`): a GGUF candidate timed on llama.cpp is seen against the baseline (timed on hf) and against the same
model's F32 file on llama.cpp, so the runtime's share of a speed-up and the compression's are both visible. The
reward's gains stay relative to the run's baseline."""

from __future__ import annotations

from typing import Any

from acf.rundir.store import RunStore
from acf.search.deadline import describe_failure
from acf.types.measurement import Measurement
from acf.types.results import EpisodeResult


class References:
    def __init__(self, store: RunStore, executor: Any, progress: Any, available: set[str]):
        self.store, self.executor, self.progress, self.available = store, executor, progress, available
        self.baseline: dict[str, Measurement] = {}
        self.by_runtime: dict[str, dict[str, Measurement]] = {}

    def start(self, baseline: dict[str, Measurement]) -> None:
        """The baseline's costs are its own runtime's reference; references a resumed run measured are kept."""
        self.baseline = baseline
        self.by_runtime = self.store.read_references()
        for runtime in {m.runtime for m in baseline.values() if m.runtime}:
            self.by_runtime[runtime] = {k: m for k, m in baseline.items() if m.runtime == runtime}
        self.store.write_baseline(baseline, self.by_runtime)

    def note(self, candidate: EpisodeResult) -> None:
        """Measure the reference of each runtime the candidate's costs came from that has none yet."""
        for runtime in sorted({m.runtime for m in candidate.measurements.values() if m.runtime}):
            if runtime in self.by_runtime or runtime not in self.available:
                continue
            self.progress.phase(f"reference: the uncompressed model on {runtime}")
            try:
                self.by_runtime[runtime] = self.executor.reference(runtime)
            except Exception as exc:  # the run goes on without it; said, and tried again by the next candidate
                self.progress.log(f"no reference on {runtime}: {describe_failure(exc)}")
                continue
            self.store.write_baseline(self.baseline, self.by_runtime)
