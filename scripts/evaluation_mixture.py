"""Fit mixtures of Bernoullis to binarised MNIST: the exact-likelihood baseline of chapter 11.

The training images are binarised stochastically exactly as in
``evaluation_large.py`` (same seed), and the test set is the same 10,000
stochastically binarised test images, so the numbers sit in one table.

Usage::

    python scripts/evaluation_mixture.py                 # K = 10, 100, 500
    python scripts/evaluation_mixture.py --quick --out /tmp/x

Writes ``metrics.json`` (mean log-likelihoods per K) and ``means_k10.npz``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import evaluation_common as common

import rbm
from rbm.io import atomic_savez, atomic_write_json

ROOT = Path(__file__).resolve().parents[1]

FULL = {"n_train": 60000, "n_test": 10000, "components": {10: 100, 100: 50, 500: 20}}
QUICK = {"n_train": 2000, "n_test": 1000, "components": {10: 10, 20: 5}}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "evaluation_mixture")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--components", type=int, nargs="*", help="fit only these K")
    args = parser.parse_args(argv)
    common.limit_blas_threads()
    cfg = QUICK if args.quick else FULL
    args.out.mkdir(parents=True, exist_ok=True)
    seed = args.seed
    X_train, X_test = common.binarized_mnist(cfg["n_train"], cfg["n_test"], seed)
    path = args.out / "metrics.json"
    for K, n_iter in cfg["components"].items():
        if args.components and K not in args.components:
            continue
        t0 = time.perf_counter()
        model = rbm.BernoulliMixture(K, n_iter=n_iter, tol=1e-3, random_state=seed + K)
        model.fit(X_train)
        seconds = time.perf_counter() - t0
        result = {
            "n_components": K,
            "n_iter": model.n_iter_,
            "max_iter": n_iter,
            "converged": bool(model.converged_),
            "objective_history": [round(x, 4) for x in model.history_],
            "train_log_likelihood": model.score(X_train),
            "test_log_likelihood": model.score(X_test),
            "seconds": round(seconds, 1),
        }
        print(
            f"K={K}: test {result['test_log_likelihood']:.2f}, "
            f"train {result['train_log_likelihood']:.2f}, {model.n_iter_} iterations "
            f"({seconds:.0f} s)",
            flush=True,
        )
        if K == min(cfg["components"]):
            atomic_savez(
                args.out / f"means_k{K}.npz",
                compressed=True,
                means=model.means_.astype(np.float32),
                weights=model.weights_,
            )
        metrics = json.loads(path.read_text()) if path.exists() else {"models": {}}
        metrics["protocol"] = {
            "n_train": len(X_train),
            "n_test": len(X_test),
            "binarisation": f"stochastic, drawn once (seeds {seed}, {seed + 100})",
            "tol": 1e-3,
            "alpha": model.alpha,
            "quick": bool(args.quick),
        }
        metrics["models"][str(K)] = result
        atomic_write_json(path, metrics)
    return 0


if __name__ == "__main__":
    sys.exit(main())
