"""Benchmark: one training epoch of the article's setup, timed side by side.

Usage (from the repository root)::

    .venv/bin/python benchmarks/run.py              # the full run, a few minutes
    .venv/bin/python benchmarks/run.py --quick      # a subset of the data, for CI
    .venv/bin/python benchmarks/run.py --parts quality ablation --out DIR

Parts (``--parts``, all by default):

- ``timing``: one epoch of CD-1 on all 70,000 MNIST images (pixels / 255),
  784 -> 64 with batch 64 and 784 -> 500 with batch 100, for the article's
  algorithm (:mod:`benchmarks.baseline`), scikit-learn's ``BernoulliRBM`` and
  ``rbm.RBM``, and the floor: the epoch's five matrix products alone, in
  float32. Interleaved rounds in one process, after a warm-up; medians.
  Peak memory from ``tracemalloc`` in a separate, untimed epoch.
- ``quality``: the exact test log-likelihood of 784 -> 16 models after the
  same number of epochs on thresholded MNIST, for the three implementations.
- ``ablation``: the effect of each optimisation, one at a time (see
  :mod:`benchmarks.ablation`).
- ``threads``: ``rbm.RBM`` and the floor with 1 and 2 BLAS threads
  (``RBM_THREADS``), 784-64 and 784-500, on 20,000 images.

``machine.cpu_choices`` records what numpy, numba and OpenBLAS chose to run
(``/work/shared/tools/as-other-cpu avx2`` makes an AVX-512 machine run as an
AVX2 one; numba also needs ``NUMBA_CPU_FEATURES`` for that).

Everything runs under ``threadpoolctl.threadpool_limits(--blas-threads)``
(1 by default, see the ablation for why). The results go to
``DIR/benchmark.json`` (``results/benchmark/`` by default), written atomically;
a part that is not run keeps what the file already holds.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import platform
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import rbm  # noqa: E402
from benchmarks import ablation, baseline  # noqa: E402
from benchmarks.floor import batch_bounds, floor_epoch, matmul_gflop  # noqa: E402
from rbm.datasets import load_mnist  # noqa: E402
from rbm.io import atomic_write_json  # noqa: E402

SEED = 2026
PARTS = ("timing", "quality", "ablation", "threads")
IMPLEMENTATIONS = ("floor", "baseline", "sklearn", "rbm")
LABELS = {
    "floor": "matmul floor (float32)",
    "baseline": "article's algorithm (numpy, float64)",
    "sklearn": "scikit-learn BernoulliRBM",
    "rbm": "rbm.RBM",
}
NOTE = (
    "The timings of each part come from one run on a shared 2-core virtual machine while "
    "other engineers were working on it (see each part's created_utc): compare them only "
    "with each other, within a part."
)


# ----------------------------------------------------------------------------- helpers

#: The environment variables that choose CPU code paths (``as-other-cpu`` sets them).
CPU_CHOICES = (
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
    "NPY_DISABLE_CPU_FEATURES",
    "NUMBA_CPU_NAME",
    "NUMBA_CPU_FEATURES",
    "RBM_THREADS",
)


def cpu_choices() -> dict:
    """What each library chose to run: numpy's SIMD extensions, numba's target, BLAS kernels."""
    out = {"avx512_on_host": None}
    try:
        out["avx512_on_host"] = "avx512f" in Path("/proc/cpuinfo").read_text()
    except OSError:
        pass
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as features

        # numpy 2.x dispatches by group: X86_V3 is AVX2 + FMA, X86_V4 AVX-512
        out["numpy_avx2"] = bool(features.get("X86_V3", features.get("AVX2")))
        out["numpy_avx512"] = bool(features.get("X86_V4", features.get("AVX512_SKX")))
    except ImportError:  # pragma: no cover
        pass
    try:
        import llvmlite.binding as ll
        from numba.core import config as numba_config

        # NUMBA_CPU_NAME alone keeps the host's features (AVX-512 included):
        # only NUMBA_CPU_FEATURES takes them away
        out["numba_cpu_name"] = numba_config.CPU_NAME or ll.get_host_cpu_name()
        feats = numba_config.CPU_FEATURES or ll.get_host_cpu_features().flatten()
        out["numba_avx2"] = "+avx2" in feats
        out["numba_avx512"] = "+avx512f" in feats
    except ImportError:  # pragma: no cover
        pass
    out["blas_architectures"] = sorted(
        {str(i.get("architecture")) for i in threadpool_info() if i.get("user_api") == "blas"}
    )
    return out


def machine_description() -> dict:
    """CPU model, cores, Python, numpy and the BLAS that runs (from threadpoolctl)."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    blas = [
        {
            key: info.get(key)
            for key in (
                "user_api",
                "internal_api",
                "prefix",
                "version",
                "architecture",
                "num_threads",
                "threading_layer",
            )
        }
        | {
            "library": Path(info["filepath"]).name,
            # numpy.libs, scipy.libs, scikit_learn.libs: which package ships it
            "shipped_with": Path(info["filepath"]).parent.name.removesuffix(".libs"),
        }
        for info in threadpool_info()
    ]
    import scipy
    import sklearn

    return {
        "cpu": cpu,
        "logical_cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "scikit_learn": sklearn.__version__,
        "threadpools": blas,
        "env": {k: os.environ.get(k) for k in CPU_CHOICES},
        "cpu_choices": cpu_choices(),
        "load_average_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def _now():
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def median(xs):
    return float(statistics.median(xs))


# ----------------------------------------------------------------------------- one epoch each


def baseline_epoch(X, n_hidden, batch_size, seed):
    """The article's algorithm (benchmarks.baseline), from fresh parameters.

    Its random numbers come from numpy's legacy RandomState, as the article's
    ``np.random`` calls do.
    """
    rng = np.random.RandomState(seed)
    W, b, c = baseline.init_params(X.shape[1], n_hidden, rng)
    counter = baseline.OverflowCounter()
    start = time.perf_counter()
    costs = baseline.train_epoch(
        X, W, b, c, rng, learning_rate=0.1, batch_size=batch_size, k=1, counter=counter
    )
    elapsed = time.perf_counter() - start
    return elapsed, {"overflows": counter.count, "pseudo_likelihood": float(np.mean(costs))}


def sklearn_epoch(X, n_hidden, batch_size, seed):
    """One ``fit`` of scikit-learn's BernoulliRBM with n_iter=1 (PCD-1)."""
    from sklearn.neural_network import BernoulliRBM

    model = BernoulliRBM(
        n_components=n_hidden,
        learning_rate=0.1,
        batch_size=batch_size,
        n_iter=1,
        random_state=seed,
    )
    start = time.perf_counter()
    model.fit(X)
    return time.perf_counter() - start, {}


def rbm_epoch(X, n_hidden, batch_size, seed):
    """One epoch of rbm.RBM (CD-1, np.array_split batches, no shuffling)."""
    model = ablation.article_rbm(n_hidden, batch_size, seed)
    start = time.perf_counter()
    model.fit(X)
    elapsed = time.perf_counter() - start
    pl = model.history_["pseudo_likelihood"][-1]
    return elapsed, {"pseudo_likelihood": float(pl)}


EPOCH = {
    "floor": floor_epoch,
    "baseline": baseline_epoch,
    "sklearn": sklearn_epoch,
    "rbm": rbm_epoch,
}


def peak_memory(fn, X, n_hidden, batch_size, seed):
    """Peak of memory traced by tracemalloc (numpy arrays included) during one epoch, in bytes.

    The input ``X`` was allocated before and is not counted.
    """
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        fn(X, n_hidden, batch_size, seed)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def time_config(X, n_hidden, batch_size, rounds, memory, log):
    """Interleaved rounds of the four implementations on one configuration."""
    n_samples, n_visible = X.shape
    bounds = batch_bounds(n_samples, batch_size)
    gflop = matmul_gflop(n_samples, n_visible, n_hidden)
    results = {name: {"times": [], "extra": {}} for name in IMPLEMENTATIONS}
    sub = X[: min(len(X), 20 * batch_size)]
    for name in IMPLEMENTATIONS:  # warm-up: imports, BLAS threads, caches
        EPOCH[name](sub, n_hidden, batch_size, SEED)
    for r in range(rounds):
        order = IMPLEMENTATIONS[r % 4 :] + IMPLEMENTATIONS[: r % 4]  # rotate: no fixed position
        for name in order:
            elapsed, extra = EPOCH[name](X, n_hidden, batch_size, SEED + r)
            results[name]["times"].append(elapsed)
            results[name]["extra"] = extra
            log(f"  round {r + 1}/{rounds} {name:8s} {elapsed:8.3f} s")
    out = {}
    for name in IMPLEMENTATIONS:
        times = results[name]["times"]
        out[name] = {
            "label": LABELS[name],
            "times_s": times,
            "median_s": median(times),
            "min_s": float(min(times)),
            **results[name]["extra"],
        }
        if memory and name != "floor":
            out[name]["peak_traced_memory_bytes"] = int(
                peak_memory(EPOCH[name], X, n_hidden, batch_size, SEED)
            )
    floor, base, skl, ours = (out[n]["median_s"] for n in IMPLEMENTATIONS)
    return {
        "n_samples": n_samples,
        "n_visible": n_visible,
        "n_hidden": n_hidden,
        "batch_size": batch_size,
        "n_batches": len(bounds),
        "rounds": rounds,
        "matmul_gflop": gflop,
        "floor_gflop_per_s": gflop / floor,
        "implementations": out,
        "ratios": {
            "rbm_over_floor": ours / floor,
            "sklearn_over_rbm": skl / ours,
            "baseline_over_rbm": base / ours,
            "baseline_over_floor": base / floor,
            "sklearn_over_floor": skl / floor,
        },
    }


def run_timing(X, quick, log):
    configs = [("784-64, batch 64", 64, 64, 1 if quick else 5, True)]
    configs.append(("784-500, batch 100", 500, 100, 1 if quick else 3, quick))
    out = []
    for name, n_hidden, batch_size, rounds, memory in configs:
        log(f"timing {name}: {rounds} rounds")
        res = time_config(X, n_hidden, batch_size, rounds, memory, log)
        out.append({"name": name, **res})
    first = out[0]["ratios"]
    targets = {
        "rbm_within_1.5x_of_floor": {
            "target": 1.5,
            "measured": first["rbm_over_floor"],
            "met": first["rbm_over_floor"] <= 1.5,
        },
        "rbm_2x_faster_than_sklearn": {
            "target": 2.0,
            "measured": first["sklearn_over_rbm"],
            "met": first["sklearn_over_rbm"] >= 2.0,
        },
        "rbm_4x_faster_than_baseline": {
            "target": 4.0,
            "measured": first["baseline_over_rbm"],
            "met": first["baseline_over_rbm"] >= 4.0,
        },
    }
    return {
        "workload": (
            "one epoch of CD-1 (scikit-learn: PCD-1) over MNIST pixels / 255, learning rate "
            "0.1, np.array_split batches in file order (scikit-learn: its own even slices)"
        ),
        "memory_method": (
            "tracemalloc peak during one separate, untimed epoch: every numpy array and "
            "Python object allocated by the implementation, not the input data"
        ),
        "configs": out,
        "targets": targets,
        "openblas_env_row": (
            "not run: neither OPENBLAS_CORETYPE nor OPENBLAS_L2_SIZE is set on this machine, "
            "so numpy's OpenBLAS picks its kernel itself (see machine.threadpools)"
            if not any(os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"))
            else "not run: OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE are set; the timings use "
            "the kernel named in machine.threadpools"
        ),
    }


# ----------------------------------------------------------------------------- threads


def run_threads(X, quick, log, counts=(1, 2)):
    """rbm.RBM and the floor with 1 and 2 BLAS threads, 784-64 and 784-500, interleaved.

    rbm.RBM trains with ``$RBM_THREADS`` BLAS threads (``rbm._fast.training_threads``);
    the floor runs under ``threadpool_limits``. Both are set inside the timed calls,
    so one process measures every count in the same rounds.
    """
    from rbm import _fast

    rounds = 1 if quick else 5
    configs = []
    for n_hidden, batch_size in ((64, 64), (500, 100)):
        fns = {}
        for n in counts:

            def fit(n=n, n_hidden=n_hidden, batch_size=batch_size):
                saved = os.environ.get(_fast.THREADS_ENV)
                os.environ[_fast.THREADS_ENV] = str(n)
                try:
                    rbm_epoch(X, n_hidden, batch_size, SEED)
                finally:
                    if saved is None:
                        del os.environ[_fast.THREADS_ENV]
                    else:
                        os.environ[_fast.THREADS_ENV] = saved

            def floor(n=n, n_hidden=n_hidden, batch_size=batch_size):
                with threadpool_limits(limits=n, user_api="blas"):
                    floor_epoch(X, n_hidden, batch_size, SEED)

            fns[f"rbm, {n} threads"] = fit
            fns[f"floor, {n} threads"] = floor
        log(f"threads 784-{n_hidden}, batch {batch_size}: {rounds} rounds")
        res = ablation._interleaved(fns, rounds)
        configs.append(
            {
                "name": f"784-{n_hidden}, batch {batch_size}",
                "n_hidden": n_hidden,
                "batch_size": batch_size,
                "results": {
                    str(n): {
                        "rbm_median_s": res[f"rbm, {n} threads"]["median_s"],
                        "floor_median_s": res[f"floor, {n} threads"]["median_s"],
                        "rbm_times_s": res[f"rbm, {n} threads"]["times_s"],
                        "floor_times_s": res[f"floor, {n} threads"]["times_s"],
                    }
                    for n in counts
                },
            }
        )
    return {
        "n_samples": len(X),
        "rounds": rounds,
        "load_average_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "configs": configs,
    }


# ----------------------------------------------------------------------------- quality


def _mean_test_ll(W, b, c, X_test):
    W, b, c = (np.asarray(x, dtype=np.float64) for x in (W, b, c))
    log_z = rbm.log_partition(W, b, c)
    return float(rbm.log_likelihood(X_test, W, b, c, log_z=log_z).mean()), float(log_z)


def run_quality(quick, log):
    """Exact test log-likelihood of 784-16 models after the same number of epochs."""
    from sklearn.neural_network import BernoulliRBM

    X_train, _ = load_mnist("train", binarize="threshold")
    X_test, _ = load_mnist("test", binarize="threshold")
    if quick:
        X_train, X_test = X_train[:3000], X_test[:1000]
    n_hidden, n_epochs, lr, batch_size = 16, 1 if quick else 3, 0.1, 64
    # ten seeds: the seed-to-seed spread of a 3-epoch model is a few nats, so the paired
    # differences need that many for a standard error well below one nat
    seeds = [SEED] if quick else [SEED + i for i in range(10)]
    runs = {name: [] for name in ("baseline", "sklearn", "rbm")}
    for seed in seeds:
        rng = np.random.RandomState(seed)  # as the article's np.random calls
        W, b, c = baseline.init_params(X_train.shape[1], n_hidden, rng)
        counter = baseline.OverflowCounter()
        for _ in range(n_epochs):
            baseline.train_epoch(X_train, W, b, c, rng, lr, batch_size, 1, counter)
        runs["baseline"].append(_mean_test_ll(W, b.ravel(), c.ravel(), X_test))

        skl = BernoulliRBM(
            n_components=n_hidden,
            learning_rate=lr,
            batch_size=batch_size,
            n_iter=n_epochs,
            random_state=seed,
        ).fit(X_train)
        runs["sklearn"].append(
            _mean_test_ll(skl.components_.T, skl.intercept_visible_, skl.intercept_hidden_, X_test)
        )

        ours = ablation.article_rbm(
            n_hidden, batch_size, seed, learning_rate=lr, n_epochs=n_epochs
        ).fit(X_train)
        runs["rbm"].append(_mean_test_ll(ours.W_, ours.b_, ours.c_, X_test))
        log(f"quality seed {seed}: " + ", ".join(f"{k} {v[-1][0]:.2f}" for k, v in runs.items()))
    results = {
        name: {
            "test_log_likelihood": [r[0] for r in rs],
            "log_partition": [r[1] for r in rs],
            "mean_test_log_likelihood": float(np.mean([r[0] for r in rs])),
        }
        for name, rs in runs.items()
    }
    ours = results["rbm"]["mean_test_log_likelihood"]

    def paired(other):
        """Mean and standard error over seeds of rbm's minus the other's test log-likelihood."""
        diff = np.subtract(
            results["rbm"]["test_log_likelihood"], results[other]["test_log_likelihood"]
        )
        se = float(diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else None
        return {"mean": float(diff.mean()), "standard_error": se, "n_seeds": len(diff)}

    return {
        "setup": {
            "n_visible": 784,
            "n_hidden": n_hidden,
            "n_epochs": n_epochs,
            "learning_rate": lr,
            "batch_size": batch_size,
            "data": "MNIST train / test thresholded at 0.5",
            "n_train": len(X_train),
            "n_test": len(X_test),
            "seeds": seeds,
            "notes": (
                "baseline: the article's CD-1 (xavier init, sampled h in the c update, "
                "numpy's legacy RandomState); "
                "scikit-learn: PCD-1, N(0, 0.01) init, its own batches in file order; rbm.RBM: "
                "CD-1, xavier init, the baseline's np.array_split batches in file order "
                "(shuffle=False). Exact log Z by rbm.log_partition."
            ),
        },
        "implementations": results,
        "rbm_minus_sklearn": ours - results["sklearn"]["mean_test_log_likelihood"],
        "rbm_minus_baseline": ours - results["baseline"]["mean_test_log_likelihood"],
        "paired_differences": {
            "rbm_minus_baseline": paired("baseline"),
            "rbm_minus_sklearn": paired("sklearn"),
        },
    }


# ----------------------------------------------------------------------------- main


def print_table(timing, file=sys.stdout):
    for cfg in timing["configs"]:
        impl = cfg["implementations"]
        floor = impl["floor"]["median_s"]
        print(
            f"\n{cfg['name']}: {cfg['n_samples']} images, {cfg['n_batches']} batches, "
            f"{cfg['rounds']} rounds (median), {cfg['matmul_gflop']:.0f} GFLOP of products",
            file=file,
        )
        header = f"{'implementation':38s} {'time s':>8s} {'x floor':>8s} {'vs base':>8s} "
        header += f"{'vs sklearn':>10s} {'peak MB':>8s}"
        print(header, file=file)
        for name in IMPLEMENTATIONS:
            t = impl[name]["median_s"]
            mem = impl[name].get("peak_traced_memory_bytes")
            vs_base = impl["baseline"]["median_s"] / t
            vs_skl = impl["sklearn"]["median_s"] / t
            print(
                f"{LABELS[name]:38s} {t:8.3f} {t / floor:8.2f} "
                f"{vs_base:7.2f}x {vs_skl:9.2f}x "
                f"{(f'{mem / 1e6:8.1f}' if mem is not None else '       -')}",
                file=file,
            )
    print("\ntargets (784-64, batch 64):", file=file)
    for key, t in timing["targets"].items():
        print(f"  {key}: {t['measured']:.2f} (target {t['target']}) -> {t['met']}", file=file)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="a subset of the data, 1 round")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "benchmark")
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--quality", action="store_true", help="run only the quality part")
    parser.add_argument("--ablation", action="store_true", help="run only the ablation part")
    parser.add_argument("--blas-threads", type=int, default=1, help="BLAS threads (default 1)")
    args = parser.parse_args(argv)
    if args.quality or args.ablation:
        args.parts = [
            p for p, on in (("quality", args.quality), ("ablation", args.ablation)) if on
        ]
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()

    def log(msg):
        print(msg, flush=True)

    path = args.out / "benchmark.json"
    data = {}
    if path.exists():
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError:
            data = {}
    data.update(
        {
            "schema": 1,
            "command": "benchmarks/run.py " + " ".join(sys.argv[1:] if argv is None else argv),
            "created_utc": _now(),
            "quick": args.quick,
            "note": NOTE,
            "blas_threads": args.blas_threads,
        }
    )
    with threadpool_limits(limits=args.blas_threads, user_api="blas"):
        data["machine"] = machine_description()
        if "timing" in args.parts:
            X, _ = load_mnist("all")
            if args.quick:
                X = X[:2000]
            data["timing"] = run_timing(X, args.quick, log)
            data["timing"]["created_utc"] = _now()
            del X
            print_table(data["timing"])
        if "quality" in args.parts:
            data["quality"] = run_quality(args.quick, log)
            data["quality"]["created_utc"] = _now()
            q = data["quality"]["implementations"]
            print(
                "\nexact test log-likelihood (784-16): "
                + ", ".join(f"{k} {v['mean_test_log_likelihood']:.2f}" for k, v in q.items())
            )
        if "threads" in args.parts:
            X, _ = load_mnist("all")
            X = np.ascontiguousarray(X[: 2000 if args.quick else 20000])
            data["threads"] = run_threads(X, args.quick, log)
            data["threads"]["created_utc"] = _now()
            for cfg in data["threads"]["configs"]:
                print(f"\nBLAS threads, {cfg['name']}: rbm.RBM / floor (median s)")
                for n, r in cfg["results"].items():
                    print(f"  {n}: {r['rbm_median_s']:7.3f} / {r['floor_median_s']:7.3f}")
        if "ablation" in args.parts:
            data["ablation"] = ablation.run(args.quick, SEED, args.blas_threads, log)
            data["ablation"]["created_utc"] = _now()
            ablation.print_summary(data["ablation"])
    data["elapsed_s"] = time.perf_counter() - started
    path.parent.mkdir(parents=True, exist_ok=True)
    # in the order written (the chapter reads the implementations in this order); no NaN
    atomic_write_json(path, data, sort_keys=False, allow_nan=False)
    log(f"\nwrote {path} in {data['elapsed_s']:.0f} s")
    if not all(
        math.isfinite(c["implementations"][n]["median_s"])
        for c in data.get("timing", {}).get("configs", [])
        for n in IMPLEMENTATIONS
    ):
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
