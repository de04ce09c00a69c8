"""The fast engine behind :class:`rbm.RBM` (package-private: no input checks).

:func:`train_epoch` runs one pass of CD-k or PCD-k over the mini-batches of
``X``, as :func:`rbm.training.train_epoch` does (the loop the book teaches),
and makes the same random draws and the same updates, up to float rounding;
``tests/unit/test_fast_path.py`` checks it epoch by epoch. It is fast because:

- everything stays in the parameters' dtype (float32 by default), including
  the uniform numbers behind every Bernoulli draw;
- every intermediate lives in a buffer allocated once per epoch, and every
  step writes into it (``np.matmul(..., out=)`` and the kernels below);
- the positive and negative statistics are stacked, so that the weight
  gradient is one matrix product ``[v; v_neg]^T [P(h|v)/m; -P(h|v_neg)/n]``
  and the bias gradients are two matrix-vector products;
- the per-batch pseudo-likelihood reuses the positive phase's ``v W + c``:
  flipping one unit moves the pre-activations by one row of ``W``, so no
  second matrix product is needed (:func:`flip_log_sigma`);
- the elementwise work runs in small compiled kernels (numba), below.

Random numbers are drawn from ``rng`` in the same order and with the same
shapes and dtype as :func:`rbm.cd_k` and :func:`rbm.pcd_k` draw them (for each
of the ``k`` steps: a key for h, then a key for v), then, with PCD-k, a key for
the reconstruction's h, and last the flipped unit of each row for the
pseudo-likelihood.

The kernels. Sampling a batch of visible units the plain numpy way takes five
passes over it, and the uniforms cost more than all the arithmetic: numpy's
generator spends about 2 ns on each. :func:`sample_visible_` does it in two:
:func:`bias_sigmoid_` adds the bias and computes the sigmoid, then
:func:`sample_` draws each uniform inline from the counter-based generator of
:mod:`rbm._random` (SplitMix64: uniform ``i`` of a call is a hash of the
call's key and ``i``, a few integer instructions that vectorise), compares,
and with CD-k also adds up the reconstruction error and copies the data where
the gradient wants them. :func:`flip_log_sigma` computes the pseudo-likelihood
in one pass, which in numpy would take a dozen calls that cost more in
per-call overhead than in arithmetic.

The float32 sigmoid (:func:`sigmoid32`) is plain arithmetic: exp(-|x|) by
Cephes' polynomial with the power of two built from its bits, then
1 / (1 + e) or e / (1 + e). So it vectorises on any SIMD unit (AVX2, AVX-512,
NEON) without a vector math library, agrees with :func:`scipy.special.expit`
to float32 rounding (``tests/unit/test_kernels.py``), and rounds exactly as
its numpy twin does. (numpy's float32 ``tanh``, which the engine used before,
is vectorised with AVX2 and AVX-512, but at half the width on AVX2 it cost a
large share of the matrix products there.)
float64 keeps :func:`scipy.special.expit`.

Because uniform ``i`` depends on nothing but the key and ``i``, a kernel and
the numpy code of :mod:`rbm.sampling` make the *same* draws from the same
key; the tests compare them exactly. Without numba the numpy twins run
instead: the same results, slower. :func:`numpy_twins` switches to them on
purpose (tests, benchmark).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import time

import numpy as np
import scipy.sparse as sp
from scipy.special import expit

from ._random import _GAMMA, _MIX1, _MIX2, _draw_key, _uniforms, _units_from_key
from .training import MIN_PL_PER_UNIT, batch_slices, params_ok

try:
    import numba
except ImportError:  # pragma: no cover - the numpy twin takes over
    numba = None

try:  # optional: installed with scikit-learn
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover
    threadpool_limits = None

__all__ = [
    "HAVE_NUMBA",
    "Model",
    "Update",
    "anneal",
    "bias_sigmoid_",
    "blas_threads",
    "flip_log_sigma",
    "numpy_twins",
    "sample_",
    "sample_visible_",
    "scale_rows_",
    "sigmoid32",
    "single_threaded_blas",
    "train_epoch",
    "training_threads",
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


def bias_sigmoid_(x, bias, out=None):
    """out = sigma(x + bias) (bias broadcast over rows); x itself becomes x + bias.

    Without ``out``, x itself becomes sigma(x + bias). float32 runs the
    vectorised sigmoid of :func:`sigmoid32` (one compiled pass); float64 adds
    in numpy and calls :func:`scipy.special.expit`, as :func:`rbm.sigmoid` does.
    """
    if x.dtype != np.float32:
        x += bias
        if out is None:
            return expit(x, out=x)
        return expit(x, out=out)
    if out is None:
        _active["bias_sigmoid_inplace"](x, bias)
        return x
    _active["bias_sigmoid"](x, bias, out)
    return out


def sample_(p, key, out):
    """Bernoulli draws with probabilities ``p`` into ``out``: 1 where u < p, else 0.

    The uniforms u are those of ``rbm._random._uniforms(key, p.shape, p.dtype)``,
    so this draws what ``rbm.sample_bernoulli`` draws from a generator whose
    next raw output is ``key``.

    Parameters
    ----------
    p, out : ndarray, shape (n, m), C-contiguous, same float dtype
    key : numpy.uint64
    """
    single = p.dtype == np.float32
    _active["sample"](p, key, out, p, False, single, out, False)


def sample_visible_(x, bias, key, out, data=None, data_copy=None):
    """Draw v ~ P(v | h) from the products ``x = h W^T``; ``x`` becomes P(v | h).

    Two passes: p = sigma(x + bias) in place (:func:`bias_sigmoid_`), then the
    draw u < p with the uniforms of :func:`sample_` and, with ``data``, the
    reconstruction error sum((p - data)^2) and a copy of ``data`` into
    ``data_copy`` (where the gradient's stacked products want it). (One fused
    pass was measured slower: the float32 sigmoid and the 64-bit integer hash
    vectorise at different widths.)

    Returns
    -------
    float : the sum of squared errors (0.0 without ``data``).
    """
    with_error = data is not None
    ref = data if with_error else x
    ref_copy = data_copy if with_error else out
    p = bias_sigmoid_(x, bias)
    single = x.dtype == np.float32
    return float(_active["sample"](p, key, out, ref, with_error, single, ref_copy, with_error))


def sigmoid32(x):
    """sigma(x) for a float32 array, by the compiled kernels' formula (a numpy evaluation).

    exp(-|x|) from a Cephes-style polynomial (range reduction by powers of 2,
    degree-7 polynomial on |r| <= ln(2) / 2), then 1 / (1 + e) or e / (1 + e):
    no overflow, within a few float32 roundings of the exact sigmoid, and the
    same bits as the kernels compute (``tests/unit/test_kernels.py``).
    """
    return _sigmoid32_numpy(np.asarray(x, dtype=np.float32))


def scale_rows_(p, weights):
    """p = weights[:, None] * p, in one pass: each row's weight times its probabilities."""
    _active["scale_rows"](p, weights)
    return p


