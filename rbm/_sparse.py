"""Sparse input for :class:`rbm.RBM`: an epoch of the fast engine over a CSR matrix.

The epoch of :func:`rbm._fast.train_epoch`, with its batches taken from a
scipy.sparse matrix and made dense one at a time: the same draws and updates,
so the same parameters as on the dense data, without a dense copy of the data
set. (Its natural home is :mod:`rbm._fast`, which could take a batch getter.)
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp

from . import _fast
from .training import MIN_PL_PER_UNIT, batch_slices, params_ok

__all__ = ["dense", "train_epoch"]


def dense(X):
    """X itself, or ``X.toarray()`` if it is a scipy.sparse matrix or array."""
    return X.toarray() if sp.issparse(X) else X


def train_epoch(X, model, update, *, batch_size, batch_split, shuffle, rng):
    """:func:`rbm._fast.train_epoch` for a CSR matrix: one dense mini-batch at a time.

    The same batches, draws and updates as the dense epoch on ``X.toarray()``
    (the batch is the only dense copy), so the same parameters.
    """
    start = time.perf_counter()
    n_samples, n_visible = X.shape
    slices = batch_slices(n_samples, batch_size, batch_split)
    max_batch = max(z - a for a, z in slices)
    n_chains = max_batch if model.chain is None else len(model.chain)
    buf = _fast._Buffers(n_visible, model.W.shape[1], max_batch, n_chains, model.W.dtype)
    order = rng.permutation(n_samples) if shuffle else None
    pl, pl_article, sq_err, diverged = 0.0, 0.0, 0.0, False
    with np.errstate(all="ignore"), _fast.single_threaded_blas():
        for n_batches, (a, z) in enumerate(slices, start=1):  # noqa: B007
            v = (X[a:z] if order is None else X[order[a:z]]).toarray()
            log_sigma, err = _fast._train_batch(v, model, update, buf, rng)
            pl += n_visible * log_sigma / (z - a)
            pl_article += log_sigma
            sq_err += err
            if not (np.isfinite(log_sigma) and np.isfinite(err)):
                diverged = True
                break
        if not diverged:
            diverged = (
                not params_ok(model.W, model.b, model.c)
                or pl / n_batches < MIN_PL_PER_UNIT * n_visible
            )
    return {
        "pseudo_likelihood": pl / n_batches,
        "pseudo_likelihood_article_scale": pl_article / n_batches,
        "reconstruction_error": sq_err / (z * n_visible),
        "time": time.perf_counter() - start,
        "diverged": diverged,
    }
