"""Benchmark: forward AIS on a 784 -> 500 RBM against the floor of its matrix products.

Usage (from the repository root)::

    .venv/bin/python benchmarks/ais.py            # the full run: 14,501 betas, a few minutes
    .venv/bin/python benchmarks/ais.py --quick    # 101 betas, seconds, for the tests
    /work/shared/tools/as-other-cpu avx2 .venv/bin/python benchmarks/ais.py \
        --out results/benchmark/avx2

The workload is Salakhutdinov & Murray's: 100 chains and the 14,501 inverse
temperatures of :func:`rbm.ais.default_betas`, on the saved 784 -> 500 CD-1
model of ``scripts/evaluation_large.py`` (float32 weights; a uniform base model,
which costs the same as a base-rate one). Each step runs two products,
(100 x 784)(784 x 500) and (100 x 500)(500 x 784): 2 x 2 x 100 x 784 x 500 FLOP,
about 2.3 TFLOP in all. The floor is the time of those same float32 products
alone, into preallocated outputs, measured in the same process and rounds. The
report is ``rbm.ais_log_partition`` over the floor (target <= 1.5), and, on a
shorter schedule (1,001 betas), ``rbm.ais_log_partition`` with float64 weights,
which runs the plain numpy loop that chapter 10 shows, over the floor of the
same products in float64.

Rounds are interleaved (floor, AIS, AIS, floor, ...) after a warm-up; medians.
Each run records its wall time and its CPU time (``time.process_time``: BLAS
runs on one thread, so this is the time the process computed). On the shared
development machine the wall times of one workload varied by up to a factor
of two from round to round with the other jobs' load, so the target is judged
on the ratio of CPU times, which waiting for a core does not inflate; the
wall-time ratio is recorded beside it.
Everything runs under ``threadpoolctl.threadpool_limits(--blas-threads)``
(1 by default). The result goes to ``DIR/ais.json`` (``results/benchmark/`` by
default), written atomically.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.run import NOTE, _now, machine_description, median  # noqa: E402
from rbm import _fast  # noqa: E402
from rbm.ais import ais_log_partition, default_betas  # noqa: E402
from rbm.io import atomic_write_json  # noqa: E402

SEED = 2026
MODEL = ROOT / "results" / "evaluation_large" / "cd1_500.npz"
TARGET = 1.5


def load_model():
    """The saved 784 -> 500 CD-1 model (float32), or a random one of that size without it."""
    if MODEL.exists():
        with np.load(MODEL) as f:
            return f["W"].astype(np.float32), f["b"].astype(np.float64), f["c"].astype(np.float64)
    rng = np.random.default_rng(SEED)  # pragma: no cover - the file is committed
    W = rng.normal(0, 0.05, (784, 500)).astype(np.float32)
    return W, rng.normal(0, 1, 784), rng.normal(0, 1, 500)


def floor_run(W, n_chains, n_betas, seed, dtype=np.float32):
    """The products of one AIS run alone: n_betas - 1 of v W and n_betas - 2 of h W^T."""
    rng = np.random.default_rng(seed)
    W = np.ascontiguousarray(W, dtype=dtype)
    W_t = np.ascontiguousarray(W.T)
    v = (rng.random((n_chains, W.shape[0])) < 0.5).astype(dtype)
    h = (rng.random((n_chains, W.shape[1])) < 0.5).astype(dtype)
    a = np.empty((n_chains, W.shape[1]), dtype)
    pv = np.empty((n_chains, W.shape[0]), dtype)
    n_steps = n_betas - 1
    start, cpu = time.perf_counter(), time.process_time()
    for k in range(n_steps):
        np.matmul(v, W, out=a)
        if k < n_steps - 1:
            np.matmul(h, W_t, out=pv)
    return time.perf_counter() - start, time.process_time() - cpu


def ais_run(W, b, c, n_chains, betas, seed):
    """(wall s, CPU s, AISResult) of one rbm.ais_log_partition run."""
    start, cpu = time.perf_counter(), time.process_time()
    res = ais_log_partition(W, b, c, n_chains=n_chains, betas=betas, rng=seed)
    return time.perf_counter() - start, time.process_time() - cpu, res


def numpy_loop_run(W, b, c, n_chains, betas, seed):
    """ais_log_partition on float64 weights: the readable numpy loop that chapter 10 shows."""
    return ais_run(W.astype(np.float64), b, c, n_chains, betas, seed)[:2]


def run(quick, rounds, log):
    W, b, c = load_model()
    n_chains = 100
    betas = default_betas(100) if quick else default_betas()
    short = default_betas(100) if quick else default_betas(1000)
    n_betas, n_short = len(betas), len(short)
    x_bound = float((np.abs(W).sum(axis=0, dtype=np.float64) + np.abs(c)).max())
    series_steps = int(np.sum(np.abs(np.diff(betas)) * x_bound <= _fast.AIS_SERIES_MAX))
    # warm-up: numba's compiled kernels (or their cache), BLAS, page faults
    ais_run(W, b, c, n_chains, default_betas(10), SEED)
    floor_run(W, n_chains, 11, SEED)
    names = ("floor", "ais", "floor64_short", "numpy_loop_short")
    times = {k: [] for k in names}
    cpu_times = {k: [] for k in names}
    log_z = []

    def record(name, wall, cpu):
        times[name].append(wall)
        cpu_times[name].append(cpu)
        log(f"  round {len(times[name])}/{rounds} {name:16s} {wall:8.2f} s (CPU {cpu:8.2f} s)")

    for r in range(rounds):
        order = ("floor", "ais") if r % 2 == 0 else ("ais", "floor")
        for name in order:
            if name == "floor":
                record(name, *floor_run(W, n_chains, n_betas, SEED + r))
            else:
                wall, cpu, res = ais_run(W, b, c, n_chains, betas, SEED + r)
                log_z.append(res.log_z)
                record(name, wall, cpu)
    # the numpy loop (float64) on a shorter schedule (it takes minutes on the full one)
    for r in range(rounds):
        record("floor64_short", *floor_run(W, n_chains, n_short, SEED + r, np.float64))
        record("numpy_loop_short", *numpy_loop_run(W, b, c, n_chains, short, SEED + r))
    med = {k: median(v) for k, v in times.items()}
    med_cpu = {k: median(v) for k, v in cpu_times.items()}
    tflop = 2 * 100 * 784 * 500 * ((n_betas - 1) + (n_betas - 2)) / 1e12
    ratio = med_cpu["ais"] / med_cpu["floor"]
    return {
        "workload": {
            "model": str(MODEL.relative_to(ROOT)) if MODEL.exists() else "random 784-500",
            "n_visible": int(W.shape[0]),
            "n_hidden": int(W.shape[1]),
            "dtype": "float32",
            "n_chains": n_chains,
            "n_betas": n_betas,
            "n_betas_numpy_loop": n_short,
            "numpy_loop_dtype": "float64",
            "base": "uniform (zeros)",
            "matmul_tflop": tflop,
            "steps_on_the_series_path": series_steps,
            "steps": n_betas - 1,
        },
        "rounds": rounds,
        "times_s": times,
        "cpu_times_s": cpu_times,
        "median_s": med,
        "median_cpu_s": med_cpu,
        "floor_gflop_per_s": tflop * 1e3 / med["floor"],
        "floor_gflop_per_cpu_s": tflop * 1e3 / med_cpu["floor"],
        "log_z": log_z,
        "ratios": {
            "ais_over_floor": ratio,
            "ais_over_floor_wall": med["ais"] / med["floor"],
            "numpy_loop_over_float64_floor": (
                med_cpu["numpy_loop_short"] / med_cpu["floor64_short"]
            ),
            "numpy_loop_over_float64_floor_wall": (med["numpy_loop_short"] / med["floor64_short"]),
        },
        "ratio_basis": "CPU time (time.process_time); the *_wall ratios use wall time",
        "target": {
            "ais_within_1.5x_of_floor": {
                "target": TARGET,
                "measured": ratio,
                "met": ratio <= TARGET,
            }
        },
    }


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="101 betas, 1 round")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "benchmark")
    parser.add_argument("--rounds", type=int, default=None, help="default 1 (quick) or 2")
    parser.add_argument("--blas-threads", type=int, default=1, help="BLAS threads (default 1)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    rounds = args.rounds or (1 if args.quick else 2)
    started = time.perf_counter()

    def log(msg):
        print(msg, flush=True)

    data = {
        "schema": 1,
        "command": "benchmarks/ais.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "created_utc": _now(),
        "quick": args.quick,
        "note": NOTE,
        "blas_threads": args.blas_threads,
        "numba_kernels": _fast.HAVE_NUMBA,
    }
    with threadpool_limits(limits=args.blas_threads, user_api="blas"):
        data["machine"] = machine_description()
        data["ais"] = run(args.quick, rounds, log)
    data["elapsed_s"] = time.perf_counter() - started
    ratios = data["ais"]["ratios"]
    log(
        f"\nforward AIS, 784-500, {data['ais']['workload']['n_betas']} betas, 100 chains: "
        f"CPU {data['ais']['median_cpu_s']['ais']:.1f} s, "
        f"floor {data['ais']['median_cpu_s']['floor']:.1f} s, "
        f"ratio {ratios['ais_over_floor']:.2f} (target {TARGET}; wall time: "
        f"{ratios['ais_over_floor_wall']:.2f}); "
        f"numpy loop (float64) {ratios['numpy_loop_over_float64_floor']:.2f} x its floor"
    )
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "ais.json"
    atomic_write_json(path, data, sort_keys=False, allow_nan=False)
    log(f"wrote {path} in {data['elapsed_s']:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
