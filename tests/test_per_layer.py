"""Per-layer quantization: a level per block and projection group, from a database; the prior, the search, the
export, the budget checks."""

import json

import numpy as np
import pytest
import torch

import acf
from acf.models.export import check_reload
from acf.models.loading import load_model
from acf.search.pipelines import enumerate_pipelines, strategy_space
from acf.testing import model_context
from acf_plugins_builtin.evaluators.costs.size import Size
from acf_plugins_builtin.methods.magnitude import MagnitudePruning
from acf_plugins_builtin.methods.packing import Grid
from acf_plugins_builtin.methods.per_layer.evolve import Budget, evolve, mutate
from acf_plugins_builtin.methods.per_layer.method import PerLayer
from acf_plugins_builtin.methods.per_layer.prior import knapsack
from acf_plugins_builtin.methods.per_layer.units import Level, Unit


def apply(folder, model, ctx, **levels):
    method = PerLayer()
    params = method.space(ctx.spec).validate_values({"source": "rtn", **levels})
    ctx.records.begin_step("per_layer")
    ctx.records.methods.append(method)
    return method.apply(model, params, ctx), params


def test_the_space_has_a_level_per_block_and_projection_group(acf_tiny_model):
    spec = model_context(acf_tiny_model).spec
    space = PerLayer().space(spec)
    units = [p for p in space.params if p.name.startswith("L")]
    assert [p.name for p in units] == [
        f"L{i:02d}_{g}" for i in range(spec.num_layers) for g in ("attn_in", "attn_out", "mlp_in", "mlp_out")
    ]
    assert units[0].options == ["2g64", "3ch", "3g64", "4ch", "4g64", "8ch", "keep"] and units[0].default == "4g64"
    assert PerLayer().lowest(spec, "effective_bits") == pytest.approx(2.25)  # everything at 2 bits, fp16 scales
    assert PerLayer().lowest(spec, "size_mb") is None


def test_a_candidate_is_mixed_precision_on_disk_and_reloads_the_same(acf_tiny_model):
    model, ctx = load_model(acf_tiny_model), model_context(acf_tiny_model)
    before = model.model.layers[1].mlp.down_proj.weight.clone()
    model, params = apply(acf_tiny_model, model, ctx, L00_attn_in="2g64", L00_mlp_in="8ch", L01_mlp_out="keep")
    assert torch.equal(model.model.layers[1].mlp.down_proj.weight, before)  # kept
    step = ctx.records.steps[-1]
    assert step["allocation"]["L00_attn_in"] == "2g64" and step["allocation"]["L01_attn_out"] == "4g64"
    size = Size().evaluate(model, ctx, "full")
    assert size["effective_bits"].value == pytest.approx(step["allocation_bits"], abs=1e-3)
    assert not size["size_mb"].notes  # the checkpoint's tensors agree with the formats
    folder = ctx.checkpoint(model)
    groups = json.loads((folder / "config.json").read_text())["quantization_config"]["config_groups"]
    by_bits = {(g["weights"]["num_bits"], g["weights"]["group_size"]): g["targets"] for g in groups.values()}
    assert by_bits[(2, 64)] == [
        "model.layers.0.self_attn.q_proj",
        "model.layers.0.self_attn.k_proj",
        "model.layers.0.self_attn.v_proj",
    ]
    assert set(by_bits[(8, None)]) == {"model.layers.0.mlp.gate_proj", "model.layers.0.mlp.up_proj"}
    assert all("model.layers.1.mlp.down_proj" not in t for t in by_bits.values())
    check_reload(model, ctx.tokenizer, folder, atol=1e-5, rtol=0)


def test_the_database_is_built_once_per_level_and_candidates_are_assembled_from_it(acf_tiny_model):
    model, ctx = load_model(acf_tiny_model), model_context(acf_tiny_model)
    import copy

    first, _ = apply(acf_tiny_model, copy.deepcopy(model), ctx, L00_attn_in="2g64")
    ((key, db),) = [(k, v) for k, v in ctx.memo.items() if isinstance(k, tuple) and k[0] == "per_layer_database"]
    assert db.built == {"2g64", "4g64"}
    entries = {k: v[0].data_ptr() for k, v in db.entries.items()}
    second, _ = apply(acf_tiny_model, copy.deepcopy(model), ctx, L00_attn_in="2g64", L01_mlp_in="3ch")
    assert db.built == {"2g64", "3ch", "4g64"}
    assert all(db.entries[k][0].data_ptr() == ptr for k, ptr in entries.items())  # nothing quantized again
    assert torch.equal(first.model.layers[0].self_attn.q_proj.weight, second.model.layers[0].self_attn.q_proj.weight)