def flip_log_sigma(v, pre, key, W, b, cols):
    """Sum over rows r of log sigma(F(v~) - F(v)), v~ = v with one random unit flipped.

    The flipped units are ``rbm._random._units_from_key(key, ...)``, the
    units ``_random_units`` draws from a generator whose next raw output is
    ``key`` (written into ``cols``). Flipping v_i to 1 - v_i
    moves the hidden pre-activations ``pre = v W + c`` by d W_i, d = 1 - 2 v_i,
    and the visible term by d b_i, so no second matrix product is needed:

        F(v~) - F(v) = sum_j [softplus(pre_j) - softplus(pre_j + d W_ij)] - d b_i.

    One compiled pass does it all (float32): the softplus is max(x, 0) +
    log1p(exp(-|x|)), never overflowing, with exp from :func:`sigmoid32`'s
    polynomial and log1p from its atanh series, arithmetic that vectorises on
    any CPU. float64 uses numpy's ``logaddexp`` (the twin). ``cols`` (m,)
    receives the flipped units.
    """
    m = len(v)
    cols = cols[:m]
    if v.dtype != np.float32:
        return float(_flip_log_sigma_numpy(v, pre, key, W, b, cols))
    return float(_active["flip_log_sigma"](v, pre, key, W, b, cols))


# ----------------------------------------------------------------------------- kernels

# The float32 sigmoid. exp(-a), a = |x| <= 87 (so that 2^-n stays a normal number),
# is Cephes' expf: n = round(a / ln 2), q = n ln 2 - a in two parts (the first exact),
# e^q by a degree-7 polynomial on |q| <= ln(2) / 2, times 2^-n built from its bits.
# Every step is float32 arithmetic written out in a fixed order, with no fused
# multiply-adds, so numba's vectorised loop and numpy's array code round alike.
_F32 = np.float32
_LOG2E = _F32(1.44269504088896341)
_LN2_HI = _F32(0.693359375)
_LN2_LO = _F32(-2.12194440e-4)
_EXP_P0, _EXP_P1, _EXP_P2 = _F32(1.9875691500e-4), _F32(1.3981999507e-3), _F32(8.3334519073e-3)
_EXP_P3, _EXP_P4, _EXP_P5 = _F32(4.1665795894e-2), _F32(1.6666665459e-1), _F32(5.0000001201e-1)
_MAX_ABS = _F32(87.0)
_LOG1P_C = tuple(_F32(1.0 / (2 * i + 1)) for i in range(8))  # 1, 1/3, ..., 1/15
_ONE, _HALF, _ZERO = _F32(1.0), _F32(0.5), _F32(0.0)

