import pytest

from acf.search.reward import reward
from acf.types.frontier import build_frontier, dominates, hypervolume, pareto_indices
from acf.types.measurement import Measurement
from acf.types.objectives import Constraint, Metric
from acf.types.results import EpisodeResult
from acf.types.strategy import Step, Strategy

ACC = Metric(name="acc", direction="max", category="accuracy")
SIZE = Metric(name="size_mb", direction="min", category="size")
BASE = {"acc": Measurement.exact(0.8), "size_mb": Measurement.exact(100.0)}


def cand(i, acc, size, **kw):
    return EpisodeResult(
        id=f"ep{i:03d}",
        episode=i,
        strategy=Strategy(steps=[Step(method="rtn", params={"bits": i})]),
        status="ok",
        measurements={"acc": Measurement.exact(acc), "size_mb": Measurement.exact(size)},
        **kw,
    )


def test_dominates():
    assert dominates((2, 2), (1, 2))
    assert not dominates((2, 1), (1, 2))
    assert not dominates((1, 1), (1, 1))


def test_pareto_indices_drop_dominated_and_duplicates():
    pts = [(1, 3), (2, 2), (1, 1), (3, 1), (2, 2), (0.5, 3)]
    assert pareto_indices(pts) == [0, 1, 3]


def test_hypervolume_hand_computed():
    assert hypervolume([(1, 2), (2, 1)]) == pytest.approx(3.0)  # 2 + 2 - 1 overlap
    assert hypervolume([(1, 1)]) == pytest.approx(1.0)
    assert hypervolume([(2, 3), (1, 1)]) == pytest.approx(6.0)  # (1,1) is inside (2,3)
    assert hypervolume([(1, 2, 3)]) == pytest.approx(6.0)
    # two boxes 1×1×2 and 2×1×1 overlapping in 1×1×1
    assert hypervolume([(1, 1, 2), (2, 1, 1)]) == pytest.approx(3.0)
    assert hypervolume([(-1, 2)]) == 0.0
    assert hypervolume([]) == 0.0


def test_reward_hand_computed():
    weights = {"acc": 1.0, "size_mb": 1.0}
    m = {"acc": Measurement.exact(0.6), "size_mb": Measurement.exact(25.0)}
    # gains: acc 0.6/0.8 = 0.75 → -0.25; size (200-25)/100 = 1.75 → +0.75; mean = 0.25
    assert reward(m, BASE, [ACC, SIZE], weights) == pytest.approx(0.25)
    assert reward(BASE, BASE, [ACC, SIZE], weights) == 0.0
    assert reward(m, BASE, [ACC, SIZE], {"acc": 3.0, "size_mb": 1.0}) == pytest.approx((-0.75 + 0.75) / 4)


def test_frontier_recommends_best_feasible():
    c1, c2, c3 = (
        cand(1, 0.78, 50, reward=0.3, feasible=True),
        cand(2, 0.5, 25, reward=0.2, feasible=True),
        cand(3, 0.7, 60, reward=0.1, feasible=True),
    )
    f = build_frontier([c1, c2, c3], [ACC, SIZE], BASE)
    assert [c.id for c in f.candidates] == ["ep001", "ep002"]  # ep003 is dominated by ep001
    # gains: ep001 (0.975, 1.5), ep002 (0.625, 1.75) → 1.4625 + 0.625*0.25
    assert f.hypervolume == pytest.approx(0.975 * 1.5 + 0.625 * 0.25)
    assert f.recommended == "ep001"
    assert f.blocking_constraint is None


def test_frontier_names_blocking_constraint_when_nothing_is_feasible():
    con = Constraint.parse("size_mb<=20")
    c1 = cand(1, 0.78, 50, reward=0.3, violations={con.text: con.violation(50, None)})
    c2 = cand(2, 0.5, 25, reward=0.2, violations={con.text: con.violation(25, None)})
    f = build_frontier([c1, c2], [ACC, SIZE], BASE)
    assert f.recommended == "ep002"
    assert f.blocking_constraint == "size_mb<=20"
    assert "nearest" in f.recommended_reason


def test_failed_candidates_stay_off_the_frontier():
    bad = EpisodeResult(id="ep004", episode=4, strategy=Strategy(steps=[]), status="failed", reason="x")
    f = build_frontier([bad, cand(1, 0.8, 50, reward=0.5, feasible=True)], [ACC, SIZE], BASE)
    assert [c.id for c in f.candidates] == ["ep001"]
