"""The per-epoch training kernel behind :class:`rbm.RBM` (private: no input checks).

One call to :func:`_train_epoch` runs one pass of CD-k or PCD-k over the
mini-batches of ``X`` and updates the parameters in place. It computes exactly
what :func:`rbm.cd_k` and :func:`rbm.pcd_k` compute, but fast:

- everything stays in the parameters' dtype (float32 by default), including
  the uniform numbers behind every Bernoulli draw;
- every intermediate lives in a buffer allocated once per epoch, and every
  step writes into it (``np.matmul(..., out=)``, ``tanh(x, out=x)``);
- the positive and negative statistics are stacked, so that the weight
  gradient is one matrix product ``[v; v_neg]^T [P(h|v)/m; -P(h|v_neg)/n]``
  and the bias gradients are two matrix-vector products;
- the per-batch pseudo-likelihood reuses the positive phase's ``v W + c``:
  flipping one unit moves the pre-activations by one row of ``W``, so no
  second matrix product is needed (:func:`rbm._kernels.flip_log_sigma`).

Random numbers are drawn from ``rng`` in the same order and with the same
shapes and dtype as :func:`rbm.sampling._gibbs_chain` draws them (for each of
the ``k`` steps: uniforms for h, then uniforms for v), and only then the flipped
unit of each row for the pseudo-likelihood. Given generators in the same state,
one batch here therefore makes the same update as ``cd_k``/``pcd_k`` followed by
``W += learning_rate * dW``, up to float rounding; the tests check this.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import time

import numpy as np

from ._kernels import add_and_halve_, flip_log_sigma, sample_from_tanh_, scale_rows_
from .sampling import _draw_key

try:  # optional: installed with scikit-learn
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover
    threadpool_limits = None

#: Weights larger than this in absolute value count as a diverged run. Trained
#: MNIST models have |w| of a few units; 1e4 is far outside anything useful,
#: and still far from float32 overflow in a 784-term pre-activation.
MAX_ABS_WEIGHT = 1e4


#: An epoch whose mean pseudo-likelihood per visible unit is below this counts as
#: diverged: log(1/4), i.e. the model predicts each unit from the others worse
#: than a coin flip (log(1/2), where an untrained model starts) by a factor of 2
#: on geometric average. Healthy training only climbs from log(1/2).
MIN_PL_PER_UNIT = math.log(0.25)


def _single_threaded_blas():
    """Run BLAS on one thread inside the block (when threadpoolctl is installed).

    A mini-batch's products are small (64 x 784 x 64 is 3 MFLOP): a second BLAS
    thread saves little on an idle machine, and on a busy one its
    synchronisation made an epoch many times slower (measured: 20x on 2 shared
    cores). Limiting threads does not change the results.
    """
    if threadpool_limits is None:  # pragma: no cover
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


class _Buffers:
    """Work arrays for batches of at most ``max_batch`` rows and ``n_chains`` negative rows."""

    def __init__(self, n_visible, n_hidden, max_batch, n_chains, dtype):
        rows = max_batch + n_chains
        n = max(max_batch, n_chains)
        self.V = np.zeros((rows, n_visible), dtype)  # [v ; v_neg]
        self.PH = np.zeros((rows, n_hidden), dtype)  # tanh, then [lr P(h|v)/m ; -lr P(h|v_neg)/n]
        self.pre = np.zeros((max_batch, n_hidden), dtype)  # v W + c of the data
        self.h = np.zeros((n, n_hidden), dtype)  # sampled hidden states
        self.t = np.zeros((n, n_visible), dtype)  # tanh((h W^T + b) / 2)
        self.th_chain = np.zeros((n_chains, n_hidden), dtype)
        self.ones = np.ones(rows, dtype)
        self.weights = np.zeros(rows, dtype)
        self._weights_for = None
        self.dW = np.zeros((n_visible, n_hidden), dtype)
        self.db = np.zeros(n_visible, dtype)
        self.dc = np.zeros(n_hidden, dtype)
        self.flip = np.zeros((2 * max_batch, n_hidden), dtype)  # pseudo-likelihood work space
        self.tail = np.zeros((2 * max_batch, n_hidden), dtype)
        self.cols = np.zeros(max_batch, np.intp)  # the unit each row flips

    def step_weights(self, m, n_neg, learning_rate):
        """[lr/m (m times) ; -lr/n_neg (n_neg times)]: each row's weight in the step."""
        if self._weights_for != (m, n_neg, learning_rate):
            self.weights[:m] = learning_rate / m
            self.weights[m : m + n_neg] = -learning_rate / n_neg
            self._weights_for = (m, n_neg, learning_rate)
        return self.weights[: m + n_neg]