if HAVE_NUMBA:
    from llvmlite import ir as _ir
    from numba.core import types as _types
    from numba.extending import intrinsic as _intrinsic

    @_intrinsic
    def _float32_from_bits(typingctx, bits):
        """The float32 with the bit pattern of the int32 ``bits`` (``.view(np.float32)``)."""
        sig = _types.float32(_types.int32)

        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], _ir.FloatType())

        return sig, codegen

else:  # pragma: no cover

    def _float32_from_bits(bits):
        return np.array(bits, np.int32).view(np.float32)[()]


@_inlined
def _exp_minus_abs32(x):
    """exp(-|x|) in float32 arithmetic (Cephes' expf), |x| clamped to 87."""
    a = min(abs(x), _MAX_ABS)
    k = np.int32(a * _LOG2E + _HALF)  # round(a / ln 2): a >= 0, so truncation floors
    n = np.float32(k)
    q = (n * _LN2_HI - a) + n * _LN2_LO
    y = ((((_EXP_P0 * q + _EXP_P1) * q + _EXP_P2) * q + _EXP_P3) * q + _EXP_P4) * q + _EXP_P5
    y = (y * (q * q) + q) + _ONE
    return y * _float32_from_bits(np.int32((127 - k) << 23))  # e^-a = e^q 2^-n


@_inlined
def _sigmoid32_scalar(x):
    e = _exp_minus_abs32(x)
    num = _ONE if x >= _ZERO else e
    return num / (_ONE + e)


@_inlined
def _softplus32_scalar(x):
    """softplus(x) = max(x, 0) + log1p(e), e = exp(-|x|) in (0, 1], in float32 arithmetic.

    log1p(e) = 2 atanh(s), s = e / (2 + e) <= 1/3: its series to s^15 is within
    1.4e-9 relatively (the next term, s^16 / 17 <= 9^-8 / 17).
    """
    e = _exp_minus_abs32(x)
    s = e / (_F32(2.0) + e)
    s2 = s * s
    series = _LOG1P_C[7]
    for i in range(6, -1, -1):
        series = series * s2 + _LOG1P_C[i]
    return max(x, _ZERO) + _F32(2.0) * s * series


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


@_inlined
def _splitmix64_at(key, i):
    """Output i + 1 of SplitMix64 from seed ``key``: element i of ``_splitmix64(key, n)``."""
    z = key + (i + np.uint64(1)) * _GAMMA
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


# The draws from probabilities. The error sum may be reordered, so that it
# vectorises; the draws are exact.
@_compiled(fastmath={"reassoc", "contract", "nsz"})
def _sample_kernel(p, key, out, ref, with_error, single, ref_copy, copy):
    m, n = p.shape
    total = 0.0
    for r in range(m):
        base = np.uint64(r * n)
        row = 0.0
        for j in range(n):
            out[r, j] = 1.0 if _below(key, base + np.uint64(j), p[r, j], single) else 0.0
            if with_error:
                d = p[r, j] - ref[r, j]
                row += d * d
            if copy:
                ref_copy[r, j] = ref[r, j]
        total += row
    return total


@_compiled(error_model="numpy")
def _bias_sigmoid_kernel(x, bias, out):
    m, n = x.shape
    for r in range(m):
        for j in range(n):
            y = x[r, j] + bias[j]
            x[r, j] = y
            out[r, j] = _sigmoid32_scalar(y)


@_compiled(error_model="numpy")
def _bias_sigmoid_inplace_kernel(x, bias):
    m, n = x.shape
    for r in range(m):
        for j in range(n):
            x[r, j] = _sigmoid32_scalar(x[r, j] + bias[j])


@_compiled()
def _scale_rows_kernel(p, weights):
    m, n = p.shape
    for r in range(m):
        w = weights[r]
        for j in range(n):
            p[r, j] = w * p[r, j]


# The sums may be reordered (they need not match the twin's bits: the tests compare
# the pseudo-likelihood to rounding), so that they vectorise.
@_compiled(fastmath={"reassoc", "contract", "nsz"}, error_model="numpy")
def _flip_log_sigma_kernel(v, pre, key, W, b, cols):
    m, n = pre.shape
    n_units = np.uint64(W.shape[0])
    total = 0.0
    for r in range(m):
        # rbm._random._units_from_key: Lemire's multiply-shift of z's top 32 bits
        col = ((_splitmix64_at(key, np.uint64(r)) >> np.uint64(32)) * n_units) >> np.uint64(32)
        cols[r] = col
        d = np.float32(1.0) - np.float32(2.0) * v[r, col]
        diff = np.float32(0.0)
        for j in range(n):
            x = pre[r, j]
            diff += _softplus32_scalar(x) - _softplus32_scalar(x + d * W[col, j])
        delta = np.float64(diff) - np.float64(d * b[col])  # F(v~) - F(v)
        # log sigma(delta) = -softplus(-delta), one scalar per row: libm is fine here
        total -= max(-delta, 0.0) + np.log1p(np.exp(-abs(delta)))
    return total


