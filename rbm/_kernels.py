"""The compiled kernels of the training loop (numba), each with a numpy twin.

Sampling a batch of visible units the plain numpy way takes five passes over
it, and the uniforms cost more than all the arithmetic: numpy's generator
spends about 2 ns on each. :func:`sample_from_tanh_` does it in one pass: it
finishes the sigmoid, draws each uniform inline from the counter-based
generator of :func:`rbm.sampling._uniforms` (SplitMix64: uniform ``i`` of a
call is a hash of the call's key and ``i``, a few integer instructions that
vectorise), compares, and on the way adds up the reconstruction error and
copies the data where the gradient wants them. :func:`add_and_halve_` and
:func:`flip_log_sigma` fuse the small passes around the hidden sigmoid and
the pseudo-likelihood, which otherwise cost more in numpy's per-call
overhead than in arithmetic.

Because uniform ``i`` depends on nothing but the key and ``i``, a kernel and
the numpy code of :mod:`rbm.sampling` make the *same* draws from the same
key; the tests compare them exactly. Without numba the numpy twins run
instead: the same results, slower. :func:`numpy_twins` switches to them on
purpose (tests, benchmark).
"""

from __future__ import annotations

import contextlib

import numpy as np

from .sampling import _GAMMA, _MIX1, _MIX2, _uniforms, _units_from_key

try:
    import numba
except ImportError:  # pragma: no cover - the numpy twin takes over
    numba = None

__all__ = [
    "HAVE_NUMBA",
    "add_and_halve_",
    "flip_log_sigma",
    "numpy_twins",
    "sample_from_tanh_",
    "scale_rows_",
]

HAVE_NUMBA = numba is not None


def _compiled(**options):
    """numba.njit, cached on disk when possible (it saves about 1 s of compiling per process).

    Without numba, the plain Python function: never called, since the numpy twins run.
    """

    def decorate(fn):
        if not HAVE_NUMBA:
            return fn
        try:
            return numba.njit(cache=True, nogil=True, **options)(fn)
        except RuntimeError:  # no writable cache directory: compile in each process instead
            return numba.njit(nogil=True, **options)(fn)

    return decorate


def _inlined(fn):
    """A helper that numba inlines into the kernels that call it."""
    return numba.njit(inline="always")(fn) if HAVE_NUMBA else fn


# ----------------------------------------------------------------------------- public


def sample_from_tanh_(t, key, out, ref=None, ref_copy=None):
    """Bernoulli draws with p = (1 + t) / 2 into ``out``: 1 where u < p, else 0.

    ``t`` holds tanh(x / 2), so that p = sigma(x); it is left unchanged. The
    uniforms u are those of ``rbm.sampling._uniforms(key, t.shape, t.dtype)``,
    so this draws what ``rbm.sample_bernoulli`` draws from a generator whose
    next raw output is ``key``.

    Parameters
    ----------
    t, out : ndarray, shape (n, m), C-contiguous, same float dtype
    key : numpy.uint64
    ref : ndarray of t's shape, optional
        When given, return sum((p - ref)^2): the reconstruction error when
        ``ref`` is the data and ``t`` comes from P(v | h).
    ref_copy : ndarray of t's shape, optional
        Receives a copy of ``ref``, on the same pass (which reads it anyway).

    Returns
    -------
    float : the squared error, or 0.0 without ``ref``.
    """
    single = t.dtype == np.float32
    with_error = ref is not None
    ref = t if ref is None else ref
    copy = ref_copy is not None
    ref_copy = out if ref_copy is None else ref_copy
    return float(_sample_from_tanh(t, key, out, ref, with_error, single, ref_copy, copy))


def add_and_halve_(x, bias, half=None):
    """x += bias (broadcast over rows), then half = x / 2: the argument of tanh(x / 2).

    Without ``half``, x itself becomes (x + bias) / 2, in one pass (a separate
    kernel: with ``half`` the same array as x, numba could not vectorise).
    """
    if half is None:
        _halve_sum(x, bias)
        return x
    _add_and_halve(x, bias, half)
    return half


def scale_rows_(t, weights):
    """t = weights[:, None] * (1 + t) / 2, in one pass.

    It turns tanh(x / 2) into each row's weight times sigma(x).
    """
    _scale_rows(t, weights)
    return t


