"""Ordinary versus centred RBM 784-16 on binarised MNIST, with exact log-likelihoods.

Protocol of the PyDeep tutorial ``RBM_MNIST_small`` (Melchior et al. 2016) as far
as we follow it: MNIST thresholded at 0.5, 60,000 training images, 16 hidden
units, PCD-1 with 100 persistent chains, learning rate 0.01, batch 100,
50 epochs, no momentum or weight decay; the centred model has visible offsets
starting at the data mean and hidden offsets at 0.5, both moved towards the
batch data means with sliding factor 0.01. The exact log Z (2^16 hidden states)
gives the exact mean log-likelihood of the training and test sets after every
epoch.

Run:  .venv/bin/python scripts/samplers_centring.py [--quick] [--out DIR]
Writes DIR/metrics.json and DIR/weights_{ordinary,centred}.npz (ordinary-form W, b, c).
"""

from __future__ import annotations

import os

# One BLAS thread: these matrices are small, and on a shared 2-core machine
# threaded BLAS spends its time contending (measured: 28x slower under load).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import rbm  # noqa: E402
from rbm.centering import train_centered  # noqa: E402
from rbm.io import atomic_savez, atomic_write_text  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def exact_scores(W, b, c, X_train, X_test):
    log_z = rbm.log_partition(W, b, c)
    return {
        "log_z": round(log_z, 4),
        "train_ll": round(float(rbm.log_likelihood(X_train, W, b, c, log_z=log_z).mean()), 4),
        "test_ll": round(float(rbm.log_likelihood(X_test, W, b, c, log_z=log_z).mean()), 4),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a shortened run (< 1 minute)")
    parser.add_argument("--out", default=str(ROOT / "results" / "samplers_centring"))
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-home", default=None)
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    X_train, _ = rbm.datasets.load_mnist("train", binarize="threshold", data_home=args.data_home)
    X_test, _ = rbm.datasets.load_mnist("test", binarize="threshold", data_home=args.data_home)
    n_epochs = args.epochs
    if args.quick:
        X_train, X_test, n_epochs = X_train[:3000], X_test[:1000], 2
    protocol = {
        "n_hidden": 16,
        "learning_rate": 0.01,
        "batch_size": 100,
        "n_epochs": n_epochs,
        "k": 1,
        "persistent": True,
        "offset_rate": 0.01,
        "init": "xavier",
        "visible_bias_init": "marginals",
        "binarize": "threshold 0.5",
        "n_train": len(X_train),
        "n_test": len(X_test),
        "seed": args.seed,
        "quick": bool(args.quick),
    }
    metrics = {"protocol": protocol, "runs": {}}
    for name, centered in (("ordinary", False), ("centred", True)):
        start = time.perf_counter()

        def score(epoch, W, b, c, name=name):
            s = exact_scores(W, b, c, X_train, X_test)
            print(f"{name} epoch {epoch + 1}: {s}", flush=True)
            return s

        W, b, c, history = train_centered(
            X_train,
            n_hidden=protocol["n_hidden"],
            learning_rate=protocol["learning_rate"],
            batch_size=protocol["batch_size"],
            n_epochs=n_epochs,
            k=1,
            persistent=True,
            centered=centered,
            offset_rate=protocol["offset_rate"],
            init=protocol["init"],
            visible_bias_init=protocol["visible_bias_init"],
            random_state=np.random.default_rng(args.seed),
            callback=score,
        )
        scores = history["callback"]
        metrics["runs"][name] = {
            "epoch": [e + 1 for e in history["epoch"]],
            "train_ll": [s["train_ll"] for s in scores],
            "test_ll": [s["test_ll"] for s in scores],
            "log_z": [s["log_z"] for s in scores],
            "reconstruction_error": [round(e, 4) for e in history["reconstruction_error"]],
            "final": scores[-1],
            "wall_time_s": round(time.perf_counter() - start, 1),
        }
        atomic_savez(
            out / f"weights_{name}.npz",
            compressed=True,
            W=W.astype(np.float32),
            b=b.astype(np.float32),
            c=c.astype(np.float32),
        )
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=1) + "\n")
    print(json.dumps({k: v["final"] for k, v in metrics["runs"].items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