# AIS (rbm.ais): one kernel per half of a Gibbs step. The row sums may be reordered, so
# that they vectorise; the draws are exact (the twin makes the same).
_INV_FACT = tuple(1.0 / math.factorial(n) for n in range(13))
_AIS_CHUNK = 256  # hidden units per product of ratios q, each in [1/2, 1]
#: |delta| up to which expm1(-delta) is its Taylor series to delta^12, within
#: 0.5^13 / 13! < 2e-14 (relative: 5e-14 of |expm1|); see :func:`anneal`.
AIS_SERIES_MAX = 0.5


@_inlined
def _expm1_series(y):
    """expm1(y) = y + y^2/2! + ... + y^12/12! (Horner), for |y| <= AIS_SERIES_MAX."""
    t = _INV_FACT[12]
    t = t * y + _INV_FACT[11]
    t = t * y + _INV_FACT[10]
    t = t * y + _INV_FACT[9]
    t = t * y + _INV_FACT[8]
    t = t * y + _INV_FACT[7]
    t = t * y + _INV_FACT[6]
    t = t * y + _INV_FACT[5]
    t = t * y + _INV_FACT[4]
    t = t * y + _INV_FACT[3]
    t = t * y + _INV_FACT[2]
    t = t * y + 1.0
    return t * y


@_compiled(fastmath={"reassoc", "contract", "nsz"}, error_model="numpy")
def _ais_hidden_weights_kernel(a, c, beta_prev, beta, log_w, series):
    m, n = a.shape
    d_beta = beta - beta_prev
    lo, d_abs = min(beta, beta_prev), abs(d_beta)
    sign = 1.0 if d_beta >= 0 else -1.0
    for r in range(m):
        lin = 0.0
        log_q = 0.0
        for j0 in range(0, n, _AIS_CHUNK):
            prod = 1.0
            if series:
                for j in range(j0, min(j0 + _AIS_CHUNK, n)):
                    x = np.float64(a[r, j]) + c[j]
                    ax = abs(x)
                    lin += max(x, 0.0)
                    s = np.float64(_sigmoid32_scalar(np.float32(-lo * ax)))
                    prod *= 1.0 + s * _expm1_series(-d_abs * ax)
            else:
                for j in range(j0, min(j0 + _AIS_CHUNK, n)):
                    x = np.float64(a[r, j]) + c[j]
                    ax = abs(x)
                    lin += max(x, 0.0)
                    s = np.float64(_sigmoid32_scalar(np.float32(-lo * ax)))
                    prod *= 1.0 + s * math.expm1(-d_abs * ax)
            log_q += np.log(prod)
        log_w[r] += d_beta * lin + sign * log_q


# The draws: no fastmath, so that every probability rounds as in the twin.
@_compiled(error_model="numpy")
def _ais_sample_hidden_kernel(a, c, beta, key, h):
    m, n = a.shape
    for r in range(m):
        base = np.uint64(r * n)
        for j in range(n):
            p = _sigmoid32_scalar(np.float32(beta * (np.float64(a[r, j]) + c[j])))
            h[r, j] = 1.0 if _below(key, base + np.uint64(j), p, True) else 0.0


@_compiled(error_model="numpy")
def _ais_visible_kernel(pv, beta, bias, key, v):
    m, n = pv.shape
    for r in range(m):
        base = np.uint64(r * n)
        for i in range(n):
            p = _sigmoid32_scalar(np.float32(beta * np.float64(pv[r, i]) + bias[i]))
            v[r, i] = 1.0 if _below(key, base + np.uint64(i), p, True) else 0.0


# v . (b - b_A) of each chain, for the next step's visible term (a separate pass:
# summing inside the loop above, without fastmath, made it ten times slower)
@_compiled(fastmath={"reassoc", "contract", "nsz"})
def _ais_row_dot_kernel(v, db, out):
    m, n = v.shape
    for r in range(m):
        s = 0.0
        for i in range(n):
            s += v[r, i] * db[i]
        out[r] = s


# ----------------------------------------------------------------------------- numpy twins


def _sigmoid32_numpy(x):
    a = np.minimum(np.abs(x), _MAX_ABS)
    k = (a * _LOG2E + _HALF).astype(np.int32)
    n = k.astype(np.float32)
    q = (n * _LN2_HI - a) + n * _LN2_LO
    y = ((((_EXP_P0 * q + _EXP_P1) * q + _EXP_P2) * q + _EXP_P3) * q + _EXP_P4) * q + _EXP_P5
    y = (y * (q * q) + q) + _ONE
    e = y * ((np.int32(127) - k) << np.int32(23)).view(np.float32)
    return np.where(x >= _ZERO, _ONE, e) / (_ONE + e)