def flip_log_sigma(v, pre, key, W, b, both, tail, cols):
    """Sum over rows r of log sigma(F(v~) - F(v)), v~ = v with one random unit flipped.

    The flipped units are ``rbm.sampling._units_from_key(key, ...)``, the
    units ``_random_units`` draws from a generator whose next raw output is
    ``key`` (written into ``cols``). Flipping v_i to 1 - v_i
    moves the hidden pre-activations ``pre = v W + c`` by d W_i, d = 1 - 2 v_i,
    and the visible term by d b_i, so no second matrix product is needed:

        F(v~) - F(v) = sum_j [softplus(pre_j) - softplus(pre_j + d W_ij)] - d b_i.

    One pass writes the arguments [pre ; pre + d W_cols] into ``both`` and
    -|x| into ``tail``; numpy's vectorised exp and log1p turn ``tail`` into
    log(1 + e^-|x|) in place; a last pass adds max(x, 0) and sums.
    ``both`` and ``tail`` are work space of shape (2 m, n_hidden), ``cols`` of (m,).
    """
    m = len(v)
    both, tail, cols = both[: 2 * m], tail[: 2 * m], cols[:m]
    _flip_arguments(v, pre, key, W, both, tail, cols)
    np.exp(tail, out=tail)
    np.log1p(tail, out=tail)  # softplus(x) = max(x, 0) + log1p(exp(-|x|)), never overflows
    return float(_flip_finish(v, cols, b, both, tail))


# ----------------------------------------------------------------------------- kernels


@_inlined
def _splitmix64_at(key, i):
    """Output i + 1 of SplitMix64 from seed ``key``: element i of ``_splitmix64(key, n)``."""
    z = key + (i + np.uint64(1)) * _GAMMA
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


@_inlined
def _below(key, i, p, single):
    """Is uniform ``i`` (0-based) of ``key`` below ``p``?

    u < p is compared as (z >> (64 - bits)) < p 2^bits: both sides exact in
    the dtype (p is scaled by a power of two), in float32 lanes for float32.
    """
    z = _splitmix64_at(key, i)
    if single:
        return np.float32(np.int32(z >> np.uint64(40))) < p * np.float32(2.0**24)
    return np.float64(np.int64(z >> np.uint64(11))) < p * 2.0**53


# The error sum may be reordered, so that it vectorises; the draws are exact.
@_compiled(fastmath={"reassoc", "contract", "nsz"})
def _sample_from_tanh_kernel(t, key, out, ref, with_error, single, ref_copy, copy):
    m, n = t.shape
    total = 0.0
    for r in range(m):
        base = np.uint64(r * n)
        row = 0.0
        for j in range(n):
            # float32 constants keep the arithmetic in t's dtype, as numpy does
            p = t[r, j] * np.float32(0.5) + np.float32(0.5)
            out[r, j] = 1.0 if _below(key, base + np.uint64(j), p, single) else 0.0
            if with_error:
                d = p - ref[r, j]
                row += d * d
            if copy:
                ref_copy[r, j] = ref[r, j]
        total += row
    return total


@_compiled()
def _add_and_halve_kernel(x, bias, half):
    m, n = x.shape
    for r in range(m):
        for j in range(n):
            y = x[r, j] + bias[j]
            x[r, j] = y
            half[r, j] = y * np.float32(0.5)


@_compiled()
def _scale_rows_kernel(t, weights):
    m, n = t.shape
    for r in range(m):
        w = weights[r]
        for j in range(n):
            t[r, j] = w * (np.float32(0.5) + np.float32(0.5) * t[r, j])


@_compiled()
def _halve_sum_kernel(x, bias):
    m, n = x.shape
    for r in range(m):
        for j in range(n):
            x[r, j] = (x[r, j] + bias[j]) * np.float32(0.5)


@_compiled()
def _flip_arguments_kernel(v, pre, key, W, both, tail, cols):
    m, n = pre.shape
    n_units = np.uint64(W.shape[0])
    for r in range(m):
        # rbm.sampling._units_from_key: Lemire's multiply-shift of z's top 32 bits
        col = ((_splitmix64_at(key, np.uint64(r)) >> np.uint64(32)) * n_units) >> np.uint64(32)
        cols[r] = col
        d = np.float32(1.0) - np.float32(2.0) * v[r, col]
        for j in range(n):
            x = pre[r, j]
            y = x + d * W[col, j]  # as numpy rounds it: the product, then the sum
            both[r, j] = x
            both[m + r, j] = y
            tail[r, j] = -abs(x)
            tail[m + r, j] = -abs(y)


