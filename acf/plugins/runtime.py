"""The base class of runtimes: where a candidate's cost (latency, throughput, memory, energy) is measured.

A runtime says which formats it runs natively (`native_formats`) and deploys a candidate (`deploy`) as a
`Deployment` that the cost evaluators time. A candidate whose format the chosen runtime does not run natively
(weights quantized in simulation, masked sparsity) is still measured, as the runtime runs it, and every number is
marked `simulated`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from acf.errors import AcfError, UnknownPluginError
from acf.models.formats import candidate_format
from acf.plugins.context import Context
from acf.plugins.registry import marked_as


class Deployment:
    """One candidate deployed on a runtime. Timings are of this runtime; `simulated` is true when the candidate's
    format is not what the runtime runs (so its cost is not the deployed model's)."""

    runtime: str = ""
    format: str = ""
    simulated: bool = False
    # Where it runs (a torch device, e.g. `cpu` or `cuda:0`): the energy counter read around it.
    device: Any = "cpu"
    # True when task evaluators score the candidate through this runtime (`score_tokens`, `generate_tokens`), so
    # that accuracy and cost are of one artifact; false when they run on the in-process model.
    scores_tokens: bool = False

    def prefill_decode(self, prompt_len: int, new_tokens: int, seed: int) -> tuple[float, float]:
        """Seconds of one batch-1 prefill of `prompt_len` tokens, and decode tokens/s over `new_tokens` more."""
        raise NotImplementedError

    def generate_seconds(self, batch: int, prompt_len: int, new_tokens: int, seed: int) -> float:
        """Seconds to prefill `batch` prompts and decode `new_tokens` tokens each, greedily."""
        raise NotImplementedError

    def peak_memory_bytes(self, prompt_len: int) -> int:
        """Peak memory of holding the model and running one prefill of `prompt_len` tokens."""
        raise NotImplementedError

    def score_tokens(self, tokens: list[int]) -> list[float]:
        """Log-probability of each token after the first, given the ones before it."""
        raise NotImplementedError

    def generate_tokens(self, tokens: list[int], max_new_tokens: int, stop: list[str]) -> list[int]:
        """Greedy continuation of `tokens`, ending at the end-of-sequence token or once the text holds a stop
        string (the stop string's tokens may be included: callers cut the text)."""
        raise NotImplementedError

    def weight_bytes(self) -> int | None:
        """Bytes of weights the runtime reads to produce a token (what cost predictions scale with), or None."""
        return None

    def close(self) -> None:
        """Free what the deployment holds (a server process, a loaded file)."""

    def provenance(self) -> dict[str, Any]:
        """The fields every cost `Measurement` of this deployment carries."""
        return {"runtime": self.runtime, "format": self.format, "simulated": self.simulated}


class Runtime:
    """Deploys candidates for cost measurement::

        from acf import Runtime, hookimpl

        class MyServer(Runtime):
            name = "my-server"
            native_formats = ("dense-float16",)
            def deploy(self, model, ctx, fmt): ...

        @hookimpl
        def register_runtimes(register):
            register(MyServer)

    `--runtime NAME` measures every candidate on it; `--runtime auto` (the default) picks, per candidate, the
    first available runtime (in `priority` order, highest first) that runs its format natively, else the one
    marked `fallback` (hf).
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    native_formats: ClassVar[tuple[str, ...]] = ()
    # The pip extra that installs this runtime's libraries, named in the error when they are missing.
    extra: ClassVar[str | None] = None
    # Devices ("cpu", "cuda") it runs on.
    devices: ClassVar[tuple[str, ...]] = ("cpu", "cuda")
    priority: ClassVar[int] = 0
    # True for the runtime that measures a candidate no available runtime runs natively (its numbers then marked
    # simulated); one plugin marks one: hf.
    fallback: ClassVar[bool] = False

    def unavailable(self, device: str) -> str | None:
        """Why this runtime cannot run here (missing library, wrong device), or None."""
        kind = device.split(":")[0]
        if kind not in self.devices:
            return f"runtime {self.name} runs on {', '.join(self.devices)}, not {kind}"
        return None

    def runs_natively(self, fmt: str) -> bool:
        return fmt in self.native_formats

    def load(self, path: Path, fmt: str) -> Deployment:
        """The artifact `acf export` wrote at `path` (a file or a folder, in format `fmt`) deployed from disk in a
        process of its own, as its user would load it: the export's round-trip check scores tokens on it
        (`Deployment.score_tokens`). A runtime that cannot raises NotImplementedError; the check then runs on the
        fallback runtime and says so."""
        raise NotImplementedError(f"runtime {self.name} does not load exported artifacts")

    def serve_command(self, path: Path) -> str:
        """How a user runs the exported artifact at `path` on this runtime (shown in its model card)."""
        return ""

    def deploy(self, model: Any, ctx: Context, fmt: str) -> Deployment:
        """`model` (the candidate, in format `fmt`) deployed for measuring; `ctx.checkpoint(model)` and
        `ctx.artifact(model, kind, build)` give it written to disk."""
        raise NotImplementedError


class Runtimes:
    """The runtimes that can measure cost on `device`, and the one that measures each candidate: `wanted` by
    name, or with `auto` the available runtime of highest priority that runs the candidate's format natively,
    else the fallback runtime (`Runtime.fallback`: hf, which then marks its numbers simulated). Naming one that is
    unknown or cannot run here is an error before any model work."""

    def __init__(self, known: dict[str, type], wanted: str, device: str):
        if wanted != "auto":
            if wanted not in known:
                raise UnknownPluginError("runtime", wanted, ["auto", *known])
            why_not = known[wanted]().unavailable(device)
            if why_not:
                raise AcfError(f"runtime {wanted} cannot measure here: {why_not}")
        self.wanted, self.device = wanted, device
        fallbacks = [n for n, c in known.items() if marked_as(c, "fallback")]
        if len(fallbacks) != 1:
            raise AcfError(f"exactly one runtime must be the fallback (Runtime.fallback), got {fallbacks or 'none'}")
        self.fallback = fallbacks[0]
        self.available = {n: c for n, c in known.items() if n == self.fallback or c().unavailable(device) is None}

    def choose(self, fmt: str) -> Runtime:
        return self.available[self.wanted]() if self.wanted != "auto" else self.native(fmt)

    def fallback_runtime(self) -> Runtime:
        return self.available[self.fallback]()

    def native(self, fmt: str) -> Runtime:
        """The available runtime of highest priority that runs `fmt` natively, else the fallback."""
        for runtime in (cls() for cls in sorted(self.available.values(), key=lambda c: -c.priority)):
            if runtime.runs_natively(fmt):
                return runtime
        return self.fallback_runtime()

    def deploy(self, model: Any, ctx: Context) -> Deployment:
        """The candidate deployed on the runtime that measures its cost (`Context.deploy`)."""
        fmt = candidate_format(model, ctx.tensor_formats)
        return self.choose(fmt).deploy(model, ctx, fmt)

    def key(self) -> dict[str, Any]:
        """What decides where a cost is measured, for the evaluation cache."""
        return {"runtime": self.wanted, "runtimes": sorted(self.available)}
