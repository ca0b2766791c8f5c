"""A test plugin implementing every acf hook (also installed as an entry point by some tests)."""

import time

from acf import Evaluator, Float, Measurement, Method, Metric, ModelAlias, Resources, RewardPreset, Searcher, Space, Stage, hookimpl


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


class Tiny(RewardPreset):
    name = "tiny"
    category_weights = {"accuracy": 1.0, "size": 5.0}


@hookimpl
def register_methods(register):
    for method in (Explode, Huge, Scale, Costly, Nap):
        register(method)


@hookimpl
def register_evaluators(register):
    register(Slow)
    register(WeightCount)


@hookimpl
def register_searchers(register):
    register(FirstPoint)


@hookimpl
def register_reward_presets(register):
    register(Tiny)


@hookimpl
def register_model_aliases(register):
    register(ModelAlias("test-alias", hub_id="acf-test/not-a-real-model"))


@hookimpl
def register_commands(app):
    @app.command("hello-test")
    def hello_test(name: str = "world"):
        """A command added by the test plugin."""
        print(f"hello {name}")