def _sample_numpy(p, key, out, ref, with_error, single, ref_copy, copy):
    if copy:
        np.copyto(ref_copy, ref)
    np.less(_uniforms(key, p.shape, p.dtype), p, out=out, casting="unsafe")
    if not with_error:
        return 0.0
    d = (p - ref).reshape(-1)
    return float(np.dot(d, d))


def _bias_sigmoid_numpy(x, bias, out):
    x += bias
    out[...] = _sigmoid32_numpy(x)


def _bias_sigmoid_inplace_numpy(x, bias):
    x[...] = _sigmoid32_numpy(x + bias)


def _scale_rows_numpy(p, weights):
    p *= weights[:, None]


def _flip_log_sigma_numpy(v, pre, key, W, b, cols):
    m = len(v)
    cols[:] = _units_from_key(key, W.shape[0], m)
    d = 1 - 2 * v[np.arange(m), cols]
    flipped = pre + d[:, None] * W[cols]
    kept_sp = np.logaddexp(0, pre).sum(axis=1, dtype=np.float64)
    delta = kept_sp - np.logaddexp(0, flipped).sum(axis=1, dtype=np.float64) - d * b[cols]
    return -float(np.logaddexp(0, -delta).sum())  # log sigma(x) = -softplus(-x)


def _ais_hidden_weights_numpy(a, c, beta_prev, beta, log_w, series):
    d_beta = beta - beta_prev
    x = a.astype(np.float64) + c
    ax = np.abs(x)
    s = _sigmoid32_numpy((-min(beta, beta_prev) * ax).astype(np.float32)).astype(np.float64)
    log_q = np.log1p(s * np.expm1(-abs(d_beta) * ax)).sum(axis=1)
    log_w += d_beta * np.maximum(x, 0.0).sum(axis=1) + np.sign(d_beta) * log_q


def _ais_sample_hidden_numpy(a, c, beta, key, h):
    p = _sigmoid32_numpy((beta * (a.astype(np.float64) + c)).astype(np.float32))
    np.less(_uniforms(key, p.shape, np.float32), p, out=h, casting="unsafe")


def _ais_visible_numpy(pv, beta, bias, key, v):
    p = _sigmoid32_numpy((beta * pv.astype(np.float64) + bias).astype(np.float32))
    np.less(_uniforms(key, p.shape, np.float32), p, out=v, casting="unsafe")


def _ais_row_dot_numpy(v, db, out):
    out[:] = v.astype(np.float64) @ db


# ----------------------------------------------------------------------------- dispatch

_NUMPY_TWINS = {
    "sample": _sample_numpy,
    "bias_sigmoid": _bias_sigmoid_numpy,
    "bias_sigmoid_inplace": _bias_sigmoid_inplace_numpy,
    "scale_rows": _scale_rows_numpy,
    "flip_log_sigma": _flip_log_sigma_numpy,
    "ais_hidden_weights": _ais_hidden_weights_numpy,
    "ais_sample_hidden": _ais_sample_hidden_numpy,
    "ais_visible": _ais_visible_numpy,
    "ais_row_dot": _ais_row_dot_numpy,
}
_COMPILED = {
    "sample": _sample_kernel,
    "bias_sigmoid": _bias_sigmoid_kernel,
    "bias_sigmoid_inplace": _bias_sigmoid_inplace_kernel,
    "scale_rows": _scale_rows_kernel,
    "flip_log_sigma": _flip_log_sigma_kernel,
    "ais_hidden_weights": _ais_hidden_weights_kernel,
    "ais_sample_hidden": _ais_sample_hidden_kernel,
    "ais_visible": _ais_visible_kernel,
    "ais_row_dot": _ais_row_dot_kernel,
}
#: The kernels the public functions above call: compiled, or the twins without numba.
_active = dict(_COMPILED if HAVE_NUMBA else _NUMPY_TWINS)


@contextlib.contextmanager
def numpy_twins():
    """Inside the block, the numpy twins run instead of the compiled kernels.

    For the tests (the two must agree) and the benchmark's ablation (what
    numba is worth). Not thread-safe: it changes the table of kernels that
    every call reads (``_active``).
    """
    saved = dict(_active)
    _active.update(_NUMPY_TWINS)
    try:
        yield
    finally:
        _active.update(saved)


# ----------------------------------------------------------------------------- the engine


#: The environment variable that sets how many BLAS threads training uses.
THREADS_ENV = "RBM_THREADS"


