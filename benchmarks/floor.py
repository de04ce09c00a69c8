"""The floor of a CD-1 epoch: its matrix products alone, in float32."""

from __future__ import annotations

import time

import numpy as np

from rbm.training import batch_slices

__all__ = ["batch_bounds", "floor_epoch", "matmul_gflop"]


def batch_bounds(n_samples, batch_size):
    """(start, stop) of the ``np.array_split`` batches: ceil(n / batch_size) of them.

    :func:`rbm.training.batch_slices` with ``split="array_split"``, as
    :class:`rbm.RBM` and the article cut an epoch.
    """
    return batch_slices(n_samples, batch_size, "array_split")


def matmul_gflop(n_samples, n_visible, n_hidden):
    """Floating-point operations of one epoch's five products, in GFLOP: 5 x 2 n m h."""
    return 5 * 2.0 * n_samples * n_visible * n_hidden / 1e9


def floor_epoch(X, n_hidden, batch_size, seed):
    """Time the epoch's five matrix products per batch, in float32, into preallocated outputs.

    For each batch ``v`` (m rows): ``v W``, ``h W^T``, ``v' W`` and the two
    gradient products ``v^T P(h|v)`` and ``v'^T P(h|v')``, with the shapes of a
    CD-1 epoch (the operands hold arbitrary values; only the time matters).

    Returns
    -------
    (seconds, {}) : the wall time of the products, and no extra statistics.
    """
    rng = np.random.default_rng(seed)
    X = np.asarray(X, dtype=np.float32)
    n_visible = X.shape[1]
    W = rng.random((n_visible, n_hidden), dtype=np.float32)
    bounds = batch_bounds(len(X), batch_size)
    m = max(b - a for a, b in bounds)
    h = (rng.random((m, n_hidden), dtype=np.float32) < 0.5).astype(np.float32)
    vn = (rng.random((m, n_visible), dtype=np.float32) < 0.5).astype(np.float32)
    pre, pre2 = np.empty((m, n_hidden), np.float32), np.empty((m, n_hidden), np.float32)
    pv = np.empty((m, n_visible), np.float32)
    g1, g2 = np.empty_like(W), np.empty_like(W)
    start = time.perf_counter()
    for a, b in bounds:
        v, n = X[a:b], b - a
        np.matmul(v, W, out=pre[:n])
        np.matmul(h[:n], W.T, out=pv[:n])
        np.matmul(vn[:n], W, out=pre2[:n])
        np.matmul(v.T, pre[:n], out=g1)
        np.matmul(vn[:n].T, pre2[:n], out=g2)
    return time.perf_counter() - start, {}