def test_it_takes_part_in_pipelines_after_pruning(acf_tiny_model):
    model, ctx = load_model(acf_tiny_model), model_context(acf_tiny_model)
    ctx.records.begin_step("magnitude")
    model = MagnitudePruning().apply(model, {"sparsity": 0.5, "scope": "layer"}, ctx)
    model, _ = apply(acf_tiny_model, model, ctx, L00_mlp_in="8ch")
    methods = {"magnitude": MagnitudePruning(), "per_layer": PerLayer()}
    pipelines = enumerate_pipelines(methods, 2)
    assert ("magnitude", "per_layer") in pipelines and ("per_layer", "magnitude") not in pipelines
    assert strategy_space(methods, ctx.spec, pipelines).grid_size(3, cap=10_000) > 10_000  # too many to list
    check_reload(model, ctx.tokenizer, ctx.checkpoint(model), atol=1e-5, rtol=0)


UNITS = [
    Unit(0, "attn_in", 1000, 64),
    Unit(0, "mlp_in", 4000, 64),
    Unit(1, "attn_in", 1000, 64),
    Unit(1, "mlp_in", 4000, 64),
]
LEVELS = [Level("2g64", Grid(2, 64, True)), Level("4g64", Grid(4, 64, True)), Level("8ch", Grid(8, -1, True))]


def test_the_knapsack_gives_bits_where_they_lower_the_loss_most():
    sens = {u.key: {"2g64": 8.0, "4g64": 1.0, "8ch": 0.0} for u in UNITS}
    sens["L01_attn_in"] = {"2g64": 100.0, "4g64": 10.0, "8ch": 0.0}  # one sensitive unit
    allocation = knapsack(UNITS, LEVELS, sens, 4.5, 32)
    budget = Budget(UNITS, LEVELS, 4.5, 32)
    assert budget.average(allocation) <= 4.5
    assert allocation["L01_attn_in"] == "8ch"  # the sensitive unit first
    assert knapsack(UNITS, LEVELS, {u.key: {lv.name: 0.0 for lv in LEVELS} for u in UNITS}, 4.5, 32)  # ties fit too
    with pytest.raises(ValueError, match="no allocation reaches 2"):
        knapsack(UNITS, LEVELS, sens, 2.0, 32)


def test_the_search_stays_within_the_budget_and_never_gets_worse():
    budget = Budget(UNITS, LEVELS, 4.5, 32, slack=0.6)
    weights = {"L00_attn_in": 1.0, "L00_mlp_in": 0.1, "L01_attn_in": 5.0, "L01_mlp_in": 0.2}
    error = {"2g64": 4.0, "4g64": 1.0, "8ch": 0.01}
    calls = []

    def fitness(allocation, n):
        calls.append(n)
        return sum(weights[k] * error[v] for k, v in allocation.items())

    start = {u.key: "4g64" for u in UNITS}
    rng = np.random.default_rng(0)
    assert budget.fits(mutate(start, budget, rng))
    found, log = evolve(start, budget, fitness, screen=1, full=4, offspring=4, survivors=1, evaluations=40, rng=rng)
    assert budget.fits(found) and fitness(found, 4) < fitness(start, 4)
    assert found["L01_attn_in"] == "8ch"
    assert log.evaluations <= 40 and set(calls) == {1, 4}  # screened on 1 sequence, survivors on 4
    assert all(g["kl"] >= log.kl for g in log.generations) and log.generations[-1]["kl"] == log.kl


def test_a_budget_no_allocation_meets_is_a_one_line_error(acf_tiny_model, gsm8k_file, tmp_path, acf_cli):
    code, out, err = acf_cli(
        [
            "compress",
            str(acf_tiny_model),
            "-d",
            "gsm8k",
            "--data-path",
            str(gsm8k_file),
            "-m",
            "per_layer",
            "--constraint",
            "effective_bits<=2",
            "--run-dir",
            str(tmp_path / "r"),
        ]
    )
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) <= 2
    assert "no strategy can meet 'effective_bits<=2'" in err and "per_layer 2.25" in err
    assert not (tmp_path / "r").exists()


