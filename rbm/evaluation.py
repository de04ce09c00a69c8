"""Exact quantities by enumeration, and the pseudo-likelihood.

The partition function of a binary RBM sums over 2^(n_visible + n_hidden)
joint states, but one layer can always be summed out in closed form, so an
exact sum needs only the 2^min(n_visible, n_hidden) states of the smaller layer.
That is cheap for a few dozen units and impossible for an MNIST-sized hidden
layer of 64 or 500 units: :data:`MAX_EXACT_UNITS` is where this module stops.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

from ._random import _random_units
from ._validation import as_rng, check_params, check_visible
from .core import _free_energy, _sigmoid, _softplus

__all__ = [
    "MAX_EXACT_UNITS",
    "exact_pseudo_likelihood",
    "log_likelihood",
    "log_likelihood_gradient",
    "log_partition",
    "pseudo_likelihood",
]

#: Largest smaller-layer size that exact enumeration accepts: 2^25 (about 33.6
#: million) states, enough for Salakhutdinov & Murray's 25-hidden-unit RBMs. A
#: 784 x 20 model takes about a second; every unit more doubles it.
MAX_EXACT_UNITS = 25

# Above this many softplus evaluations in all, the summed-out layer is computed
# in float32 (SIMD exp/log, several times faster) and accumulated in float64.
# The error that adds is far below 1e-3 nats for MNIST-sized layers; small
# models stay in float64 throughout.
_FLOAT64_WORK_LIMIT = 2**24

_CHUNK_ELEMENTS = 2**21  # states x units per chunk: a few MB of temporaries


def _binary_states(n_units, start, stop):
    """Rows ``start .. stop-1`` of the table of all 2^n_units binary vectors (float64).

    Row ``r`` holds the bits of the integer ``r``, least significant first. The bits
    are unpacked from the integers' bytes (several times faster than shifting).
    """
    idx = np.arange(start, stop, dtype="<u8")
    bits = np.unpackbits(
        idx.view(np.uint8).reshape(-1, 8), axis=1, count=n_units, bitorder="little"
    )
    return bits.astype(np.float64)


def _softplus_row_sums(a, fast):
    """Sum of softplus over the last axis (float64 result), in place on ``a``.

    With ``fast``, ``a`` is float32 and softplus runs as in-place SIMD passes:
    log1p(exp(a)) when every entry is below 80, else max(a, 0) + log(1 + exp(-|a|)).
    Each unit then costs about 1e-7 in absolute error.
    """
    if not fast:
        return _softplus(a).sum(axis=1)
    if a.max() < 80:  # exp cannot overflow float32 (e^88.7): two passes instead of six
        np.exp(a, out=a)
        np.log1p(a, out=a)
        return a.sum(axis=1, dtype=np.float64)
    tail = np.abs(a)
    np.negative(tail, out=tail)
    np.exp(tail, out=tail)
    tail += 1
    np.log(tail, out=tail)
    np.maximum(a, 0, out=a)
    return a.sum(axis=1, dtype=np.float64) + tail.sum(axis=1, dtype=np.float64)


def _check_enumerable(W):
    n_visible, n_hidden = W.shape
    if min(n_visible, n_hidden) > MAX_EXACT_UNITS:
        raise ValueError(
            f"exact enumeration needs 2^min(n_visible, n_hidden) = 2^{min(W.shape)} terms "
            f"for W of shape {W.shape}; the limit is min(n_visible, n_hidden) <= "
            f"{MAX_EXACT_UNITS}. Use rbm.ais_log_partition for larger models."
        )


def _check_log_z(log_z):
    """Return ``log_z`` as a Python float, or raise naming it: a finite real scalar only."""
    try:
        arr = np.asarray(log_z)
    except Exception as exc:  # ragged sequences and the like
        raise TypeError(f"log_z must be a finite real number, got {type(log_z).__name__}") from exc
    if arr.ndim != 0 or not (
        np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
    ):
        raise TypeError(
            f"log_z must be a finite real number, got {type(log_z).__name__} "
            f"of dtype {arr.dtype} and shape {arr.shape}"
        )
    value = float(arr)
    if not np.isfinite(value):
        raise ValueError(f"log_z must be a finite real number, got {value!r}")
    return value


def _layer_sums(W, b, c):
    """Orient the model so that we enumerate the smaller layer.

    Returns (W_e, bias_enumerated, bias_summed_out) with W_e of shape
    (n_summed_out, n_enumerated).
    """
    if W.shape[1] <= W.shape[0]:
        return W, c, b  # enumerate h, sum out v
    return W.T, b, c  # enumerate v, sum out h


def _enumerated_log_weights(W, b, c):
    """Yield (states, log_weights) chunk by chunk over the smaller layer.

    For enumerated hidden states the log-weight is -F_h(h) = c.h + sum_i softplus(b_i + W_i.h);
    for enumerated visible states it is -F(v). Their log-sum-exp is log Z.
    """
    W, b, c = (np.asarray(x, dtype=np.float64) for x in (W, b, c))
    W_e, bias_e, bias_s = _layer_sums(W, b, c)
    n_enum, n_sum = W_e.shape[1], W_e.shape[0]
    fast = (2**n_enum) * n_sum > _FLOAT64_WORK_LIMIT
    W_t, bias_t = (
        (W_e.T, bias_s) if not fast else (W_e.T.astype(np.float32), bias_s.astype(np.float32))
    )
    chunk = max(1, _CHUNK_ELEMENTS // n_sum)
    for start in range(0, 2**n_enum, chunk):
        states = _binary_states(n_enum, start, min(start + chunk, 2**n_enum))
        pre = states.astype(W_t.dtype) @ W_t
        pre += bias_t
        yield states, states @ bias_e + _softplus_row_sums(pre, fast)


def log_partition(W, b, c):
    r"""Exact log partition function, by enumerating the smaller layer.

    .. math::

        \log Z = \log \sum_{\mathbf v, \mathbf h} e^{-E(\mathbf v, \mathbf h)}

    One layer is summed out in closed form, and the other (the smaller one) is
    enumerated in chunks, combined with log-sum-exp:

    .. math::

        \log Z = \log \sum_{\mathbf h} \exp\Big(\mathbf c^\top \mathbf h
                 + \sum_i \operatorname{softplus}(b_i + W_{i\cdot}\mathbf h)\Big)
               = \log \sum_{\mathbf v} e^{-F(\mathbf v)} .

    Parameters
    ----------
    W : array_like, shape (n_visible, n_hidden)
    b : array_like, shape (n_visible,)
    c : array_like, shape (n_hidden,)

    Returns
    -------
    float
        log Z, accumulated in float64. Small models are computed in float64
        throughout; above ``2**24`` softplus evaluations the summed-out layer's
        softplus runs in float32 (several times faster), which moves log Z of an
        MNIST-sized model by far less than 1e-3 nats.

    Raises
    ------
    ValueError
        If ``min(n_visible, n_hidden) > MAX_EXACT_UNITS`` (25): the sum would
        have more than 2^25 terms.
    """
    W, b, c = check_params(W, b, c)
    _check_enumerable(W)
    W, b, c = (np.asarray(x, dtype=np.float64) for x in (W, b, c))
    W_e, bias_e, bias_s = _layer_sums(W, b, c)
    if (2 ** W_e.shape[1]) * W_e.shape[0] > _FLOAT64_WORK_LIMIT:
        partial = _log_weight_sums_fast(W_e, bias_e, bias_s)
    else:
        partial = [logsumexp(lw) for _, lw in _enumerated_log_weights(W, b, c)]
    return float(logsumexp(partial))


def _log_weight_sums_fast(W_e, bias_e, bias_s):
    """log-sum-exp of the log-weights in blocks, for large sums (float32 softplus).

    The enumerated states split into low bits (a block) and high bits (which
    block). The pre-activations of all low-bit patterns are tabulated once, so a
    block costs one addition of a vector to the table instead of a matrix
    product: the softplus is then nearly all the work.
    """
    n_sum, n_enum = W_e.shape
    n_low = min(n_enum, max(0, (_CHUNK_ELEMENTS // n_sum).bit_length() - 1))
    low = _binary_states(n_low, 0, 2**n_low)
    table = (low @ W_e[:, :n_low].T + bias_s).astype(np.float32)
    low_linear = low @ bias_e[:n_low]
    pre = np.empty_like(table)
    sums = []
    for block in range(2 ** (n_enum - n_low)):
        high = _binary_states(n_enum - n_low, block, block + 1)[0]
        np.add(table, (W_e[:, n_low:] @ high).astype(np.float32), out=pre)
        lw = low_linear + high @ bias_e[n_low:] + _softplus_row_sums(pre, fast=True)
        sums.append(logsumexp(lw))
    return sums


def log_likelihood(v, W, b, c, log_z=None):
    r"""Exact log-probability :math:`\log p(\mathbf v) = -F(\mathbf v) - \log Z` of each row.

    Parameters
    ----------
    v : array_like, shape (n_samples, n_visible)
    W : array_like, shape (n_visible, n_hidden)
    b : array_like, shape (n_visible,)
    c : array_like, shape (n_hidden,)
    log_z : float, optional
        log Z if already known (e.g. from :func:`log_partition` or AIS);
        computed exactly when omitted.

    Returns
    -------
    ndarray, shape (n_samples,)
        Computed in float64 and returned in the parameters' float dtype.

    Raises
    ------
    ValueError
        If ``log_z`` is omitted and the model is too large to enumerate (see
        :func:`log_partition`), or if ``log_z`` is not finite.
    """
    W, b, c = check_params(W, b, c)
    v = check_visible(v, W)
    if log_z is None:
        log_z = log_partition(W, b, c)
    else:
        log_z = _check_log_z(log_z)
    W64, b64, c64 = (x.astype(np.float64) for x in (W, b, c))
    log_p = -_free_energy(v.astype(np.float64), W64, b64, c64) - log_z
    return log_p.astype(W.dtype, copy=False)


def log_likelihood_gradient(v, W, b, c):
    r"""Exact gradient of the mean log-likelihood, by enumeration (small models only).

    .. math::

        \frac{\partial \langle \log p(\mathbf v) \rangle}{\partial W}
          = \langle \mathbf v\, \mathbb E[\mathbf h \mid \mathbf v]^\top \rangle_\text{data}
          - \mathbb E_{p(\mathbf v, \mathbf h)}\big[\mathbf v \mathbf h^\top\big],

    and likewise :math:`\langle \mathbf v \rangle - \mathbb E[\mathbf v]` for ``b`` and
    :math:`\langle \mathbb E[\mathbf h \mid \mathbf v]\rangle - \mathbb E[\mathbf h]` for ``c``.
    The model expectations (the negative phase) are exact sums over the
    smaller layer.

    Parameters
    ----------
    v : array_like, shape (n_samples, n_visible)
    W : array_like, shape (n_visible, n_hidden)
    b : array_like, shape (n_visible,)
    c : array_like, shape (n_hidden,)

    Returns
    -------
    dW : ndarray, shape (n_visible, n_hidden)
    db : ndarray, shape (n_visible,)
    dc : ndarray, shape (n_hidden,)
        Computed in float64 and returned in the parameters' float dtype.

    Raises
    ------
    ValueError
        If ``min(n_visible, n_hidden) > MAX_EXACT_UNITS``.
    """
    W, b, c = check_params(W, b, c)
    dtype = W.dtype
    v = check_visible(v, W).astype(np.float64)
    _check_enumerable(W)
    W, b, c = (x.astype(np.float64) for x in (W, b, c))
    log_z = log_partition(W, b, c)
    enumerate_hidden = W.shape[1] <= W.shape[0]
    EW, Ev, Eh = np.zeros_like(W), np.zeros_like(b), np.zeros_like(c)
    for states, lw in _enumerated_log_weights(W, b, c):
        p = np.exp(lw - log_z)
        if enumerate_hidden:  # states are h; the visible layer's mean is sigma(b + W h)
            hs, vs = states, _sigmoid(states @ W.T + b)
        else:  # states are v; the hidden layer's mean is sigma(c + v W)
            vs, hs = states, _sigmoid(states @ W + c)
        EW += (vs * p[:, None]).T @ hs
        Ev += p @ vs
        Eh += p @ hs
    ph = _sigmoid(v @ W + c)
    grads = (v.T @ ph / len(v) - EW, v.mean(axis=0) - Ev, ph.mean(axis=0) - Eh)
    return tuple(g.astype(dtype, copy=False) for g in grads)


def _flip_delta_free_energy(v, pre, softplus_pre, rows, cols, W, b):
    """F(v with bit i flipped) - F(v) for one index per row, reusing pre = v W + c.

    Flipping v_i to 1 - v_i changes v_i by d = 1 - 2 v_i, which moves the
    hidden pre-activations by d W_i; no second matrix product is needed.
    ``softplus_pre`` is softplus(pre) summed over the hidden units.
    """
    d = 1 - 2 * v[rows, cols]
    pre_flipped = pre + d[:, None] * W[cols]
    return -d * b[cols] - (_softplus(pre_flipped).sum(axis=1) - softplus_pre)


def pseudo_likelihood(v, W, b, c, rng=None):
    r"""Stochastic pseudo-likelihood: one random bit flipped per sample.

    .. math::

        \widehat{\mathrm{PL}}(\mathbf v) = n_\text{visible} \cdot
            \log \sigma\big(F(\tilde{\mathbf v}) - F(\mathbf v)\big),

    where :math:`\tilde{\mathbf v}` is ``v`` with one uniformly chosen unit
    :math:`i` flipped to :math:`1 - v_i`. Its expectation over :math:`i` is the
    exact pseudo-likelihood :math:`\sum_i \log p(v_i \mid \mathbf v_{-i})`
    (:func:`exact_pseudo_likelihood`). This is the estimator of scikit-learn's
    ``BernoulliRBM.score_samples``.

    Parameters
    ----------
    v : array_like, shape (n_samples, n_visible)
    W : array_like, shape (n_visible, n_hidden)
    b : array_like, shape (n_visible,)
    c : array_like, shape (n_hidden,)
    rng : int, numpy.random.Generator or None
        Chooses the flipped unit of each row.

    Returns
    -------
    ndarray, shape (n_samples,)
    """
    W, b, c = check_params(W, b, c)
    v = check_visible(v, W)
    rows = np.arange(len(v))
    cols = _random_units(as_rng(rng), W.shape[0], len(v))
    pre = v @ W + c
    delta = _flip_delta_free_energy(v, pre, _softplus(pre).sum(axis=1), rows, cols, W, b)
    # log sigma(x) = -softplus(-x), with x = F(v~) - F(v) = delta
    return -W.shape[0] * _softplus(-delta)


def exact_pseudo_likelihood(v, W, b, c):
    r"""Exact pseudo-likelihood of each row (Besag 1975).

    .. math::

        \mathrm{PL}(\mathbf v) = \sum_{i=1}^{n_\text{visible}} \log p(v_i \mid \mathbf v_{-i})

    Each conditional compares ``v`` with ``v`` flipped at unit ``i``:
    :math:`p(v_i \mid \mathbf v_{-i}) = \sigma\big(F(\mathbf v^{(i)}) - F(\mathbf v)\big)`.
    The cost is n_visible free-energy differences per sample.

    Parameters
    ----------
    v : array_like, shape (n_samples, n_visible)
    W : array_like, shape (n_visible, n_hidden)
    b : array_like, shape (n_visible,)
    c : array_like, shape (n_hidden,)

    Returns
    -------
    ndarray, shape (n_samples,)
    """
    W, b, c = check_params(W, b, c)
    v = check_visible(v, W)
    n_visible = W.shape[0]
    pre = v @ W + c
    softplus_pre = _softplus(pre).sum(axis=1)
    total = np.zeros(len(v), dtype=W.dtype)
    rows = np.arange(len(v))
    for i in range(n_visible):
        cols = np.full(len(v), i)
        delta = _flip_delta_free_energy(v, pre, softplus_pre, rows, cols, W, b)
        total -= _softplus(-delta)
    return total
