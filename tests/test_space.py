import numpy as np
import pytest

from acf import Choice, Float, Int, Space, StrategyError


def space():
    return Space(
        params=[
            Choice(name="kind", options=["a", "b"]),
            Int(name="bits", low=2, high=8, when={"kind": ["a"]}),
            Float(name="sparsity", low=0.1, high=0.9, when={"kind": ["b"]}),
            Float(name="lr", low=1e-5, high=1e-2, log=True),
        ]
    )


def test_validate_fills_defaults_and_drops_inactive():
    out = space().validate_values({"kind": "a", "bits": 4})
    assert out == {"kind": "a", "bits": 4, "lr": 1e-5}


@pytest.mark.parametrize(
    "values,message",
    [
        ({"kind": "c"}, "not one of"),
        ({"kind": "a", "bits": 9}, "outside [2, 8]"),
        ({"kind": "a", "bits": 3.5}, "not an integer"),
        ({"kind": "b", "sparsity": 0.95}, "outside"),
        ({"kind": "a", "colour": 1}, "unknown parameter"),
    ],
)
def test_validate_rejects(values, message):
    with pytest.raises(StrategyError, match=message.replace("[", r"\[").replace("]", r"\]")):
        space().validate_values(values)


def test_sample_respects_conditions_and_bounds():
    rng = np.random.default_rng(0)
    for _ in range(200):
        point = space().sample(rng)
        assert ("bits" in point) == (point["kind"] == "a")
        assert ("sparsity" in point) == (point["kind"] == "b")
        assert 1e-5 <= point["lr"] <= 1e-2
        space().validate_values(point)


def test_sample_is_seeded():
    a = [space().sample(np.random.default_rng(3)) for _ in range(3)]
    b = [space().sample(np.random.default_rng(3)) for _ in range(3)]
    assert a == b


def test_grid_enumerates_active_combinations():
    grid = space().grid(levels=3)
    # kind=a: bits at 3 levels (2, 5, 8) × 3 lr levels; kind=b: 3 sparsities × 3 lr levels
    assert len(grid) == 3 * 3 + 3 * 3
    assert sorted({p["bits"] for p in grid if p["kind"] == "a"}) == [2, 5, 8]
    assert len(Space(params=[Int(name="b", low=2, high=4)]).grid(levels=3)) == 3
    assert {p["kind"] for p in grid} == {"a", "b"}
    assert sorted({p["lr"] for p in grid}) == pytest.approx([1e-5, 10**-3.5, 1e-2], rel=1e-5)
