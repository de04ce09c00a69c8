"""Training a binary RBM: initialisation, mini-batches, and the epoch loop of CD-k or PCD-k.

This is the loop the book teaches (chapter 8), written with the package's
public functions: each mini-batch takes the gradient estimate of
:func:`rbm.cd_k` or :func:`rbm.pcd_k`, adds weight decay and momentum, and
steps the parameters. Every trainer in the repository runs it: :class:`rbm.RBM`
(through the fast engine :mod:`rbm._fast`, which makes the same random draws
and the same updates up to float rounding, and which the tests compare with
this loop), :func:`rbm.train_centered`, and the scripts behind chapters 10-14.
"""

from __future__ import annotations

import copy
import itertools
import math
import time

import numpy as np
import scipy.sparse as sp

from ._validation import as_float_array, as_rng, check_positive_int
from .core import h_given_v, v_given_h
from .evaluation import pseudo_likelihood
from .sampling import cd_k, pcd_k, sample_bernoulli

__all__ = [
    "MAX_ABS_WEIGHT",
    "MIN_PL_PER_UNIT",
    "batch_slices",
    "init_chains",
    "init_params",
    "momentum_at",
    "params_ok",
    "train",
    "train_epoch",
]

#: Weights larger than this in absolute value count as a diverged run. Trained
#: MNIST models have |w| of a few units; 1e4 is far outside anything useful,
#: and still far from float32 overflow in a 784-term pre-activation.
MAX_ABS_WEIGHT = 1e4

#: An epoch whose mean pseudo-likelihood per visible unit is below this counts as
#: diverged: log(1/4), i.e. the model predicts each unit from the others worse
#: than a coin flip (log(1/2), where an untrained model starts) by a factor of 2
#: on geometric average. Healthy training only climbs from log(1/2).
MIN_PL_PER_UNIT = math.log(0.25)

INITS = ("xavier", "normal")
VISIBLE_BIAS_INITS = ("zeros", "marginals")
CHAIN_STARTS = ("data", "uniform", "marginals")
BATCH_SPLITS = ("fixed", "array_split", "drop_last")


def _check_choice(value, name, allowed):
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}, got {value!r}")


def init_params(X, n_hidden, init="xavier", visible_bias_init="zeros", rng=None, dtype=None):
    r"""Initial parameters of an RBM for the data ``X``.

    - ``init="xavier"``: :math:`w_{ij}` uniform in
      :math:`\pm\sqrt{6 / (n_\text{visible} + n_\text{hidden})}` (the source article);
      ``"normal"``: :math:`w_{ij} \sim \mathcal N(0, 0.01^2)` (Hinton 2010).
    - ``visible_bias_init="zeros"``: :math:`\mathbf b = 0`; ``"marginals"``:
      :math:`b_i = \log(p_i / (1 - p_i))` with :math:`p_i` the mean of column
      :math:`i` of ``X`` clipped to [1e-3, 1 - 1e-3], so that the untrained
      model already has the data's marginals.
    - :math:`\mathbf c = 0`.

    Parameters
    ----------
    X : ndarray or scipy.sparse matrix, shape (n_samples, n_visible)
        Training data in [0, 1] (only its marginals and width are read).
    n_hidden : int
    init : {"xavier", "normal"}, default "xavier"
    visible_bias_init : {"zeros", "marginals"}, default "zeros"
    rng : int, numpy.random.Generator or None
        ``W`` takes ``n_visible * n_hidden`` draws from it.
    dtype : dtype, optional
        Of the returned arrays; ``X``'s dtype by default.

    Returns
    -------
    W : ndarray, shape (n_visible, n_hidden)
    b : ndarray, shape (n_visible,)
    c : ndarray, shape (n_hidden,)
    """
    _check_choice(init, "init", INITS)
    _check_choice(visible_bias_init, "visible_bias_init", VISIBLE_BIAS_INITS)
    rng = as_rng(rng)
    n_visible = X.shape[1]
    if init == "xavier":
        a = math.sqrt(6.0 / (n_visible + n_hidden))
        W = rng.uniform(-a, a, size=(n_visible, n_hidden))
    else:
        W = rng.normal(0.0, 0.01, size=(n_visible, n_hidden))
    if visible_bias_init == "marginals":
        if sp.issparse(X):  # scipy's mean(dtype=float64) still sums in X's dtype
            p = np.ravel(X.astype(np.float64).mean(axis=0))
        else:
            p = X.mean(axis=0, dtype=np.float64)
        p = np.clip(p, 1e-3, 1 - 1e-3)
        b = np.log(p / (1 - p))
    else:
        b = np.zeros(n_visible)
    dtype = X.dtype if dtype is None else np.dtype(dtype)
    return W.astype(dtype), b.astype(dtype), np.zeros(n_hidden, dtype=dtype)


