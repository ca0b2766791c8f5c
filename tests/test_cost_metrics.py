"""Cost metrics that can be wrong in quiet ways: RAPL zones counted twice, wrapped counters, small-sample
intervals, a CPU memory peak hidden by the allocator's reuse."""

import statistics

import pytest

from acf.types.measurement import mean, mean_interval, t975
from acf_plugins_builtin.evaluators.costs.energy import EnergyCounter, rapl_package_zones


def powercap(tmp_path, zones):
    """A fake /sys/class/powercap: {folder name: (zone name, energy_uj, max_energy_range_uj)}."""
    for folder, (name, energy, top) in zones.items():
        d = tmp_path / folder
        d.mkdir()
        (d / "name").write_text(name + "\n")
        (d / "energy_uj").write_text(f"{energy}\n")
        (d / "max_energy_range_uj").write_text(f"{top}\n")
    return tmp_path


def test_rapl_reads_package_zones_only(tmp_path):
    root = powercap(
        tmp_path,
        {
            "intel-rapl:0": ("package-0", 1000, 10**9),
            "intel-rapl:0:0": ("core", 500, 10**9),
            "intel-rapl:0:1": ("dram", 200, 10**9),
            "intel-rapl:1": ("package-1", 7, 10**9),
            "intel-rapl:2": ("psys", 9, 10**9),
        },
    )
    assert [p.rsplit("/", 1)[1] for p in rapl_package_zones(str(root))] == ["intel-rapl:0", "intel-rapl:1"]


def test_rapl_counts_increments_across_a_wrap_around(tmp_path, monkeypatch):
    import torch

    root = powercap(tmp_path, {"intel-rapl:0": ("package-0", 999_000_000, 1_000_000_000)})
    monkeypatch.setattr("acf_plugins_builtin.evaluators.costs.energy.POWERCAP", str(root))
    zone = str(root / "intel-rapl:0")
    monkeypatch.setattr("acf_plugins_builtin.evaluators.costs.energy.rapl_package_zones", lambda *a: [zone])
    counter = EnergyCounter(torch.device("cpu"))
    assert counter.source == "rapl"
    start = counter.read()
    (root / "intel-rapl:0" / "energy_uj").write_text("500000\n")  # wrapped: 1,000,000 + 500,000 µJ later
    assert counter.read() - start == pytest.approx(1.5)


def test_small_sample_intervals_use_students_t():
    values = [1.0, 2.0, 4.0]
    m, low, high = mean_interval(values)
    half = 4.303 * statistics.stdev(values) / 3**0.5
    assert (low, high) == pytest.approx((m - half, m + half))
    assert t975(1) == 12.706 and t975(30) == 2.042
    assert t975(31) == pytest.approx(2.0395, abs=2e-4) and t975(1000) == pytest.approx(1.9623, abs=2e-4)
    big = mean([float(i % 7) for i in range(2000)])
    assert big.high - big.value == pytest.approx(
        t975(1999) * statistics.stdev([i % 7 for i in range(2000)]) / 2000**0.5
    )


def test_cpu_memory_peak_sees_the_activations(tmp_path):
    """Eager attention over a 1024-token prompt with 8 heads: the scores (8 × 1024² × 4 bytes ≈ 34 MB) and their
    softmax are alive together, with the causal mask and the logits. Measured after a warm-up without handing the
    freed memory back to the OS, the peak was ~67 MB here (glibc reused the warm-up's heap); it must show all."""
    from acf.testing import build_tiny_model, load_model, model_context
    from acf_plugins_builtin.evaluators.costs.memory import PeakMemory

    folder = build_tiny_model(tmp_path / "m", hidden=256, intermediate=256, layers=2, heads=8, kv_heads=2)
    model, ctx = load_model(folder), model_context(folder)
    model.config._attn_implementation = "eager"  # SDPA never materialises the scores
    weights = sum(p.numel() * p.element_size() for p in model.parameters()) / 1e6
    short = PeakMemory(prompt_len=8).evaluate(model, ctx, "full")["peak_memory_mb"].value - weights
    long = PeakMemory(prompt_len=1024).evaluate(model, ctx, "full")["peak_memory_mb"].value - weights
    scores, mask, logits = 8 * 1024 * 1024 * 4 / 1e6, 1024 * 1024 * 4 / 1e6, 1024 * 384 * 4 / 1e6
    assert long > short and long >= 2 * scores + mask + logits
