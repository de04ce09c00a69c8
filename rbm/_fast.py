"""The fast engine behind :class:`rbm.RBM` (package-private: no input checks).

:func:`train_epoch` runs one pass of CD-k or PCD-k over the mini-batches of
``X``, as :func:`rbm.training.train_epoch` does (the loop the book teaches),
and makes the same random draws and the same updates, up to float rounding;
``tests/unit/test_fast_path.py`` checks it epoch by epoch. It is fast because:

- everything stays in the parameters' dtype (float32 by default), including
  the uniform numbers behind every Bernoulli draw;
- every intermediate lives in a buffer allocated once per epoch, and every
  step writes into it (``np.matmul(..., out=)``, ``tanh(x, out=x)``);
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
generator spends about 2 ns on each. :func:`sample_from_tanh_` does it in one
pass: it finishes the sigmoid, draws each uniform inline from the
counter-based generator of :mod:`rbm._random` (SplitMix64: uniform ``i`` of a
call is a hash of the call's key and ``i``, a few integer instructions that
vectorise), and compares; :func:`sample_reconstruction_` also adds up the
reconstruction error and copies the data where the gradient wants them, on
the same pass. :func:`add_and_halve_` and
:func:`flip_log_sigma` fuse the small passes around the hidden sigmoid and the
pseudo-likelihood, which otherwise cost more in numpy's per-call overhead
than in arithmetic.

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
import time

import numpy as np

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
    "add_and_halve_",
    "flip_log_sigma",
    "numpy_twins",
    "sample_from_tanh_",
    "sample_reconstruction_",
    "scale_rows_",
    "single_threaded_blas",
    "train_epoch",
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


def sample_from_tanh_(t, key, out):
    """Bernoulli draws with p = (1 + t) / 2 into ``out``: 1 where u < p, else 0.

    ``t`` holds tanh(x / 2), so that p = sigma(x); it is left unchanged. The
    uniforms u are those of ``rbm._random._uniforms(key, t.shape, t.dtype)``,
    so this draws what ``rbm.sample_bernoulli`` draws from a generator whose
    next raw output is ``key``.

    Parameters
    ----------
    t, out : ndarray, shape (n, m), C-contiguous, same float dtype
    key : numpy.uint64
    """
    single = t.dtype == np.float32
    _active["sample_from_tanh"](t, key, out, t, False, single, out, False)


def sample_reconstruction_(t, key, out, data, data_copy):
    """:func:`sample_from_tanh_`, and on the same pass the reconstruction error and a copy.

    With ``t`` from P(v | h) and ``h`` drawn from P(h | v) of ``data``, p is the
    reconstruction of ``data``. The pass that draws from p reads ``data``
    anyway, so it also returns sum((p - data)^2) and copies ``data`` into
    ``data_copy`` (where the gradient's stacked products want it).

    Parameters
    ----------
    t, out, data, data_copy : ndarray, shape (n, m), C-contiguous, same float dtype
    key : numpy.uint64

    Returns
    -------
    float : the sum of squared errors.
    """
    single = t.dtype == np.float32
    return float(_active["sample_from_tanh"](t, key, out, data, True, single, data_copy, True))


def add_and_halve_(x, bias, half=None):
    """x += bias (broadcast over rows), then half = x / 2: the argument of tanh(x / 2).

    Without ``half``, x itself becomes (x + bias) / 2, in one pass (a separate
    kernel: with ``half`` the same array as x, numba could not vectorise).
    """
    if half is None:
        _active["halve_sum"](x, bias)
        return x
    _active["add_and_halve"](x, bias, half)
    return half


def scale_rows_(t, weights):
    """t = weights[:, None] * (1 + t) / 2, in one pass.

    It turns tanh(x / 2) into each row's weight times sigma(x).
    """
    _active["scale_rows"](t, weights)
    return t


def flip_log_sigma(v, pre, key, W, b, both, tail, cols):
    """Sum over rows r of log sigma(F(v~) - F(v)), v~ = v with one random unit flipped.

    The flipped units are ``rbm._random._units_from_key(key, ...)``, the
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
    _active["flip_arguments"](v, pre, key, W, both, tail, cols)
    np.exp(tail, out=tail)
    np.log1p(tail, out=tail)  # softplus(x) = max(x, 0) + log1p(exp(-|x|)), never overflows
    return float(_active["flip_finish"](v, cols, b, both, tail))


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
        # rbm._random._units_from_key: Lemire's multiply-shift of z's top 32 bits
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

_NUMPY_TWINS = {
    "sample_from_tanh": _sample_from_tanh_numpy,
    "add_and_halve": _add_and_halve_numpy,
    "halve_sum": _halve_sum_numpy,
    "scale_rows": _scale_rows_numpy,
    "flip_arguments": _flip_arguments_numpy,
    "flip_finish": _flip_finish_numpy,
}
_COMPILED = {
    "sample_from_tanh": _sample_from_tanh_kernel,
    "add_and_halve": _add_and_halve_kernel,
    "halve_sum": _halve_sum_kernel,
    "scale_rows": _scale_rows_kernel,
    "flip_arguments": _flip_arguments_kernel,
    "flip_finish": _flip_finish_kernel,
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


def single_threaded_blas():
    """Run BLAS on one thread inside the block (when threadpoolctl is installed).

    A mini-batch's products are small (64 x 784 x 64 is 3 MFLOP): a second BLAS
    thread saves little on an idle machine, and on a busy one its
    synchronisation made an epoch many times slower (measured: 20x on 2 shared
    cores). Limiting threads does not change the results.
    """
    if threadpool_limits is None:  # pragma: no cover
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


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


def _negative_phase(th_start, model, k, buf, v_out, th_out, rng, data=None, data_copy=None):
    """k Gibbs steps from the hidden side: ``th_start`` = tanh(P(h|v)'s pre-activation / 2).

    Writes the last sampled visible state into ``v_out`` and its tanh form into
    ``th_out``. Draws, for each step, a key for h then a key for v, as
    :func:`rbm.gibbs` does. With ``data`` (the data the chain started from,
    CD-k), the first step is a reconstruction: returns its squared error and
    copies ``data`` into ``data_copy`` (:func:`sample_reconstruction_`); else
    returns 0.0.
    """
    W, b, c = model.W, model.b, model.c
    n = len(th_start)
    h, t = buf.h[:n], buf.t[:n]
    th = th_start
    sq_err = 0.0
    for step in range(k):
        sample_from_tanh_(th, _draw_key(rng), h)
        _half_tanh(h, W.T, b, t)
        if step == 0 and data is not None:
            sq_err = sample_reconstruction_(t, _draw_key(rng), v_out, data, data_copy)
        else:
            sample_from_tanh_(t, _draw_key(rng), v_out)
        th = _half_tanh(v_out, W, c, th_out)
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
    th_pos, th_neg = PH[:m], PH[m:]
    pre = buf.pre[:m]

    # positive phase: pre = v W + c is kept for the pseudo-likelihood
    np.matmul(v, W, out=pre)
    np.tanh(add_and_halve_(pre, c, th_pos), out=th_pos)

    # negative phase, and the reconstruction error of P(v | h), h ~ P(h | v) of the data.
    # CD-k: the chain's first step is that reconstruction, and the pass that
    # reads v for it also copies v into the stacked V of the gradient
    if chain is None:
        sq_err = _negative_phase(
            th_pos, model, update.k, buf, v_neg, th_neg, rng, data=v, data_copy=v_pos
        )
    else:
        np.copyto(v_pos, v)
        th_chain = _half_tanh(chain, W, c, buf.th_chain[:n_neg])
        _negative_phase(th_chain, model, update.k, buf, v_neg, th_neg, rng)
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
    lr = update.learning_rate
    weights = buf.step_weights(m, n_neg, lr)  # [lr/m ... ; -lr/n ...]
    scale_rows_(PH, weights)  # PH = weights * (1 + tanh) / 2 = weights * P(h | v)
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
    checked arrays of one float dtype.

    Parameters
    ----------
    X : ndarray, shape (n_samples, n_visible)
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
    with np.errstate(all="ignore"), single_threaded_blas():
        for a, z in slices:
            v = X[a:z] if order is None else X[order[a:z]]
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
