"""A test plugin implementing every acf hook (also installed as an entry point by some tests)."""

import itertools
import os
import signal
import time

from acf import (
    Evaluator,
    Float,
    Measurement,
    Method,
    Metric,
    ModelAlias,
    Resources,
    RewardPreset,
    Runtime,
    Searcher,
    Space,
    Stage,
    Tracker,
    hookimpl,
)
from acf_plugins_builtin.searchers.grid import GridSearcher


class Explode(Method):
    name = "explode"
    stage = Stage.PRUNE

    def space(self, spec):
        return Space(params=[Float(name="power", low=0.0, high=1.0)])

    def apply(self, model, params, ctx):
        raise RuntimeError("boom: this step always fails")


class Huge(Method):
    name = "huge"
    stage = Stage.PRUNE

    def estimate(self, spec, params):
        return Resources(peak_memory_bytes=2**60)

    def apply(self, model, params, ctx):  # pragma: no cover - the pre-flight check refuses it
        raise AssertionError("pre-flight should have refused this step")


class Scale(Method):
    """Multiplies every weight of the first MLP by `factor` (a real, cheap change for tests)."""

    name = "scale"
    stage = Stage.RECOVER

    def space(self, spec):
        return Space(params=[Float(name="factor", low=0.5, high=1.5)])

    def apply(self, model, params, ctx):
        import torch

        with torch.no_grad():
            for p in model.model.layers[0].mlp.parameters():
                p.mul_(params["factor"])
        return model


class Costly(Method):
    """Its estimated time grows with `effort`: exercises the episode budget."""

    name = "costly"
    stage = Stage.PRUNE

    def space(self, spec):
        return Space(params=[Float(name="effort", low=0.0, high=1.0)])

    def estimate(self, spec, params):
        return Resources(seconds=1.0 + 100.0 * params.get("effort", 0.0))

    def apply(self, model, params, ctx):
        return model


class Nap(Method):
    """Sleeps for `seconds` before doing nothing: a step that hangs, for --timeout."""

    name = "nap"
    stage = Stage.PRUNE

    def space(self, spec):
        return Space(params=[Float(name="seconds", low=5.0, high=6.0)])

    def apply(self, model, params, ctx):
        time.sleep(params["seconds"])
        return model


class Hog(Method):
    """Asks for far more memory than any machine has: a step that runs out of memory."""

    name = "hog"
    stage = Stage.PRUNE

    def apply(self, model, params, ctx):
        import torch

        torch.empty(2**62, dtype=torch.uint8)
        return model


class Slow(Evaluator):
    """Sleeps, then reports a constant: gives tests a window to kill a run mid-evaluation."""

    name = "slow"
    metrics = (Metric(name="slow_seconds", direction="min", category="other"),)
    option_defaults = {"seconds": 0.5}

    def evaluate(self, model, ctx, fidelity):
        time.sleep(self.options["seconds"])
        return {"slow_seconds": Measurement.exact(self.options["seconds"])}


class WeightCount(Evaluator):
    name = "weight_count"
    is_task = True
    metrics = (Metric(name="nonzero_weights", direction="max", category="accuracy"),)

    def evaluate(self, model, ctx, fidelity):
        n = sum(int((p != 0).sum()) for p in model.parameters())
        return {"nonzero_weights": Measurement.exact(float(n))}


class FirstPoint(Searcher):
    name = "first"

    def ask(self):
        return self.space.sample(self.rng)

    def tell(self, point, losses, violation=0.0):
        self.last = (point, losses, violation)


class Recorder(GridSearcher):
    """The grid searcher, keeping every tell (class-level, for tests in this process)."""

    name = "recorder"
    told: list = []

    def tell(self, point, losses, violation=0.0):
        Recorder.told.append((point, losses, violation))


class Notes(Tracker):
    """Remembers what it was told (class-level, for tests in this process)."""

    name = "notes"
    events: list = []

    def start(self, run_dir, config, spec):
        Notes.events.append(("start", config.model))

    def episode(self, candidate):
        Notes.events.append(("episode", candidate.id))

    def finish(self, run_dir, final):
        Notes.events.append(("finish", final["hypervolume"]))


class Tiny(RewardPreset):
    name = "tiny"
    category_weights = {"accuracy": 1.0, "size": 5.0}


@hookimpl
def register_methods(register):
    for method in (Explode, Huge, Scale, Costly, Nap, Hog):
        register(method)


@hookimpl
def register_evaluators(register):
    register(Slow)
    register(WeightCount)


@hookimpl
def register_searchers(register):
    register(FirstPoint)
    register(Recorder)


@hookimpl
def register_reward_presets(register):
    register(Tiny)


@hookimpl
def register_model_aliases(register):
    register(ModelAlias("test-alias", hub_id="acf-test/not-a-real-model"))


@hookimpl
def register_trackers(register):
    register(Notes)


class Counting(Runtime):
    """Times candidates in process, counting what it deployed; runs no format natively (so `auto` never picks it)."""

    name = "counting"
    deployed: list = []

    def deploy(self, model, ctx, fmt):
        from acf_plugins_builtin.runtimes.hf import HFDeployment

        Counting.deployed.append(fmt)
        deployment = HFDeployment(model, fmt, simulated=True)
        deployment.runtime = self.name
        return deployment


@hookimpl
def register_runtimes(register):
    register(Counting)


@hookimpl
def register_commands(app):
    @app.command("hello-test")
    def hello_test(name: str = "world"):
        """A command added by the test plugin."""
        print(f"hello {name}")


def _install_kill_switch(spec: str) -> None:
    """Fault injection for the SIGKILL tests: a subprocess sets MY_PLUGIN_KILL to
    "write:SUFFIX" (killed after the temporary file is written, before it is renamed over the file ending in
    SUFFIX), "apply:N" (killed inside the N-th rtn/magnitude step) or "evaluate:N" (inside the N-th size evaluation).
    """
    what, arg = spec.split(":", 1)

    def die(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

    if what == "write":
        real_replace = os.replace

        def replace(src, dst, *args, **kwargs):
            if str(dst).endswith(arg):
                die()
            return real_replace(src, dst, *args, **kwargs)

        os.replace = replace
        return
    from acf_plugins_builtin.evaluators.costs.size import Size
    from acf_plugins_builtin.methods.magnitude import MagnitudePruning
    from acf_plugins_builtin.methods.rtn import RoundToNearest

    calls = itertools.count(1)
    targets = [RoundToNearest, MagnitudePruning] if what == "apply" else [Size]
    attr = "apply" if what == "apply" else "evaluate"
    for cls in targets:

        def wrapped(self, *args, _real=getattr(cls, attr), **kwargs):
            if next(calls) == int(arg):
                die()
            return _real(self, *args, **kwargs)

        setattr(cls, attr, wrapped)


if os.environ.get("MY_PLUGIN_KILL"):
    _install_kill_switch(os.environ["MY_PLUGIN_KILL"])