def training_threads():
    """How many BLAS threads :class:`rbm.RBM` trains with: ``$RBM_THREADS``, else 1.

    One thread is the default because it was the fastest in every measurement
    on the 2-core development machine (chapter 15): a mini-batch's products are
    small (64 x 784 x 64 is 3 MFLOP), the work between them runs on one core,
    and on a busy machine a second thread that waits for a core made an epoch
    many times slower. On an idle machine with more cores, larger models
    (hundreds of hidden units, batches of hundreds) can gain from more:
    ``RBM_THREADS=4 python train.py``, or ``os.environ["RBM_THREADS"] = "4"``
    before ``fit`` (it is read at every epoch). A value that is not an
    integer >= 1 raises ``ValueError``. Threads do not change the results.
    """
    value = os.environ.get(THREADS_ENV, "").strip()
    if not value:
        return 1
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise ValueError(f"{THREADS_ENV} must be an integer >= 1, got {value!r}")
    return n


def blas_threads(n):
    """Run BLAS on ``n`` threads inside the block (when threadpoolctl is installed)."""
    if threadpool_limits is None:  # pragma: no cover
        return contextlib.nullcontext()
    return threadpool_limits(n, user_api="blas")


def single_threaded_blas():
    """Run BLAS on one thread inside the block: :func:`blas_threads` (1).

    For the many small products outside training (transform, scoring).
    """
    return blas_threads(1)


@dataclasses.dataclass
class Model:
    """What one update changes in place: the parameters, the momentum's velocity
    (None without momentum) and the persistent chains (None for CD-k)."""

    W: np.ndarray
    b: np.ndarray
    c: np.ndarray
    velocity: tuple | None = None
    chain: np.ndarray | None = None


@dataclasses.dataclass(frozen=True)
class Update:
    """The hyper-parameters of one update, as in :func:`rbm.training.train_epoch`."""

    k: int = 1
    learning_rate: float = 0.1
    momentum: float = 0.0
    weight_decay: float = 0.0


class _Buffers:
    """Work arrays for batches of at most ``max_batch`` rows and ``n_chains`` negative rows."""

    def __init__(self, n_visible, n_hidden, max_batch, n_chains, dtype):
        rows = max_batch + n_chains
        n = max(max_batch, n_chains)
        self.V = np.zeros((rows, n_visible), dtype)  # [v ; v_neg]
        # P(h|v), then [lr P(h|v)/m ; -lr P(h|v_neg)/n]
        self.PH = np.zeros((rows, n_hidden), dtype)
        self.pre = np.zeros((max_batch, n_hidden), dtype)  # v W + c of the data
        self.h = np.zeros((n, n_hidden), dtype)  # sampled hidden states
        self.t = np.zeros((n, n_visible), dtype)  # h W^T, then work space
        self.ph_chain = np.zeros((n_chains, n_hidden), dtype)
        self.ones = np.ones(rows, dtype)
        self.weights = np.zeros(rows, dtype)
        self._weights_for = None
        self.dW = np.zeros((n_visible, n_hidden), dtype)
        self.db = np.zeros(n_visible, dtype)
        self.dc = np.zeros(n_hidden, dtype)
        self.cols = np.zeros(max_batch, np.intp)  # the unit each row flips

    def step_weights(self, m, n_neg, learning_rate):
        """[lr/m (m times) ; -lr/n_neg (n_neg times)]: each row's weight in the step."""
        if self._weights_for != (m, n_neg, learning_rate):
            self.weights[:m] = learning_rate / m
            self.weights[m : m + n_neg] = -learning_rate / n_neg
            self._weights_for = (m, n_neg, learning_rate)
        return self.weights[: m + n_neg]


def _conditional(x, weights, bias, out):
    """out = sigma(x weights + bias): ``_conditional(v, W, c, out)`` is P(h | v).

    The sigmoid is :func:`bias_sigmoid_`'s, in the pass that adds the bias.
    """
    np.matmul(x, weights, out=out)
    return bias_sigmoid_(out, bias)


def _negative_phase(ph_start, model, k, buf, v_out, ph_out, rng, data=None, data_copy=None):
    """k Gibbs steps from the hidden side: ``ph_start`` = P(h | v) of the chain's start.

    Writes the last sampled visible state into ``v_out`` and P(h | v_out) into
    ``ph_out``. Draws, for each step, a key for h then a key for v, as
    :func:`rbm.gibbs` does. With ``data`` (the data the chain started from,
    CD-k), the first step is a reconstruction: returns its squared error and
    copies ``data`` into ``data_copy`` (:func:`sample_visible_`); else
    returns 0.0.
    """
    W, b, c = model.W, model.b, model.c
    n = len(ph_start)
    h, t = buf.h[:n], buf.t[:n]
    ph = ph_start
    sq_err = 0.0
    for step in range(k):
        sample_(ph, _draw_key(rng), h)
        np.matmul(h, W.T, out=t)  # P(v | h) = sigma(t + b) is finished where it is drawn
        if step == 0 and data is not None:
            sq_err = sample_visible_(t, b, _draw_key(rng), v_out, data, data_copy)
        else:
            sample_visible_(t, b, _draw_key(rng), v_out)
        ph = _conditional(v_out, W, c, ph_out)
    return sq_err


