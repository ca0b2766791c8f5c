"""`--executor ray`: candidates evaluated in parallel by Ray actors, each with a `Session` of its own built from the
run's `RunConfig` (the model loaded once per worker). Points and frontier snapshots go out and outcomes come back
as plain JSON; the driver alone writes the run directory. A worker that dies or is preempted mid-candidate is
replaced and the candidate retried, up to `MAX_ATTEMPTS` tries, then failed with the reason.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

from acf.errors import AcfError
from acf.plugins.backends import import_backend
from acf.search.executors import Executor, Outcome, evaluate_point, suggestions
from acf.search.pipelines import point_to_strategy
from acf.session.references import measure_reference
from acf.session.session import Session
from acf.system.progress import Progress
from acf.types.config import RunConfig
from acf.types.frontier import Frontier
from acf.types.measurement import Measurement

MAX_ATTEMPTS = 3
# How long a cluster address may take to accept a connection before it counts as unreachable.
REACH_TIMEOUT_S = 5.0
# What a worker needs to find the same plugins, caches and data as the driver (on one machine; on a cluster,
# see docs/distributed.md: the cache directory belongs on shared storage).
FORWARDED_ENV = (
    "ACF_CACHE_DIR",
    "ACF_ARTIFACT_CACHE_GB",
    "ACF_LOAD_PLUGINS",
    "ACF_DISABLED_PLUGINS",
    "ACF_DEBUG",
    "HF_HOME",
    "HF_HUB_OFFLINE",
    "HF_DATASETS_OFFLINE",
    "PYTHONPATH",
    "LLM_COMPRESSOR_LOG_DISABLED",
)


class Worker:
    """One Ray actor: a session of its own, one candidate at a time."""

    def __init__(self, config: dict[str, Any], run_dir: str, label: str):
        self.label, self.config = label, RunConfig.model_validate(config)
        if self.config.cpus_per_candidate:  # the executor resolved it: the CPUs Ray reserved for this worker
            import torch

            torch.set_num_threads(max(1, int(self.config.cpus_per_candidate)))
        self.session = Session.from_config(self.config, work_dir=Path(run_dir))

    def threads(self) -> int:
        """The torch threads this worker computes with."""
        import torch

        return torch.get_num_threads()

    def run(self, point: dict[str, Any], frontier: dict[str, Any] | None) -> dict[str, Any]:
        snapshot = Frontier.model_validate(frontier) if frontier else None
        outcome = evaluate_point(self.session, point, timeout_s=self.config.episode_timeout_s, frontier=snapshot)
        outcome.worker = self.label
        return outcome.model_dump(mode="json")

    def baseline(self) -> dict[str, Any]:
        return {k: m.model_dump(mode="json") for k, m in self.session.measure(None)[0].items()}

    def suggest(self, budgets: dict[str, float]) -> list[dict[str, Any]]:
        return suggestions(self.session, budgets)

    def reference(self, runtime: str) -> dict[str, Any]:
        return {k: m.model_dump(mode="json") for k, m in measure_reference(self.session, runtime).items()}

    def pid(self) -> int:
        return os.getpid()


def first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def reachable(address: str, timeout_s: float = REACH_TIMEOUT_S) -> str | None:
    """Why `HOST:PORT` (or `ray://HOST:PORT`) does not answer a TCP connection, or None; `auto` is left to Ray.
    Ray itself waits forever on an address nothing listens at."""
    if address == "auto":
        return None
    host, _, port = address.split("://", 1)[-1].rpartition(":")
    if not host or not port.isdigit():
        return f"{address!r} is not HOST:PORT, ray://HOST:PORT or auto"
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as exc:
        return f"nothing answers at {host}:{port} ({exc.strerror or exc})"
    return None


def connect(ray: Any, address: str | None, workers: int) -> bool:
    """Join the cluster at `address` (or `RAY_ADDRESS`), or start a local one with a CPU slot per worker;
    True when this process started the connection (and must shut it down). One AcfError line when unreachable."""
    if ray.is_initialized():
        return False
    address = address or os.environ.get("RAY_ADDRESS")
    why_not = reachable(address) if address else None
    if why_not:
        raise AcfError(
            f"cannot reach the Ray cluster at {address}: {why_not}",
            hint="check --ray-address (ray://HOST:10001, HOST:6379 or auto) and that the cluster is up",
        )
    try:
        if address:
            ray.init(address=address, log_to_driver=False, logging_level="ERROR")
        else:
            ray.init(
                num_cpus=max(workers, os.cpu_count() or 1),
                include_dashboard=False,
                log_to_driver=False,
                logging_level="ERROR",
            )
    except Exception as exc:  # ConnectionError, a timeout, a bad address: all one line
        raise AcfError(
            f"cannot reach the Ray cluster at {address or 'a new local cluster'}: {first_line(exc)}",
            hint="check --ray-address (ray://HOST:10001, HOST:6379 or auto) and that the cluster is up",
        ) from None
    return True


class RayExecutor(Executor):
    def __init__(self, config: Any, run_dir: Path, progress: Progress, *, worker_cls: type = Worker):
        self.ray = ray = import_backend("ray", extra="ray", purpose="--executor ray")
        self.config, self.run_dir, self.progress = config, Path(run_dir), progress
        self.slots = config.workers
        self.owns = connect(ray, config.ray_address, config.workers)
        resources = ray.cluster_resources()
        gpus_needed = config.gpus_per_candidate * config.workers
        if gpus_needed > resources.get("GPU", 0):
            raise AcfError(
                f"--workers {config.workers} × --gpus-per-candidate {config.gpus_per_candidate:g} needs "
                f"{gpus_needed:g} GPUs; the Ray cluster has {resources.get('GPU', 0):g}"
            )
        # --cpus-per-candidate, else the cluster's CPUs shared out: each worker's reservation and its torch threads
        total = resources.get("CPU", 1.0)
        cpus = config.cpus_per_candidate or total / config.workers
        if cpus * config.workers > total + 1e-9:
            raise AcfError(
                f"--workers {config.workers} × --cpus-per-candidate {cpus:g} needs {cpus * config.workers:g} CPUs; "
                f"the Ray cluster has {total:g}"
            )
        self.config = config = config.model_copy(update={"cpus_per_candidate": cpus})
        env = {k: os.environ[k] for k in FORWARDED_ENV if k in os.environ}
        self.actor_cls = ray.remote(worker_cls)
        self.actor_options = {
            "num_cpus": cpus,
            "num_gpus": config.gpus_per_candidate,
            "max_restarts": 0,
            "namespace": "acf",
            **({"runtime_env": {"env_vars": env}} if env else {}),
        }
        self.generation = 0
        self.actors: dict[str, Any] = {}
        self.idle: list[str] = []
        self.running: dict[Any, tuple[int, dict[str, Any], dict[str, Any] | None, str, int]] = {}
        for i in range(config.workers):
            self._start(f"worker-{i + 1}")

    def _start(self, label: str) -> None:
        self.generation += 1
        name = f"acf-{os.getpid()}-{label}-{self.generation}"  # named, so an operator (or a test) can find it
        self.actors[label] = self.actor_cls.options(name=name, **self.actor_options).remote(
            self.config.model_dump(mode="json"), str(self.run_dir), label
        )
        self.idle.append(label)

    def _call(self, method: str, *args: Any) -> Any:
        """`method` on an idle worker (the baseline, the suggestions); a worker that dies is replaced and the call
        made again, up to `MAX_ATTEMPTS` tries."""
        for attempt in range(1, MAX_ATTEMPTS + 1):
            label = self.idle[0]
            try:
                return self.ray.get(getattr(self.actors[label], method).remote(*args))
            except self.ray.exceptions.RayActorError as exc:
                if attempt == MAX_ATTEMPTS:
                    raise AcfError(
                        f"the Ray worker died {attempt} times measuring the {method}: {first_line(exc)}"
                    ) from None
                self.progress.log(f"{label} died during the {method} ({first_line(exc)}); trying again on a new worker")
                self._replace(label)

    def _replace(self, label: str) -> None:
        self.ray.kill(self.actors[label], no_restart=True)
        self.idle.remove(label)
        self._start(label)
        self.idle.remove(label)
        self.idle.insert(0, label)  # the new worker takes the retried work first

    def baseline(self) -> dict[str, Measurement]:
        return {k: Measurement.model_validate(v) for k, v in self._call("baseline").items()}

    def suggest(self, budgets: dict[str, float]) -> list[dict[str, Any]]:
        return self._call("suggest", budgets)

    def reference(self, runtime: str) -> dict[str, Measurement]:
        return {k: Measurement.model_validate(v) for k, v in self._call("reference", runtime).items()}

    def submit(self, episode: int, point: dict[str, Any], frontier: Frontier | None, attempt: int = 1) -> None:
        snapshot = frontier.model_dump(mode="json") if frontier is not None and frontier.candidates else None
        label = self.idle.pop(0)
        ref = self.actors[label].run.remote(point, snapshot)
        self.running[ref] = (episode, point, snapshot, label, attempt)
        self.progress.running(
            label,
            f"episode {episode}: {point_to_strategy(point).describe()}" + (f" (try {attempt})" if attempt > 1 else ""),
        )

    def wait(self) -> list[tuple[int, Outcome]]:
        ray = self.ray
        while True:
            ready, _ = ray.wait(list(self.running), num_returns=1)
            finished = []
            for ref in ready:
                episode, point, snapshot, label, attempt = self.running.pop(ref)
                self.progress.running(label, None)
                try:
                    outcome = Outcome.model_validate(ray.get(ref))
                except ray.exceptions.RayActorError as exc:  # the worker died or was preempted
                    outcome = self._retry(episode, point, snapshot, label, attempt, exc)
                    if outcome is None:
                        continue
                else:
                    self.idle.append(label)
                finished.append((episode, outcome.model_copy(update={"attempts": attempt})))
            if finished:
                return finished

    def _retry(
        self, episode: int, point: dict[str, Any], snapshot: Any, label: str, attempt: int, exc: Exception
    ) -> Outcome | None:
        """Replace the dead worker; run the candidate again on it, or fail it after `MAX_ATTEMPTS` tries."""
        first = first_line(exc)
        self.idle.append(label)  # busy no more: `_replace` swaps it for a new one at the head of the queue
        self._replace(label)
        if attempt < MAX_ATTEMPTS:
            self.progress.log(f"episode {episode}: {label} died ({first}); trying again on a new worker")
            frontier = Frontier.model_validate(snapshot) if snapshot else None
            self.submit(episode, point, frontier, attempt + 1)
            return None
        return Outcome(
            strategy=point_to_strategy(point),
            status="failed",
            worker=label,
            reason=f"the worker died {attempt} times running it: {first}",
        )

    def close(self) -> None:
        for actor in self.actors.values():
            try:
                self.ray.kill(actor, no_restart=True)
            except Exception:
                pass  # already gone
        self.actors.clear()
        if self.owns:
            self.ray.shutdown()
