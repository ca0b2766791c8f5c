import pytest

from acf.errors import StrategyError
from acf.models.spec import infer_spec
from acf.plugins.manager import registry
from acf.plugins.validation import validate_strategy
from acf.search.pipelines import enumerate_pipelines, point_to_strategy, strategy_space
from acf.types.strategy import Step, Strategy

SPEC = infer_spec(
    {
        "model_type": "llama",
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "vocab_size": 100,
    },
    source="tiny",
)


def methods():
    reg = registry()
    return {n: reg.get("method", n)() for n in ("rtn", "magnitude")}


def space():
    m = methods()
    return strategy_space(m, SPEC, enumerate_pipelines(m, 2))


def test_pipelines_follow_stage_order():
    assert enumerate_pipelines(methods(), 2) == [("magnitude",), ("rtn",), ("magnitude", "rtn")]


def test_invalid_order_is_rejected_before_work():
    with pytest.raises(StrategyError, match="rtn \\(quantize\\)"):
        validate_strategy(Strategy(steps=[Step(method="rtn"), Step(method="magnitude")]), methods(), SPEC)
    with pytest.raises(StrategyError, match="group_size=128 is not one of \\[32, 64, -1\\]"):
        validate_strategy(Strategy(steps=[Step(method="rtn", params={"group_size": 128})]), methods(), SPEC)
    with pytest.raises(StrategyError, match="unknown method 'gptq9'"):
        validate_strategy(Strategy(steps=[Step(method="gptq9")]), methods(), SPEC)


def test_conditional_space_maps_points_to_strategies():
    s = space()
    point = s.validate_values({"pipeline": "magnitude+rtn", "magnitude.sparsity": 0.37, "rtn.bits": 3})
    strategy = point_to_strategy(point)
    assert strategy.pipeline == ("magnitude", "rtn")
    assert strategy.steps[0].params == {"sparsity": 0.37, "scope": "layer"}
    assert strategy.steps[1].params["bits"] == 3
    only_rtn = s.validate_values({"pipeline": "rtn"})
    assert not any(k.startswith("magnitude.") for k in only_rtn)


def drive(name, seed, n=8):
    cls = registry().get("searcher", name)
    searcher = cls(space(), num_objectives=2, budget=n, seed=seed)
    points = []
    for i in range(n):
        point = searcher.ask()
        points.append(point)
        validate_strategy(point_to_strategy(point), methods(), SPEC)
        bits = point.get("rtn.bits", 16)
        searcher.tell(point, [-(bits / 8), -(1 + i % 3) / 3], 0.0 if i % 2 else 0.1)
    return points


@pytest.mark.parametrize("name", ["nevergrad", "random", "grid"])
def test_searchers_are_reproducible_with_a_seed(name):
    assert drive(name, 0) == drive(name, 0)


@pytest.mark.parametrize("name", ["nevergrad", "random"])
def test_seed_changes_the_proposals(name):
    assert drive(name, 0) != drive(name, 1)


def test_searchers_explore_continuous_values_and_several_pipelines():
    points = drive("nevergrad", 0, n=12)
    assert len({p["pipeline"] for p in points}) >= 2
    sparsities = {p["magnitude.sparsity"] for p in points if "magnitude.sparsity" in p}
    assert sparsities and not sparsities <= {0.05, 0.475, 0.9}


def test_grid_covers_every_pipeline_first():
    points = drive("grid", 0, n=3)
    assert {p["pipeline"] for p in points} == {"magnitude", "rtn", "magnitude+rtn"}


def test_nevergrad_failed_candidates_are_told():
    cls = registry().get("searcher", "nevergrad")
    searcher = cls(space(), num_objectives=2, budget=4, seed=0)
    point = searcher.ask()
    searcher.tell(point, None)  # failed: must not raise
    assert searcher.opt.num_tell == 1


def test_nevergrad_starts_from_the_methods_defaults():
    cls = registry().get("searcher", "nevergrad")
    s = space()
    searcher = cls(s, num_objectives=2, budget=6, seed=0)
    first = [searcher.ask() for _ in range(3)]
    for point in first[:3]:
        searcher.tell(point, [-1.0, -1.0])
    seeded = first[:2]  # budget 6 allows 3 seeds; there are 2 single-method pipelines
    assert {p["pipeline"] for p in seeded} == {"magnitude", "rtn"}
    for p in seeded:
        assert p == s.validate_values({"pipeline": p["pipeline"]})  # exactly the methods' defaults
    assert first[2] != s.validate_values({"pipeline": first[2]["pipeline"]})  # then the optimizer explores


def test_nevergrad_refines_the_pareto_front_with_one_step_neighbours():
    from acf.types.space import Choice, Space

    s = Space(
        params=[
            Choice(name="pipeline", options=["rtn"]),
            Choice(name="rtn.bits", options=[2, 3, 4, 8], default=4),
            Choice(name="rtn.group_size", options=[32, 64, -1], default=32),
        ]
    )
    searcher = registry().get("searcher", "nevergrad")(s, num_objectives=2, budget=10, seed=0)
    seed = searcher.ask()
    assert seed == {"pipeline": "rtn", "rtn.bits": 4, "rtn.group_size": 32}
    searcher.tell(seed, [-0.9, -1.5])
    neighbour = searcher.ask()  # the first ask after the seeds is a Pareto neighbour
    differs = {k for k in seed if seed[k] != neighbour[k]}
    assert len(differs) == 1
    k = differs.pop()
    options = s.get(k).options
    assert abs(options.index(neighbour[k]) - options.index(seed[k])) == 1


def test_parameter_neighbours_step_within_bounds():
    from acf.types.space import Choice, Float, Int

    assert Choice(name="b", options=[2, 3, 4, 8]).neighbours(2) == [3]
    assert Choice(name="b", options=[2, 3, 4, 8]).neighbours(4) == [3, 8]
    assert Int(name="n", low=0, high=8).neighbours(1) == [0, 3]
    assert Int(name="n", low=1, high=64, log=True).neighbours(64) == [32]
    assert Float(name="s", low=0.1, high=0.9).neighbours(0.5) == [0.4, 0.6]
    assert Float(name="d", low=0.001, high=0.1, log=True).neighbours(0.1) == [0.05]
