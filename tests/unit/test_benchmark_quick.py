"""The benchmark script runs end to end in its quick mode and writes a complete result file.

No timing is asserted (the machine is shared and noisy): only that every
implementation was timed, that the times are finite and positive, and that the
quality and ablation parts hold the numbers the chapter reads.
"""

from __future__ import annotations

import json
import math

import pytest
from quick_scripts import requires_mnist, run_quick

IMPLEMENTATIONS = ("floor", "baseline", "sklearn", "rbm")


def _finite_positive(x):
    return isinstance(x, float) and math.isfinite(x) and x > 0


pytestmark = requires_mnist


def _run_benchmark(tmp_path_factory, script, result_file):
    """Run ``benchmarks/<script> --quick``; return its one result file's JSON and its output."""
    out = tmp_path_factory.mktemp(result_file.split(".")[0])
    stdout = run_quick(f"benchmarks/{script}", out)
    files = sorted(p.name for p in out.iterdir())
    assert files == [result_file], f"unexpected files (a leftover temporary?): {files}"
    return json.loads((out / result_file).read_text()), stdout


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    return _run_benchmark(tmp_path_factory, "run.py", "benchmark.json")


def test_every_implementation_has_finite_times(result):
    data, _ = result
    assert data["quick"] is True
    configs = data["timing"]["configs"]
    assert [(c["n_hidden"], c["batch_size"]) for c in configs] == [(64, 64), (500, 100)]
    for cfg in configs:
        impl = cfg["implementations"]
        assert set(impl) == set(IMPLEMENTATIONS)
        for name in IMPLEMENTATIONS:
            times = impl[name]["times_s"]
            assert len(times) == cfg["rounds"] >= 1
            assert all(_finite_positive(t) for t in times), (name, times)
            assert impl[name]["median_s"] == pytest.approx(sorted(times)[len(times) // 2])
        assert all(_finite_positive(r) for r in cfg["ratios"].values())
        # the ratios are those of the medians, not typed in
        assert cfg["ratios"]["rbm_over_floor"] == pytest.approx(
            impl["rbm"]["median_s"] / impl["floor"]["median_s"]
        )


def test_memory_overflows_and_pseudo_likelihood_are_recorded(result):
    data, _ = result
    impl = data["timing"]["configs"][0]["implementations"]
    for name in ("baseline", "sklearn", "rbm"):
        assert impl[name]["peak_traced_memory_bytes"] > 0
    assert isinstance(impl["baseline"]["overflows"], int) and impl["baseline"]["overflows"] >= 0
    # both report a pseudo-likelihood per epoch, on their own scales (batch size vs n_visible)
    assert math.isfinite(impl["baseline"]["pseudo_likelihood"])
    assert impl["rbm"]["pseudo_likelihood"] < 0


def test_targets_follow_from_the_ratios(result):
    data, _ = result
    ratios = data["timing"]["configs"][0]["ratios"]
    targets = data["timing"]["targets"]
    assert targets["rbm_within_1.5x_of_floor"]["met"] == (ratios["rbm_over_floor"] <= 1.5)
    assert targets["rbm_2x_faster_than_sklearn"]["met"] == (ratios["sklearn_over_rbm"] >= 2)
    assert targets["rbm_4x_faster_than_baseline"]["met"] == (ratios["baseline_over_rbm"] >= 4)


def test_machine_is_described(result):
    data, _ = result
    machine = data["machine"]
    assert machine["cpu"] and machine["numpy"] and machine["logical_cpus"] >= 1
    assert any(tp["user_api"] == "blas" for tp in machine["threadpools"])
    assert set(machine["env"]) == {
        "OPENBLAS_CORETYPE",
        "OPENBLAS_L2_SIZE",
        "NPY_DISABLE_CPU_FEATURES",
        "NUMBA_CPU_NAME",
        "NUMBA_CPU_FEATURES",
        "RBM_THREADS",
    }
    choices = machine["cpu_choices"]  # what numpy, numba and OpenBLAS chose to run
    assert {"numpy_avx512", "numba_avx512", "blas_architectures"} <= set(choices)
    assert "shared" in data["note"]


def test_quality_part(result):
    data, _ = result
    quality = data["quality"]
    assert quality["setup"]["n_hidden"] == 16
    for name in ("baseline", "sklearn", "rbm"):
        impl = quality["implementations"][name]
        ll = impl["mean_test_log_likelihood"]
        # a log-probability of 784 binary pixels lies between -784 log 2 and 0
        assert -784 * math.log(2) - 1e-6 <= ll < 0, (name, ll)
        assert all(math.isfinite(z) for z in impl["log_partition"])
    for other in ("baseline", "sklearn"):
        paired = quality["paired_differences"][f"rbm_minus_{other}"]
        assert paired["n_seeds"] == len(quality["setup"]["seeds"])
        assert paired["mean"] == pytest.approx(quality[f"rbm_minus_{other}"])


def test_ablation_part(result):
    data, _ = result
    ablation = data["ablation"]
    assert len(ablation["kernel"]) == 5
    for part in ("kernel", "estimator_dtype", "breakdown"):
        assert all(_finite_positive(r["median_s"]) for r in ablation[part].values()), part
    assert set(ablation["estimator_dtype"]) == {"float32", "float64"}
    assert "matrix products" in ablation["breakdown"]
    assert set(ablation["batch_size"]) == {"16", "64", "256"}
    assert set(ablation["threads"]["results"]) == {"1", "2"}
    # the chapter reads these rows by name
    assert {"draws, numpy Generator", "draws, counter-based kernel"} <= set(ablation["breakdown"])
    assert "counter-based, numba kernel" in ablation["sampling"]["timings"]
    assert set(ablation["numba"]) == {"numba kernels", "numpy twins"}
    assert all(_finite_positive(r["median_s"]) for r in ablation["numba"].values())
    precision = ablation["precision"]
    lls = precision["test_log_likelihood"]
    assert precision["abs_difference_nats"] == pytest.approx(abs(lls["float32"] - lls["float64"]))
    # float32 statistics of one batch: 64 products of numbers in [0, 1] summed, so
    # the error is a few float32 epsilons of the largest value, nowhere near 1e-4
    assert precision["one_batch_statistics_max_abs_difference"] < 1e-4


def test_table_is_printed(result):
    _, stdout = result
    assert "rbm.RBM" in stdout and "scikit-learn BernoulliRBM" in stdout
    assert "targets" in stdout


@pytest.fixture(scope="module")
def ais_result(tmp_path_factory):
    return _run_benchmark(tmp_path_factory, "ais.py", "ais.json")


def test_ais_benchmark_times_against_its_floor(ais_result):
    data, stdout = ais_result
    assert data["quick"] is True
    ais = data["ais"]
    assert ais["workload"]["n_betas"] == 101 and ais["workload"]["n_chains"] == 100
    for name, times in ais["times_s"].items():
        assert len(times) == ais["rounds"] >= 1, name
        assert all(_finite_positive(t) for t in times), (name, times)
    for name, times in ais["cpu_times_s"].items():
        assert len(times) == ais["rounds"] and all(t >= 0 for t in times), (name, times)
    med, cpu = ais["median_s"], ais["median_cpu_s"]
    # the ratios are those of the medians (CPU time; wall time beside), not typed in
    assert ais["ratios"]["ais_over_floor"] == pytest.approx(cpu["ais"] / cpu["floor"])
    assert ais["ratios"]["ais_over_floor_wall"] == pytest.approx(med["ais"] / med["floor"])
    assert ais["ratios"]["numpy_loop_over_float64_floor"] == pytest.approx(
        cpu["numpy_loop_short"] / cpu["floor64_short"]
    )
    target = ais["target"]["ais_within_1.5x_of_floor"]
    assert target["met"] == (ais["ratios"]["ais_over_floor"] <= 1.5)
    assert all(math.isfinite(z) for z in ais["log_z"])
    assert set(data["machine"]["cpu_choices"]) >= {"numpy_avx512", "numba_avx512"}
    assert "forward AIS" in stdout