def _train_batch(v, model, update, buf, rng):
    """One CD-k (``model.chain`` None) or PCD-k update on the batch ``v``, in place.

    Returns (sum over rows of log sigma(F(v~) - F(v)), sum of squared
    reconstruction errors), both for the parameters *before* the update.
    """
    W, b, c, chain = model.W, model.b, model.c, model.chain
    m = len(v)
    n_neg = m if chain is None else len(chain)
    V = buf.V[: m + n_neg]
    PH = buf.PH[: m + n_neg]
    v_pos, v_neg = V[:m], V[m:]
    ph_pos, ph_neg = PH[:m], PH[m:]
    pre = buf.pre[:m]

    # positive phase: pre = v W + c is kept for the pseudo-likelihood
    np.matmul(v, W, out=pre)
    bias_sigmoid_(pre, c, ph_pos)

    # negative phase, and the reconstruction error of P(v | h), h ~ P(h | v) of the data.
    # CD-k: the chain's first step is that reconstruction, and the pass that
    # reads v for it also copies v into the stacked V of the gradient
    if chain is None:
        sq_err = _negative_phase(
            ph_pos, model, update.k, buf, v_neg, ph_neg, rng, data=v, data_copy=v_pos
        )
    else:
        np.copyto(v_pos, v)
        ph_chain = _conditional(chain, W, c, buf.ph_chain[:n_neg])
        _negative_phase(ph_chain, model, update.k, buf, v_neg, ph_neg, rng)
        np.copyto(chain, v_neg)
        h = buf.h[:m]
        sample_(ph_pos, _draw_key(rng), h)
        recon = _conditional(h, W.T, b, buf.t[:m])  # P(v | h)
        recon -= v_pos
        flat = recon.reshape(-1)
        sq_err = float(np.dot(flat, flat))

    # the pseudo-likelihood, with the parameters before the update (this reuses pre)
    log_sigma = flip_log_sigma(v, pre, _draw_key(rng), W, b, buf.cols)

    # step = learning_rate * gradient, stacked so that dW is one product and
    # db, dc are two matrix-vector products; the learning rate rides on P(h|v)
    lr = update.learning_rate
    weights = buf.step_weights(m, n_neg, lr)  # [lr/m ... ; -lr/n ...]
    scale_rows_(PH, weights)  # PH = weights * P(h | v)
    np.matmul(V.T, PH, out=buf.dW)
    np.matmul(weights, V, out=buf.db)
    np.matmul(buf.ones[: m + n_neg], PH, out=buf.dc)
    if update.weight_decay:
        buf.dW -= (lr * update.weight_decay) * W

    # update: velocity = momentum * velocity + step; params += velocity (or += step)
    if model.velocity is None:
        W += buf.dW
        b += buf.db
        c += buf.dc
    else:
        steps = (buf.dW, buf.db, buf.dc)
        for param, vel, step in zip((W, b, c), model.velocity, steps, strict=True):
            vel *= update.momentum
            vel += step
            param += vel
    return log_sigma, sq_err


def train_epoch(X, model, update, *, batch_size, batch_split, shuffle, rng):
    """One pass over ``X``, updating ``model``'s arrays in place.

    What :func:`rbm.training.train_epoch` computes with ``monitor=True``, for
    checked arrays of one float dtype. A scipy.sparse ``X`` (CSR) is made dense
    one mini-batch at a time: the same batches, draws and updates as on
    ``X.toarray()``, without a dense copy of the data set.

    Parameters
    ----------
    X : ndarray or scipy.sparse matrix, shape (n_samples, n_visible)
    model : Model
    update : Update
    batch_size : int
    batch_split : {"fixed", "array_split"}
    shuffle : bool
    rng : numpy.random.Generator

    Returns
    -------
    stats : dict
        As :func:`rbm.training.train_epoch`'s: "pseudo_likelihood",
        "pseudo_likelihood_article_scale", "reconstruction_error", "time",
        "diverged". A diverged epoch stops at that batch and leaves the
        parameters as they were then; the caller restores its copy.
    """
    start = time.perf_counter()
    sparse = sp.issparse(X)
    if not sparse:
        X = np.ascontiguousarray(X)  # rows as contiguous slices (no copy when they already are)
    n_samples, n_visible = X.shape
    slices = batch_slices(n_samples, batch_size, batch_split)
    max_batch = max(b_ - a for a, b_ in slices)
    n_chains = max_batch if model.chain is None else len(model.chain)
    buf = _Buffers(n_visible, model.W.shape[1], max_batch, n_chains, model.W.dtype)
    order = rng.permutation(n_samples) if shuffle else None
    pl, pl_article, sq_err, n_seen, n_batches = 0.0, 0.0, 0.0, 0, 0
    diverged = False
    # a diverging run is detected below, not by floating-point warnings
    with np.errstate(all="ignore"), blas_threads(training_threads()):
        for a, z in slices:
            v = X[a:z] if order is None else X[order[a:z]]
            if sparse:
                v = v.toarray()
            log_sigma, err = _train_batch(v, model, update, buf, rng)
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
            diverged = (
                not params_ok(model.W, model.b, model.c)
                or pl / n_batches < MIN_PL_PER_UNIT * n_visible
            )
    return {
        "pseudo_likelihood": pl / n_batches,
        "pseudo_likelihood_article_scale": pl_article / n_batches,
        "reconstruction_error": sq_err / (n_seen * n_visible),
        "time": time.perf_counter() - start,
        "diverged": diverged,
    }