def init_chains(X, n_chains, start="data", rng=None):
    """Visible states of ``n_chains`` persistent chains (PCD), in ``X``'s dtype.

    Parameters
    ----------
    X : ndarray, shape (n_samples, n_visible)
    n_chains : int
    start : {"data", "uniform", "marginals"}, default "data"
        "data": copies of the first ``n_chains`` rows of ``X`` (at most all of
        them; no draw); "uniform": Bernoulli(1/2) states; "marginals":
        Bernoulli(:math:`p_i`) states, :math:`p_i` the mean of column i of ``X``.
        The last two take ``n_chains * n_visible`` uniforms from ``rng``.
    rng : int, numpy.random.Generator or None

    Returns
    -------
    ndarray, shape (n_chains, n_visible)
    """
    _check_choice(start, "start", CHAIN_STARTS)
    if start == "data":
        return np.array(X[: min(n_chains, len(X))], dtype=X.dtype)
    p = 0.5 if start == "uniform" else X.mean(axis=0)
    return (as_rng(rng).random((n_chains, X.shape[1])) < p).astype(X.dtype)


def batch_slices(n_samples, batch_size, split="fixed"):
    """(start, stop) of each mini-batch of an epoch.

    Parameters
    ----------
    n_samples, batch_size : int
    split : {"fixed", "array_split", "drop_last"}, default "fixed"
        "fixed": batches of ``batch_size`` rows, the last one smaller;
        "array_split": the ``ceil(n_samples / batch_size)`` near-equal batches
        of ``np.array_split``, the larger ones first (the source article's);
        "drop_last": batches of ``batch_size`` rows, without the smaller last one.

    Returns
    -------
    list of (int, int)
    """
    _check_choice(split, "batch_split", BATCH_SPLITS)
    if split == "array_split":
        n_batches = -(-n_samples // batch_size)
        sizes = np.full(n_batches, n_samples // n_batches)
        sizes[: n_samples % n_batches] += 1  # np.array_split puts the larger ones first
        edges = np.concatenate([[0], np.cumsum(sizes)])
    elif split == "drop_last":
        edges = np.arange(0, n_samples // batch_size + 1) * batch_size
    else:
        edges = np.append(np.arange(0, n_samples, batch_size), n_samples)
    return [(int(a), int(b)) for a, b in itertools.pairwise(edges)]


def momentum_at(momentum, epoch, switch=5):
    """The momentum of epoch ``epoch`` (counted from 0) under a schedule.

    Parameters
    ----------
    momentum : float or (float, float)
        A constant, or ``(initial, final)``: ``initial`` for the first
        ``switch`` epochs, then ``final`` (Hinton 2010: 0.5, then 0.9 once the
        large early changes are over).
    epoch, switch : int

    Returns
    -------
    float
    """
    if np.ndim(momentum) == 0:
        return float(momentum)
    initial, final = momentum
    return float(initial if epoch < switch else final)


def params_ok(W, b, c):
    """Are the parameters finite, with every :math:`|w_{ij}|` at most :data:`MAX_ABS_WEIGHT`?"""
    return bool(
        np.isfinite(W).all()
        and np.isfinite(b).all()
        and np.isfinite(c).all()
        and np.abs(W).max() <= MAX_ABS_WEIGHT
    )


def contrastive_divergence(v, chain, W, b, c, k, rng):
    """The CD-k (``chain`` None) or PCD-k estimate: the loop's default ``gradient``.

    Returns ``((dW, db, dc), new_chain)``, ``new_chain`` None for CD-k.
    """
    if chain is None:
        return cd_k(v, W, b, c, k=k, rng=rng), None
    return pcd_k(v, chain, W, b, c, k=k, rng=rng)


def _reconstruction_error(v, W, b, c, rng):
    """Sum of squared errors of E[v | h], h ~ p(h | v): one draw from ``rng``."""
    h = sample_bernoulli(h_given_v(v, W, c), rng)
    d = v_given_h(h, W, b) - v
    return float(np.dot(d.reshape(-1), d.reshape(-1)))


def train_epoch(
    X,
    W,
    b,
    c,
    *,
    k=1,
    learning_rate=0.1,
    momentum=0.0,
    weight_decay=0.0,
    velocity=None,
    chain=None,
    batch_size=64,
    batch_split="fixed",
    shuffle=True,
    monitor=True,
    gradient=None,
    on_update=None,
    max_updates=None,
    rng=None,
):
    r"""One pass of CD-k or PCD-k over ``X``, updating the parameters in place.

    For each mini-batch :math:`\mathbf v` (rows of ``X`` in a random order when
    ``shuffle``), with :math:`(g_W, g_b, g_c)` the CD-k estimate
    (:func:`rbm.cd_k`, ``chain`` None) or the PCD-k one (:func:`rbm.pcd_k`,
    which also advances ``chain``):

    .. math::

        \Delta = \eta\,(g_W - \lambda W,\; g_b,\; g_c), \qquad
        \mathbf u \leftarrow \mu\,\mathbf u + \Delta, \qquad
        (W, \mathbf b, \mathbf c) \mathrel{+}= \mathbf u

    (:math:`\eta` = ``learning_rate``, :math:`\lambda` = ``weight_decay``,
    :math:`\mu` = ``momentum``, :math:`\mathbf u` = ``velocity``; without a
    velocity the step is :math:`\Delta` itself).

    Parameters
    ----------
    X : ndarray, shape (n_samples, n_visible)
        Training data in [0, 1], in the parameters' dtype.
    W, b, c : ndarrays, shapes (n_visible, n_hidden), (n_visible,), (n_hidden,)
        Updated in place.
    k : int, default 1
    learning_rate, momentum, weight_decay : float
    velocity : (ndarray, ndarray, ndarray) or None
        The momentum's running steps, shaped like ``W, b, c``, updated in place.
    chain : ndarray, shape (n_chains, n_visible), or None
        Persistent chains (PCD-k), advanced in place; None for CD-k.
    batch_size : int, default 64
    batch_split : {"fixed", "array_split", "drop_last"}, default "fixed"
        See :func:`batch_slices`.
    shuffle : bool, default True
    max_updates : int, optional
        Stop after this many mini-batches (the rest of the epoch is skipped).
    monitor : bool, default True
        Per batch, and with the parameters before its update, also estimate
        the pseudo-likelihood (:func:`rbm.pseudo_likelihood`, one draw) and
        the reconstruction error of :math:`\mathbb E[\mathbf v \mid \mathbf h]`,
        :math:`\mathbf h \sim p(\mathbf h \mid \mathbf v)` (with PCD-k, one
        draw; CD-k's chain starts at the data, so its first step *is* such a
        reconstruction, and the error is read off it by replaying that draw).
    gradient : callable, optional
        ``gradient(v, chain, W, b, c, k, rng) -> ((dW, db, dc), new_chain)``
        in place of CD-k / PCD-k: for other estimates or transformed
        gradients (e.g. centring, :func:`rbm.train_centered`).
    on_update : callable, optional
        ``on_update(step, W, b, c)``, called after each update with the step
        that was added to the parameters (the velocity, or :math:`\Delta`).
    rng : int, numpy.random.Generator or None

    Returns
    -------
    stats : dict
        "pseudo_likelihood" (mean over batches of the batch's mean estimate),
        "pseudo_likelihood_article_scale" (the same with the batch size in
        place of n_visible), "reconstruction_error" (per unit), all NaN
        without ``monitor``; "time" (seconds); "n_updates" (batches done);
        and "diverged": a statistic or a
        parameter became non-finite, :math:`|w_{ij}|` exceeded
        :data:`MAX_ABS_WEIGHT`, or the pseudo-likelihood fell below
        n_visible * :data:`MIN_PL_PER_UNIT`. A diverged epoch stops at the
        failing batch; the caller restores its own copy of the parameters.
    """
    rng = as_rng(rng)
    k = check_positive_int(k, "k")
    gradient = contrastive_divergence if gradient is None else gradient
    start = time.perf_counter()
    n_samples, n_visible = X.shape
    order = rng.permutation(n_samples) if shuffle else np.arange(n_samples)
    pl, pl_article, sq_err, n_seen, n_batches = 0.0, 0.0, 0.0, 0, 0
    diverged = False
    with np.errstate(all="ignore"):  # divergence is detected below, not by warnings
        for a, z in batch_slices(n_samples, batch_size, batch_split)[:max_updates]:
            v = X[order[a:z]]
            # CD-k's first Gibbs step draws h ~ p(h | v) of the data: a reconstruction,
            # which a copy of the generator draws again for the monitor
            before = copy.deepcopy(rng) if monitor and chain is None else None
            (dW, db, dc), new_chain = gradient(v, chain, W, b, c, k, rng)
            if monitor:  # with the parameters before the update
                err = _reconstruction_error(v, W, b, c, rng if before is None else before)
                pl_rows = pseudo_likelihood(v, W, b, c, rng=rng)
                pl += float(pl_rows.mean())
                pl_article += float(pl_rows.sum()) / n_visible  # batch size for n_visible
                sq_err += err
            if chain is not None:
                chain[...] = new_chain
            if weight_decay:
                dW = dW - weight_decay * W
            steps = [learning_rate * g for g in (dW, db, dc)]
            if velocity is not None:
                for vel, step in zip(velocity, steps, strict=True):
                    vel *= momentum
                    vel += step
                steps = velocity
            for param, step in zip((W, b, c), steps, strict=True):
                param += step
            if on_update is not None:
                on_update(steps, W, b, c)
            n_seen += z - a
            n_batches += 1
            if monitor and not (math.isfinite(pl) and math.isfinite(err)):
                diverged = True
                break
        if not diverged:
            diverged = not params_ok(W, b, c) or (
                monitor and pl / n_batches < MIN_PL_PER_UNIT * n_visible
            )
    nan = float("nan")
    return {
        "pseudo_likelihood": pl / n_batches if monitor else nan,
        "pseudo_likelihood_article_scale": pl_article / n_batches if monitor else nan,
        "reconstruction_error": sq_err / (n_seen * n_visible) if monitor else nan,
        "time": time.perf_counter() - start,
        "n_updates": n_batches,
        "diverged": diverged,
    }


def train(
    X,
    n_hidden,
    *,
    n_epochs=10,
    k=1,
    persistent=False,
    n_chains=None,
    chain_start="data",
    learning_rate=0.1,
    momentum=0.0,
    momentum_switch=5,
    weight_decay=0.0,
    batch_size=64,
    batch_split="fixed",
    shuffle=True,
    init="xavier",
    visible_bias_init="zeros",
    params=None,
    chains=None,
    n_updates=None,
    monitor=False,
    gradient=None,
    on_update=None,
    callback=None,
    rng=None,
):
    """Train an RBM for ``n_epochs`` epochs of :func:`train_epoch`; return it and its history.

    The parameters come from :func:`init_params` (or ``params``), the
    persistent chains from :func:`init_chains`, then each epoch runs
    :func:`train_epoch` with the momentum of :func:`momentum_at`. The run
    stops early, with ``history["diverged"]`` True, after an epoch that diverged.

    Parameters
    ----------
    X : ndarray, shape (n_samples, n_visible)
        Training data in [0, 1]; the parameters take its dtype.
    n_hidden : int
    n_epochs, k, learning_rate, weight_decay, batch_size, batch_split, shuffle,
    monitor, gradient, on_update
        As in :func:`train_epoch`.
    persistent : bool, default False
        PCD-k instead of CD-k.
    n_chains : int, optional
        Persistent chains (``batch_size`` by default).
    chain_start : {"data", "uniform", "marginals"}, default "data"
        See :func:`init_chains`.
    chains : ndarray, shape (n_chains, n_visible), optional
        Start the persistent chains from these (copied) instead.
    n_updates : int, optional
        A budget of mini-batch updates in all: training stops when it is
        spent, part-way through an epoch if need be (``n_epochs`` is then
        only an upper bound).
    momentum : float or (float, float), default 0.0
    momentum_switch : int, default 5
        See :func:`momentum_at`.
    init, visible_bias_init
        See :func:`init_params`.
    params : (W, b, c), optional
        Start from these (copied) instead of :func:`init_params`.
    callback : callable, optional
        ``callback(epoch, W, b, c)`` after each epoch (counted from 0); what it
        returns is stored in ``history["callback"]``.
    rng : int, numpy.random.Generator or None

    Returns
    -------
    W, b, c : ndarrays
    history : dict of per-epoch lists
        "epoch", "time" (seconds since the start, training only), the
        statistics of :func:`train_epoch` and "callback"; and "diverged" (bool).
    """
    X = as_float_array(X, "X", ndim=2, unit_interval=True)
    n_hidden = check_positive_int(n_hidden, "n_hidden")
    n_epochs = check_positive_int(n_epochs, "n_epochs", minimum=0)
    batch_size = check_positive_int(batch_size, "batch_size")
    rng = as_rng(rng)
    if params is None:
        W, b, c = init_params(X, n_hidden, init, visible_bias_init, rng)
    else:
        W, b, c = (np.array(p, dtype=X.dtype) for p in params)
    chain = None
    if persistent and chains is not None:
        chain = np.array(chains, dtype=X.dtype)
    elif persistent:
        chain = init_chains(X, batch_size if n_chains is None else n_chains, chain_start, rng)
    velocity = None
    if np.any(np.asarray(momentum)):
        velocity = tuple(np.zeros_like(p) for p in (W, b, c))
    stat_keys = ("pseudo_likelihood", "pseudo_likelihood_article_scale", "reconstruction_error")
    history = {key: [] for key in ("epoch", "time", *stat_keys, "callback")}
    history["diverged"] = False
    elapsed = 0.0
    done = 0
    for epoch in range(n_epochs):
        if n_updates is not None and done >= n_updates:
            break
        stats = train_epoch(
            X,
            W,
            b,
            c,
            k=k,
            learning_rate=learning_rate,
            momentum=momentum_at(momentum, epoch, momentum_switch),
            weight_decay=weight_decay,
            velocity=velocity,
            chain=chain,
            batch_size=batch_size,
            batch_split=batch_split,
            shuffle=shuffle,
            monitor=monitor,
            gradient=gradient,
            on_update=on_update,
            max_updates=None if n_updates is None else n_updates - done,
            rng=rng,
        )
        done += stats["n_updates"]
        elapsed += stats["time"]
        history["epoch"].append(epoch)
        history["time"].append(elapsed)
        for key in stat_keys:
            history[key].append(stats[key])
        if stats["diverged"]:
            history["diverged"] = True
            break
        history["callback"].append(None if callback is None else callback(epoch, W, b, c))
    return W, b, c, history
