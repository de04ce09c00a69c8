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
  second matrix product is needed (:func:`_flip_log_sigma`).

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
        self.V = np.zeros((rows, n_visible), dtype)  # [v ; v_neg]
        self.PH = np.zeros((rows, n_hidden), dtype)  # [P(h|v)/m ; -P(h|v_neg)/n]
        self.pre = np.zeros((max_batch, n_hidden), dtype)  # v W + c of the data
        n = max(max_batch, n_chains)
        self.h = np.zeros((n, n_hidden), dtype)  # sampled hidden states
        self.u_h = np.zeros((n, n_hidden), dtype)  # uniforms for h
        self.u_v = np.zeros((n, n_visible), dtype)  # uniforms for v
        self.pv = np.zeros((n, n_visible), dtype)  # P(v|h)
        self.ph_chain = np.zeros((n_chains, n_hidden), dtype)
        self.weights = np.zeros(rows, dtype)  # [1/m ... ; -1/n ...] for the visible bias
        self.dW = np.zeros((n_visible, n_hidden), dtype)
        self.db = np.zeros(n_visible, dtype)
        self.dc = np.zeros(n_hidden, dtype)
        self.diff = np.zeros((max_batch, n_visible), dtype)


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


def _sigmoid_(x):
    """sigma(x) in place, as (1 + tanh(x / 2)) / 2.

    The same function as :func:`scipy.special.expit` (equal to within 1e-7 in
    float32, and it never overflows), but numpy's float32 ``tanh`` is
    vectorised, which makes this several times faster on a 64 x 784 batch.
    """
    x *= 0.5
    np.tanh(x, out=x)
    x *= 0.5
    x += 0.5
    return x


def _softplus_(x):
    """softplus(x) = max(x, 0) + log(1 + exp(-|x|)), in place, with vectorised float32 passes.

    The same function as :func:`rbm.core._softplus` (``np.logaddexp(0, x)``),
    which never overflows either, but several times faster in float32.
    """
    tail = np.abs(x)
    np.negative(tail, out=tail)
    np.exp(tail, out=tail)
    np.log1p(tail, out=tail)
    np.maximum(x, 0, out=x)
    x += tail
    return x


def _flip_log_sigma(v, pre, cols, W, b):
    """Sum over rows of log sigma(F(v~) - F(v)), with v~ = v flipped at unit ``cols[t]`` of row t.

    The same quantity as :func:`rbm.evaluation._flip_delta_free_energy` followed
    by log sigma, reusing ``pre = v W + c``: flipping v_i to 1 - v_i moves the
    pre-activations by d W_i with d = 1 - 2 v_i, so no second matrix product is needed.
    """
    rows = np.arange(len(v))
    d = 1 - 2 * v[rows, cols]
    pre_flipped = d[:, None] * W[cols]
    pre_flipped += pre
    delta = _softplus_(pre.copy()).sum(axis=1, dtype=np.float64)
    delta -= _softplus_(pre_flipped).sum(axis=1, dtype=np.float64)
    delta -= d * b[cols]  # delta = F(v~) - F(v)
    np.negative(delta, out=delta)
    return -float(_softplus_(delta).sum())  # log sigma(x) = -softplus(-x)


def _sample_into(p, u, out, rng):
    """out = (u < p) as 0.0/1.0, with fresh uniforms drawn into ``u`` in p's dtype."""
    rng.random(out=u, dtype=u.dtype)
    np.less(u, p, out=out, casting="unsafe")
    return out


def _hidden_probs(v, W, c, out):
    np.matmul(v, W, out=out)
    out += c
    return _sigmoid_(out)


def _visible_probs(h, W, b, out):
    np.matmul(h, W.T, out=out)
    out += b
    return _sigmoid_(out)