def test_a_database_that_would_not_fit_is_refused_at_preflight_with_the_numbers(
    acf_tiny_model, gsm8k_file, tmp_path, monkeypatch
):
    from acf.session import preflight

    original = preflight.free_memory_bytes
    result = None

    def scarce(device):
        return original(device) if result is None else 1000

    monkeypatch.setattr(preflight, "free_memory_bytes", scarce)
    session = acf.Session(
        str(acf_tiny_model),
        dataset="gsm8k",
        methods=["per_layer"],
        evaluators=["size"],
        evaluator_options={"gsm8k": {"data_path": str(gsm8k_file), "limit": 2}},
    )
    strategy = session.validate(acf.Strategy(steps=[acf.Step(method="per_layer", params={"source": "rtn"})]))
    result = "refusing"
    with pytest.raises(
        preflight.PreflightRefused,
        match=r"needs about .* GiB on cpu, .* free \(the per-layer "
        r"database: 1 level\(s\) of 0M weights",
    ):
        session.apply(strategy)


def test_a_run_tries_the_search_result_at_its_budget_first(acf_tiny_model, gsm8k_file, tmp_path, monkeypatch, acf_cli):
    import shutil

    from acf_plugins_builtin.methods.per_layer import method

    # the flow is the same for either source: RTN's database is built in a blink, GPTQ's in six calibrated passes
    monkeypatch.setattr(method, "SOURCES", ("rtn",))
    monkeypatch.setattr(method, "SUGGEST_EVALUATIONS", 24)

    result = acf.compress(
        str(acf_tiny_model),
        "gsm8k",
        episodes=2,
        seed=0,
        run_dir=tmp_path / "run",
        methods=["per_layer"],
        evaluators=["size"],
        constraints=["effective_bits<=3.5"],
        evaluator_options={"gsm8k": {"data_path": str(gsm8k_file), "limit": 4}},
    )
    first = result.candidates[0]
    assert first.status == "ok", first.reason
    suggested = json.loads((tmp_path / "run" / "suggestions.json").read_text())
    assert first.strategy.model_dump(mode="json") == suggested[0]
    assert 3.45 <= first.value("effective_bits") <= 3.5 and first.feasible
    assert len(set(first.steps[0]["allocation"].values())) > 1  # not one level everywhere
    # the allocation is shown: a table in `frontier show`, bars in the report
    on_frontier = [c for c in result.frontier.candidates if c.steps and "allocation" in c.steps[0]]
    code, out, err = acf_cli(["frontier", "show", str(tmp_path / "run")])
    assert code == 0, err
    assert f"{on_frontier[0].id}: per-layer allocation" in out
    block0 = next(line for line in out.splitlines() if line.strip("│ ").startswith("0 "))
    assert all(on_frontier[0].steps[0]["allocation"][f"L00_{g}"] in block0 for g in ("attn_in", "mlp_out"))
    from acf.report import report_data, write_report

    data = report_data(tmp_path / "run")
    assert (
        next(e for e in data["episodes"] if e["id"] == on_frontier[0].id)["allocation"]
        == on_frontier[0].steps[0]["allocation"]
    )
    chromium = shutil.which("chromium")
    if chromium:
        page = write_report(tmp_path / "run", tmp_path / "report.html")
        import subprocess

        dom = subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                f"--user-data-dir={tmp_path / 'profile'}",
                "--dump-dom",
                page.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        ).stdout
        assert 'data-rendered="true"' in dom and f'class="allocation" data-id="{on_frontier[0].id}"' in dom
        assert dom.count('class="bar') >= len(on_frontier[0].steps[0]["allocation"])
    # killed after the first episode and resumed: the same proposals, the suggestion not worked out again
    shutil.rmtree(tmp_path / "run" / "episode_002")
    (tmp_path / "run" / "final_results.json").unlink()
    monkeypatch.setattr(PerLayer, "suggest", lambda *a, **k: pytest.fail("suggested again"))
    again = acf.resume(tmp_path / "run")
    assert [c.strategy for c in again.candidates] == [c.strategy for c in result.candidates]
