"""Time one training epoch of the source article's setup, against its matrix products alone.

The setup: all 70,000 MNIST images (pixels / 255), 784 -> 64, CD-1, learning
rate 0.1, ``np.array_split`` into 1,094 batches in file order. For each
repetition the script times, in turn, one epoch of :class:`rbm.RBM` (through
``partial_fit``), the epoch's matrix products alone (the floor: v W, h W^T,
v~ W and the stacked gradient product, on buffers of the same shapes), and,
when scikit-learn is installed, one epoch of ``BernoulliRBM`` with the same
batch size and hidden units. It prints the median of each (wall-clock seconds;
process CPU seconds too, which are steadier on a shared machine).

Usage::

    python scripts/mnist_epoch_time.py            # 5 repetitions
    python scripts/mnist_epoch_time.py --quick    # 7,000 images, 2 repetitions
    python scripts/mnist_epoch_time.py --out DIR  # also write DIR/epoch_time.json

Timings vary from machine to machine and from run to run: nothing here is
committed or asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np

import rbm
from rbm.datasets import load_mnist


def _timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def _matmul_floor(X, W):
    """The five products of a CD-1 epoch, in the same buffers the kernel uses."""
    n_visible, n_hidden = W.shape
    pre = np.zeros((64, n_hidden), np.float32)
    pv = np.zeros((64, n_visible), np.float32)
    V = np.zeros((128, n_visible), np.float32)
    PH = np.zeros((128, n_hidden), np.float32)
    dW = np.zeros_like(W)
    for a, z in rbm.training.batch_slices(len(X), 64, "array_split"):
        v = X[a:z]
        m = len(v)
        np.matmul(v, W, out=pre[:m])
        np.matmul(pre[:m], W.T, out=pv[:m])
        np.matmul(pv[:m], W, out=pre[:m])
        np.matmul(V[: 2 * m].T, PH[: 2 * m], out=dW)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="7,000 images, 2 repetitions")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    repeats = args.repeats or (2 if args.quick else 5)

    X, _ = load_mnist("all")
    if args.quick:
        X = X[:7000]
    model = rbm.RBM(batch_split="array_split", shuffle=False, random_state=0)
    model.partial_fit(X)  # warm-up epoch, which also initialises the model
    W = model.W_.copy()
    try:
        from sklearn.neural_network import BernoulliRBM
    except ImportError:  # pragma: no cover
        BernoulliRBM = None

    times = {"rbm.RBM": [], "matmuls only": [], "sklearn BernoulliRBM": []}
    for _ in range(repeats):
        times["rbm.RBM"].append(_timed(lambda: model.partial_fit(X)))
        times["matmuls only"].append(_timed(lambda: _matmul_floor(X, W)))
        if BernoulliRBM is not None:
            sk = BernoulliRBM(n_components=64, batch_size=64, n_iter=1, random_state=0)
            times["sklearn BernoulliRBM"].append(_timed(lambda sk=sk: sk.fit(X)))
    result = {
        "n_images": len(X),
        "repeats": repeats,
        "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"),
        "median_wall_s": {},
        "median_cpu_s": {},
    }
    for name, values in times.items():
        if values:
            result["median_wall_s"][name] = statistics.median(w for w, _ in values)
            result["median_cpu_s"][name] = statistics.median(c for _, c in values)
    floor = result["median_wall_s"]["matmuls only"]
    for name, wall in result["median_wall_s"].items():
        cpu = result["median_cpu_s"][name]
        print(f"{name:22s} wall {wall:6.3f} s ({wall / floor:4.2f} x matmuls)   cpu {cpu:6.3f} s")
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        tmp = args.out / ".epoch_time.json.tmp"
        tmp.write_text(json.dumps(result, indent=2) + "\n")
        os.replace(tmp, args.out / "epoch_time.json")
    return result


if __name__ == "__main__":
    main()