def _batch_slices(n_samples, batch_size, split):
    """(start, stop) of each batch: "fixed" size (last one smaller) or ``np.array_split``."""
    if split == "array_split":
        n_batches = -(-n_samples // batch_size)
        sizes = np.full(n_batches, n_samples // n_batches)
        sizes[: n_samples % n_batches] += 1  # np.array_split puts the larger ones first
        edges = np.concatenate([[0], np.cumsum(sizes)])
    else:
        edges = np.append(np.arange(0, n_samples, batch_size), n_samples)
    return [(int(a), int(b)) for a, b in itertools.pairwise(edges)]


def _half_tanh(x, weights, bias, out):
    """out = tanh((x weights + bias) / 2), from which the conditional is (1 + out) / 2.

    ``_half_tanh(v, W, c, out)`` gives P(h | v), ``_half_tanh(h, W.T, b, out)``
    P(v | h). The sigmoid through tanh never overflows, and numpy's float32
    ``tanh`` is vectorised: several times faster than
    :func:`scipy.special.expit`, which it matches to 1e-7. The kernels finish
    the sigmoid where they read it.
    """
    np.matmul(x, weights, out=out)
    return np.tanh(add_and_halve_(out, bias), out=out)


def _negative_phase(th_start, W, b, c, k, buf, v_out, th_out, rng, data=None, data_copy=None):
    """k Gibbs steps from the hidden side: ``th_start`` = tanh(P(h|v)'s pre-activation / 2).

    Writes the last sampled visible state into ``v_out`` and its tanh form into
    ``th_out``. Draws, for each step, a key for h then a key for v, as
    :func:`rbm.sampling._gibbs_chain` does. If ``data`` is given, returns the
    squared error of the first step's P(v | h) against it (the reconstruction
    error), else 0.0; ``data_copy`` then receives a copy of ``data``.
    """
    n = len(th_start)
    h, t = buf.h[:n], buf.t[:n]
    th = th_start
    sq_err = 0.0
    for step in range(k):
        sample_from_tanh_(th, _draw_key(rng), h)
        _half_tanh(h, W.T, b, t)
        if step == 0 and data is not None:
            sq_err = sample_from_tanh_(t, _draw_key(rng), v_out, data, ref_copy=data_copy)
        else:
            sample_from_tanh_(t, _draw_key(rng), v_out)
        th = _half_tanh(v_out, W, c, th_out)
    return sq_err


def _train_batch(v, W, b, c, k, learning_rate, momentum, weight_decay, velocity, chain, buf, rng):
    """One CD-k (``chain is None``) or PCD-k update on the batch ``v``, in place.

    Returns (sum over rows of log sigma(F(v~) - F(v)), sum of squared
    reconstruction errors), both for the parameters *before* the update.
    """
    m = len(v)
    n_neg = m if chain is None else len(chain)
    V = buf.V[: m + n_neg]
    PH = buf.PH[: m + n_neg]
    v_pos, v_neg = V[:m], V[m:]
    th_pos, th_neg = PH[:m], PH[m:]
    pre = buf.pre[:m]

    # positive phase: pre = v W + c is kept for the pseudo-likelihood
    np.matmul(v, W, out=pre)
    np.tanh(add_and_halve_(pre, c, th_pos), out=th_pos)

    # negative phase, and the reconstruction error of P(v | h), h ~ P(h | v) of the data;
    # v goes into the stacked V for the gradient on a pass that reads it anyway
    if chain is None:
        sq_err = _negative_phase(
            th_pos, W, b, c, k, buf, v_neg, th_neg, rng, data=v, data_copy=v_pos
        )
    else:
        np.copyto(v_pos, v)
        th_chain = _half_tanh(chain, W, c, buf.th_chain[:n_neg])
        _negative_phase(th_chain, W, b, c, k, buf, v_neg, th_neg, rng)
        np.copyto(chain, v_neg)
        h = buf.h[:m]
        sample_from_tanh_(th_pos, _draw_key(rng), h)
        recon = _half_tanh(h, W.T, b, buf.t[:m])
        recon *= 0.5
        recon += 0.5  # P(v | h) = (1 + tanh) / 2
        recon -= v_pos
        flat = recon.reshape(-1)
        sq_err = float(np.dot(flat, flat))

    # the pseudo-likelihood, with the parameters before the update (this reuses pre)
    log_sigma = flip_log_sigma(v, pre, _draw_key(rng), W, b, buf.flip, buf.tail, buf.cols)

    # step = learning_rate * gradient, stacked so that dW is one product and
    # db, dc are two matrix-vector products; the learning rate rides on P(h|v)
    weights = buf.step_weights(m, n_neg, learning_rate)  # [lr/m ... ; -lr/n ...]
    scale_rows_(PH, weights)  # PH = weights * (1 + tanh) / 2 = weights * P(h | v)
    np.matmul(V.T, PH, out=buf.dW)
    np.matmul(weights, V, out=buf.db)
    np.matmul(buf.ones[: m + n_neg], PH, out=buf.dc)
    if weight_decay:
        buf.dW -= (learning_rate * weight_decay) * W

    # update: velocity = momentum * velocity + step; params += velocity (or += step)
    if velocity is None:
        W += buf.dW
        b += buf.db
        c += buf.dc
    else:
        for param, vel, step in zip((W, b, c), velocity, (buf.dW, buf.db, buf.dc), strict=True):
            vel *= momentum
            vel += step
            param += vel
    return log_sigma, sq_err


def _params_ok(W, b, c):
    return bool(
        np.isfinite(W).all()
        and np.isfinite(b).all()
        and np.isfinite(c).all()
        and np.abs(W).max() <= MAX_ABS_WEIGHT
    )


def _train_epoch(
    X,
    W,
    b,
    c,
    *,
    k,
    learning_rate,
    momentum,
    weight_decay,
    velocity,
    chain,
    batch_size,
    batch_split,
    shuffle,
    rng,
):
    """One pass over ``X``, updating ``W``, ``b``, ``c`` (and ``velocity``, ``chain``) in place.

    Returns
    -------
    stats : dict
        "pseudo_likelihood" (mean over batches of n_visible times the batch's
        mean log sigma(F(v~) - F(v))), "pseudo_likelihood_article_scale" (the
        same with the batch size in place of n_visible), "reconstruction_error"
        (mean squared error of P(v | h), h ~ P(h | v)), "time" (seconds) and
        "diverged" (bool: a statistic or a parameter became non-finite,
        |W| exceeded :data:`MAX_ABS_WEIGHT`, or the epoch's pseudo-likelihood
        fell below n_visible * :data:`MIN_PL_PER_UNIT`). When it diverged, the epoch stops
        at that batch and the parameters are left as they were then; the caller
        restores its copy.
    """
    start = time.perf_counter()
    X = np.ascontiguousarray(X)  # rows as contiguous slices (no copy when they already are)
    n_samples, n_visible = X.shape
    slices = _batch_slices(n_samples, batch_size, batch_split)
    max_batch = max(b_ - a for a, b_ in slices)
    n_chains = max_batch if chain is None else len(chain)
    buf = _Buffers(n_visible, W.shape[1], max_batch, n_chains, W.dtype)
    order = rng.permutation(n_samples) if shuffle else None
    pl, pl_article, sq_err, n_seen, n_batches = 0.0, 0.0, 0.0, 0, 0
    diverged = False
    # a diverging run is detected below, not by floating-point warnings
    with np.errstate(all="ignore"), _single_threaded_blas():
        for a, z in slices:
            v = X[a:z] if order is None else X[order[a:z]]
            log_sigma, err = _train_batch(
                v, W, b, c, k, learning_rate, momentum, weight_decay, velocity, chain, buf, rng
            )
            m = z - a
            pl += n_visible * log_sigma / m
            pl_article += log_sigma  # the article multiplied the batch mean by the batch size
            sq_err += err
            n_seen += m
            n_batches += 1
            if not (math.isfinite(log_sigma) and math.isfinite(err)):
                diverged = True
                break
        if not diverged:
            diverged = not _params_ok(W, b, c) or pl / n_batches < MIN_PL_PER_UNIT * n_visible
    return {
        "pseudo_likelihood": pl / n_batches,
        "pseudo_likelihood_article_scale": pl_article / n_batches,
        "reconstruction_error": sq_err / (n_seen * n_visible),
        "time": time.perf_counter() - start,
        "diverged": diverged,
    }
