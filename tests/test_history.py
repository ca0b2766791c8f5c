"""What a resumed run replays when candidates ran in parallel: the asks and tells in the order they happened."""

import json

import pytest

from acf.rundir.store import RunStore
from acf.types.results import EpisodeResult
from acf.types.strategy import Step, Strategy


def write(store: RunStore, episode: int, asked_after: int, told: int | None, torn: bool = False):
    strategy = Strategy(steps=[Step(method="rtn", params={"bits": episode + 1})])
    point = {"pipeline": "rtn", "rtn.bits": episode + 1}
    store.write_strategy(episode, point, strategy, asked_after=asked_after)
    if told is None:
        return
    result = EpisodeResult(
        id=f"ep{episode:03d}",
        episode=episode,
        strategy=strategy,
        point=point,
        status="ok",
        told=told,
        asked_after=asked_after,
    )
    store.write_result(result)
    if torn:
        path = store.episode_dir(episode) / "result.json"
        path.write_text(path.read_text()[:30])


def test_asks_and_tells_come_back_in_the_order_they_happened(tmp_path):
    store = RunStore(tmp_path)
    write(store, 1, 0, 1)  # asked first; finished second
    write(store, 2, 0, 0)  # asked with 1 in flight; finished first
    write(store, 3, 1, None)  # in flight when the driver was killed
    write(store, 4, 2, 2)
    asked, told = store.history()
    assert [(n, after) for n, _, after in asked] == [(1, 0), (2, 0), (3, 1), (4, 2)]
    assert [r.episode for r in told] == [2, 1, 4]


def test_a_lost_result_cuts_the_history_where_it_was_told(tmp_path):
    store = RunStore(tmp_path)
    write(store, 1, 0, 1)
    write(store, 2, 0, 0)
    write(store, 3, 1, 2, torn=True)  # its tell (the third) is lost: what came after cannot be replayed
    write(store, 4, 2, 3)
    write(store, 5, 3, 4)  # asked after the lost tell
    with pytest.warns(UserWarning, match="episode 3 and later ones"):
        asked, told = store.history()
    assert [r.episode for r in told] == [2, 1]  # episode 4's result was told after the lost one
    assert [n for n, _, _ in asked] == [1, 2, 3, 4]  # episode 5 was asked after it: asked afresh
    assert json.loads((store.episode_dir(5) / "strategy.json").read_text())["asked_after"] == 3


def test_a_one_at_a_time_run_from_before_these_fields_replays_in_episode_order(tmp_path):
    store = RunStore(tmp_path)
    for n in (1, 2, 3):
        write(store, n, n - 1, None)
        result = EpisodeResult(
            id=f"ep{n:03d}", episode=n, strategy=Strategy(steps=[]), status="ok", point={"pipeline": "rtn"}
        )
        data = result.model_dump(mode="json")
        del data["told"], data["asked_after"]
        (store.episode_dir(n) / "result.json").write_text(json.dumps(data))
        strategy = json.loads((store.episode_dir(n) / "strategy.json").read_text())
        del strategy["asked_after"]
        (store.episode_dir(n) / "strategy.json").write_text(json.dumps(strategy))
    asked, told = store.history()
    assert [(n, after) for n, _, after in asked] == [(1, 0), (2, 1), (3, 2)]
    assert [r.episode for r in told] == [1, 2, 3]