# ----------------------------------------------------------------------------- AIS


def anneal(v, betas, W, b, c, base, rng):
    """The fast engine of :func:`rbm.ais._anneal`: the same chains and log weights.

    The same path, transitions and weights as ``rbm.ais._anneal`` (the loop the
    book shows), in the dtype of ``W`` (float32 for speed), with three changes
    that leave the estimator's distribution as it is:

    - every Bernoulli draw compares a counter-based uniform (:mod:`rbm._random`,
      one key per half step) with a probability rounded to float32, instead of
      a uniform of ``rng.random``; the draws differ, their law does not (up to
      the float32 rounding of the probabilities, about 6e-8);
    - the hidden term of the weight, sum_j softplus(beta x_j) - softplus(beta' x_j)
      with x = v W + c, is summed in float64 without a logarithm per unit:

          softplus(beta x) - softplus(beta' x)
              = (beta - beta') max(x, 0) +/- log q,
          q = 1 + sigma(-min(beta, beta') |x|) expm1(-|beta - beta'| |x|),

      with + when beta >= beta' (q = (1 + e^(-beta|x|)) / (1 + e^(-beta'|x|)))
      and - otherwise (q the inverse ratio); q lies in [1/2, 1], and the
      logarithms of 256 units at a time are one logarithm of the product of
      their q (>= 2^-256, no underflow). The sigmoid is float32
      (:func:`sigmoid32`): it multiplies the small expm1, so its rounding
      changes each term by about 1e-7 of the term itself, never by 1e-7 in
      absolute value. expm1 is its Taylor series to delta^12 when every
      |delta| <= AIS_SERIES_MAX (bounded with |x_j| <= sum_i |W_ij| + |c_j|),
      which vectorises, and ``math.expm1`` otherwise (coarse schedules);
    - the visible term (beta - beta') v . (b - b_A) is computed once per step
      (its dot product serves the next step's weight).

    Parameters
    ----------
    v : ndarray, shape (n_chains, n_visible)
        Binary starting states.
    betas : ndarray of float64, shape (K + 1,)
        The schedule, in the direction of the run (increasing or decreasing).
    W : ndarray of float32 or float64, shape (n_visible, n_hidden)
        The matrix products run in its dtype.
    b, c, base : ndarray of float64
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of float64, shape (n_chains,)
        The log weights.
    """
    dtype = W.dtype
    n_chains, n_visible = v.shape
    W = np.ascontiguousarray(W)
    W_t = np.ascontiguousarray(W.T)
    db = b - base
    v = np.array(v, dtype=dtype, order="C")  # a copy: the chains are overwritten
    a = np.empty((n_chains, W.shape[1]), dtype)
    h = np.empty_like(a)
    pv = np.empty((n_chains, n_visible), dtype)
    log_w = np.zeros(n_chains)
    vdb = np.empty(n_chains)
    _active["ais_row_dot"](v, db, vdb)
    weights = _active["ais_hidden_weights"]
    sample_hidden, visible = _active["ais_sample_hidden"], _active["ais_visible"]
    row_dot = _active["ais_row_dot"]
    # |x_j| = |v W_.j + c_j| <= sum_i |W_ij| + |c_j| for binary v: the largest |delta|
    x_bound = float((np.abs(W).sum(axis=0, dtype=np.float64) + np.abs(c)).max())
    n_steps = len(betas) - 1
    for k in range(1, n_steps + 1):
        beta_prev, beta = float(betas[k - 1]), float(betas[k])
        np.matmul(v, W, out=a)
        log_w += (beta - beta_prev) * vdb
        weights(a, c, beta_prev, beta, log_w, abs(beta - beta_prev) * x_bound <= AIS_SERIES_MAX)
        if k == n_steps:
            break
        sample_hidden(a, c, beta, _draw_key(rng), h)
        np.matmul(h, W_t, out=pv)
        visible(pv, beta, base + beta * db, _draw_key(rng), v)
        row_dot(v, db, vdb)
    return log_w