@_compiled(fastmath={"reassoc", "contract", "nsz"})
def _flip_finish_kernel(v, cols, b, both, tail):
    m = len(v)
    n = both.shape[1]
    total = 0.0
    for r in range(m):
        col = cols[r]
        d = 1.0 - 2.0 * v[r, col]
        kept = 0.0
        flipped = 0.0
        for j in range(n):
            kept += max(both[r, j], np.float32(0.0)) + tail[r, j]
            flipped += max(both[m + r, j], np.float32(0.0)) + tail[m + r, j]
        delta = kept - flipped - d * b[col]  # F(v~) - F(v)
        # log sigma(delta) = -softplus(-delta), 64 scalars: libm is fine here
        total -= max(-delta, 0.0) + np.log1p(np.exp(-abs(delta)))
    return total


# ----------------------------------------------------------------------------- numpy twins


def _sample_from_tanh_numpy(t, key, out, ref, with_error, single, ref_copy, copy):
    if copy:
        np.copyto(ref_copy, ref)
    p = t * 0.5
    p += 0.5
    np.less(_uniforms(key, t.shape, t.dtype), p, out=out, casting="unsafe")
    if not with_error:
        return 0.0
    p -= ref
    flat = p.reshape(-1)
    return float(np.dot(flat, flat))


def _add_and_halve_numpy(x, bias, half):
    x += bias
    np.multiply(x, 0.5, out=half)


def _scale_rows_numpy(t, weights):
    t *= 0.5
    t += 0.5
    t *= weights[:, None]


def _halve_sum_numpy(x, bias):
    x += bias
    x *= 0.5


def _flip_arguments_numpy(v, pre, key, W, both, tail, cols):
    m = len(v)
    cols[:] = _units_from_key(key, W.shape[0], m)
    d = 1 - 2 * v[np.arange(m), cols]
    both[:m] = pre
    np.multiply(W[cols], d[:, None], out=both[m:])
    both[m:] += pre
    np.abs(both, out=tail)
    np.negative(tail, out=tail)


def _flip_finish_numpy(v, cols, b, both, tail):
    m = len(v)
    d = 1 - 2 * v[np.arange(m), cols]
    sp = np.maximum(both, 0) + tail
    delta = sp[:m].sum(axis=1, dtype=np.float64) - sp[m:].sum(axis=1, dtype=np.float64)
    delta -= d * b[cols]
    return -float(np.logaddexp(0, -delta).sum())  # log sigma(x) = -softplus(-x)


# ----------------------------------------------------------------------------- dispatch

if HAVE_NUMBA:
    _sample_from_tanh = _sample_from_tanh_kernel
    _add_and_halve = _add_and_halve_kernel
    _halve_sum = _halve_sum_kernel
    _scale_rows = _scale_rows_kernel
    _flip_arguments = _flip_arguments_kernel
    _flip_finish = _flip_finish_kernel
else:  # pragma: no cover
    _sample_from_tanh = _sample_from_tanh_numpy
    _add_and_halve = _add_and_halve_numpy
    _halve_sum = _halve_sum_numpy
    _scale_rows = _scale_rows_numpy
    _flip_arguments = _flip_arguments_numpy
    _flip_finish = _flip_finish_numpy

_NUMPY_TWINS = {
    "_sample_from_tanh": _sample_from_tanh_numpy,
    "_add_and_halve": _add_and_halve_numpy,
    "_halve_sum": _halve_sum_numpy,
    "_scale_rows": _scale_rows_numpy,
    "_flip_arguments": _flip_arguments_numpy,
    "_flip_finish": _flip_finish_numpy,
}


@contextlib.contextmanager
def numpy_twins():
    """Inside the block, the numpy twins run instead of the compiled kernels.

    For the tests (the two must agree) and the benchmark's ablation (what
    numba is worth). Not thread-safe: it swaps this module's globals.
    """
    saved = {name: globals()[name] for name in _NUMPY_TWINS}
    globals().update(_NUMPY_TWINS)
    try:
        yield
    finally:
        globals().update(saved)