def _negative_phase(start, ph_start, W, b, c, k, buf, v_out, ph_out, rng, pv_first=None):
    """k Gibbs steps from visible ``start`` (whose P(h|v) is ``ph_start``).

    Writes the last sampled visible state into ``v_out`` and its P(h|v) into
    ``ph_out``. Draws, for each step, uniforms for h then uniforms for v, as
    :func:`rbm.sampling._gibbs_chain` does. If ``pv_first`` is given, P(v|h) of
    the first step is copied there (the one-step reconstruction).
    """
    n = len(start)
    h, u_h, u_v, pv = buf.h[:n], buf.u_h[:n], buf.u_v[:n], buf.pv[:n]
    ph = ph_start
    for step in range(k):
        _sample_into(ph, u_h, h, rng)
        _visible_probs(h, W, b, pv)
        if step == 0 and pv_first is not None:
            np.copyto(pv_first, pv)
        _sample_into(pv, u_v, v_out, rng)
        ph = _hidden_probs(v_out, W, c, ph_out)
    return v_out, ph_out


def _train_batch(v, W, b, c, k, learning_rate, momentum, weight_decay, velocity, chain, buf, rng):
    """One CD-k (``chain is None``) or PCD-k update on the batch ``v``, in place.

    Returns (sum over rows of log sigma(F(v~) - F(v)), sum of squared
    reconstruction errors), both for the parameters *before* the update.
    """
    m, n_visible = v.shape
    n_neg = m if chain is None else len(chain)
    V = buf.V[: m + n_neg]
    PH = buf.PH[: m + n_neg]
    v_pos, v_neg = V[:m], V[m:]
    ph_pos, ph_neg = PH[:m], PH[m:]
    pre = buf.pre[:m]
    np.copyto(v_pos, v)

    # positive phase: pre = v W + c is kept for the pseudo-likelihood
    np.matmul(v_pos, W, out=pre)
    pre += c
    np.copyto(ph_pos, pre)
    _sigmoid_(ph_pos)

    # negative phase, and the reconstruction P(v | h), h ~ P(h | v) of the data
    recon = buf.diff[:m]
    if chain is None:
        _negative_phase(v_pos, ph_pos, W, b, c, k, buf, v_neg, ph_neg, rng, pv_first=recon)
    else:
        ph_chain = _hidden_probs(chain, W, c, buf.ph_chain[:n_neg])
        _negative_phase(chain, ph_chain, W, b, c, k, buf, v_neg, ph_neg, rng)
        np.copyto(chain, v_neg)
        h = _sample_into(ph_pos, buf.u_h[:m], buf.h[:m], rng)
        _visible_probs(h, W, b, recon)

    # statistics, with the parameters before the update (this reuses pre)
    log_sigma = _flip_log_sigma(v_pos, pre, rng.integers(0, n_visible, size=m), W, b)
    np.subtract(recon, v_pos, out=recon)
    flat = recon.reshape(-1)
    sq_err = float(np.dot(flat, flat))

    # gradient: stacked so that dW is one product and db, dc are two reductions
    ph_pos *= 1.0 / m
    ph_neg *= -1.0 / n_neg
    weights = buf.weights[: m + n_neg]
    weights[:m] = 1.0 / m
    weights[m:] = -1.0 / n_neg
    np.matmul(V.T, PH, out=buf.dW)
    np.matmul(weights, V, out=buf.db)
    np.sum(PH, axis=0, out=buf.dc)

    # update: velocity = momentum * velocity + lr * (grad - weight_decay * W); params += velocity
    if velocity is None:
        if weight_decay:
            buf.dW -= weight_decay * W
        buf.dW *= learning_rate
        buf.db *= learning_rate
        buf.dc *= learning_rate
        W += buf.dW
        b += buf.db
        c += buf.dc
    else:
        vW, vb, vc = velocity
        if weight_decay:
            buf.dW -= weight_decay * W
        vW *= momentum
        vb *= momentum
        vc *= momentum
        vW += learning_rate * buf.dW
        vb += learning_rate * buf.db
        vc += learning_rate * buf.dc
        W += vW
        b += vb
        c += vc
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
