"""The fast engine (rbm/_fast.py) computes what the plain loop (rbm/training.py) computes.

- the fast engine and :func:`rbm.training.train_epoch` make the same draws,
  the same updates and the same statistics, epoch after epoch, for CD-k and
  PCD-k, with momentum and weight decay, in float32 and float64;

- one batch of the engine makes the update of ``rbm.cd_k`` / ``rbm.pcd_k``
  (with weight decay and momentum) given the same random numbers;
- float32 against float64: the same random numbers give the same update, to
  float32 rounding;
- the pseudo-likelihood trick (one row of ``W`` instead of a second matrix
  product) against two full free energies;
- the article's algorithm (``benchmarks/baseline.py``: naive sigmoid, float64,
  floor(p + u) samples) against the fast kernel on one batch.

The kernels draw one key per sampling step and take their uniforms from it
(:func:`rbm._random._uniforms`): 24 bits of each 64-bit output in float32,
53 in float64, so the two dtypes make the same draws unless a probability
falls within 6e-8 of its uniform (fixed seeds here). The baseline gets the
same uniforms through :class:`BaselineRNG`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rbm
from rbm import _fast
from rbm._random import _draw_key, _uniforms
from rbm.core import _free_energy
from rbm.evaluation import _flip_delta_free_energy
from rbm.training import batch_slices, init_chains, train_epoch

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import baseline  # noqa: E402

N_VISIBLE, N_HIDDEN, M = 30, 7, 16


class BaselineRNG:
    """The uniforms of the kernel's keys, handed out the way the baseline asks for them.

    The kernel draws one key per sampling step from a generator and computes its
    uniforms from the key (:func:`rbm._random._uniforms`). The baseline asks
    for ``uniform(size=...)`` instead: this adapter draws the next key from its
    own generator (seeded alike) and returns ``1 - u`` of that key's float64
    uniforms, so that the baseline's floor(p + 1 - u) is 1 exactly when the
    kernel's u < p (up to u = p, an event of probability zero). ``integers``
    (the pseudo-likelihood's flipped units) comes from the same generator, in
    the same order as in the kernel.
    """

    def __init__(self, seed):
        self._gen = np.random.default_rng(seed)

    def uniform(self, low=0.0, high=1.0, size=None):
        u = _uniforms(_draw_key(self._gen), size, np.float64)
        return low + (high - low) * (1.0 - u)

    def integers(self, low, high=None, size=None):
        return self._gen.integers(low, high, size=size)


def _model(seed, dtype=np.float64, scale=0.3):
    rng = np.random.default_rng(seed)
    W = rng.normal(0, scale, (N_VISIBLE, N_HIDDEN)).astype(dtype)
    b = rng.normal(0, scale, N_VISIBLE).astype(dtype)
    c = rng.normal(0, scale, N_HIDDEN).astype(dtype)
    v = (rng.random((M, N_VISIBLE)) < 0.4).astype(dtype)
    return v, W, b, c


def _epoch(X, W, b, c, rng, k=1, learning_rate=0.1, batch_size=M):
    """One plain CD-k epoch of the fast kernel, in file order."""
    return _fast.train_epoch(
        X,
        _fast.Model(W, b, c),
        _fast.Update(k=k, learning_rate=learning_rate),
        batch_size=batch_size,
        batch_split="array_split",
        shuffle=False,
        rng=rng,
    )


@pytest.mark.parametrize("k", [1, 3])
def test_float32_update_matches_float64(k):
    v, W, b, c = _model(0)
    params = {}
    stats = {}
    for dtype in (np.float32, np.float64):
        p = [x.astype(dtype) for x in (W, b, c)]
        stats[dtype] = _epoch(
            v.astype(dtype), *p, np.random.default_rng(7), k=k, learning_rate=1.0
        )
        params[dtype] = p
    for p32, p64, p0 in zip(params[np.float32], params[np.float64], (W, b, c), strict=True):
        # The update is a mean of M products of numbers of order 1 after a few
        # float32 roundings each (eps 1.2e-7): 1e-5 leaves a wide margin while a
        # single flipped sample would move it by 1/M = 0.06.
        np.testing.assert_allclose(p32 - p0, p64 - p0, atol=1e-5)
    # same for the pseudo-likelihood, which sums N_VISIBLE-scaled log-sigmoids
    assert stats[np.float32]["pseudo_likelihood"] == pytest.approx(
        stats[np.float64]["pseudo_likelihood"], rel=1e-5
    )


def test_float32_mnist_sized_update_matches_float64():
    """At MNIST's sizes (784 x 64, batch 64), float32 loses nothing visible."""
    rng = np.random.default_rng(3)
    lim = np.sqrt(6 / (784 + 64))
    W = rng.uniform(-lim, lim, (784, 64))
    b, c = np.zeros(784), np.zeros(64)
    v = rng.random((64, 784)) * (rng.random((64, 784)) < 0.2)  # grey pixels, mostly 0
    out = {}
    for dtype in (np.float32, np.float64):
        p = [x.astype(dtype) for x in (W, b, c)]
        _epoch(v.astype(dtype), *p, np.random.default_rng(11), learning_rate=1.0, batch_size=64)
        out[dtype] = [x.astype(np.float64) for x in p]
    for p32, p64, p0 in zip(out[np.float32], out[np.float64], (W, b, c), strict=True):
        d64 = p64 - p0
        # pre-activations sum 784 terms: relative error ~ sqrt(784) eps32 ~ 3e-6 of
        # their size; the update itself is O(0.1-1), so 1e-4 absolute is generous
        # and still 150 times smaller than one flipped sample (1/64)
        np.testing.assert_allclose(p32 - p0, d64, atol=1e-4)


@settings(max_examples=60, deadline=None)
@given(
    data=st.data(),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_flip_trick_equals_two_free_energies(data, dtype):
    n_vis, n_hid, m = 12, 5, 6
    floats = st.floats(-3, 3, allow_nan=False, width=32)
    W = data.draw(hnp.arrays(dtype, (n_vis, n_hid), elements=floats))
    b = data.draw(hnp.arrays(dtype, n_vis, elements=floats))
    c = data.draw(hnp.arrays(dtype, n_hid, elements=floats))
    v = data.draw(hnp.arrays(dtype, (m, n_vis), elements=st.floats(0, 1, width=32)))
    cols = np.asarray(data.draw(st.lists(st.integers(0, n_vis - 1), min_size=m, max_size=m)))
    rows = np.arange(m)
    pre = v @ W + c
    delta = _flip_delta_free_energy(v, pre, rbm.softplus(pre).sum(axis=1), rows, cols, W, b)
    flipped = v.copy()
    flipped[rows, cols] = 1 - flipped[rows, cols]
    w64 = [x.astype(np.float64) for x in (W, b, c)]
    two_fe = _free_energy(flipped.astype(np.float64), *w64) - _free_energy(
        v.astype(np.float64), *w64
    )
    # each free energy sums n_hid softplus terms of size up to |pre| <= 12 * 3 + 3;
    # float32 rounds each to ~40 * 1.2e-7, so 5e-4 absolute covers 5 + 1 terms
    # with room; float64 agrees to 1e-10
    atol = 5e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(delta, two_fe, atol=atol)


def test_epoch_pseudo_likelihood_is_the_reference_estimator():
    """The kernel's PL equals rbm.pseudo_likelihood before the update, same unit flipped."""
    v, W, b, c = _model(5, np.float32)
    seed = 21
    stats = _epoch(v, W.copy(), b.copy(), c.copy(), np.random.default_rng(seed))
    rng = np.random.default_rng(seed)
    _draw_key(rng)  # the kernel's key for h ...
    _draw_key(rng)  # ... and for v come first
    reference = rbm.pseudo_likelihood(v, W, b, c, rng=rng)
    assert stats["pseudo_likelihood"] == pytest.approx(float(reference.mean()), rel=1e-5)
    # the article's scale: batch size instead of n_visible
    assert stats["pseudo_likelihood_article_scale"] == pytest.approx(
        float(reference.mean()) * M / N_VISIBLE, rel=1e-5
    )


def test_baseline_matches_fast_kernel_on_one_batch():
    """The article's algorithm and the fast kernel make the same W and b update.

    floor(p + u) is 1 exactly when 1 - u <= p, so the baseline fed 1 - u
    (:class:`BaselineRNG`) and the kernel fed u draw the same samples. The
    weights are small, so the naive sigmoid and softplus do not overflow. The
    hidden bias differs on purpose: the article updates it with sampled h, the
    kernel with P(h | v).
    """
    v, W, b, c = _model(9, np.float64, scale=0.2)
    lr = 0.5
    Wb, bb, cb = W.copy(), b[None, :].copy(), c[None, :].copy()
    counter = baseline.OverflowCounter()
    baseline.train_epoch(v, Wb, bb, cb, BaselineRNG(4), lr, M, 1, counter)
    assert counter.count == 0
    Wf, bf, cf = W.copy(), b.copy(), c.copy()
    _epoch(v, Wf, bf, cf, np.random.default_rng(4), learning_rate=lr)
    np.testing.assert_allclose(Wb, Wf, rtol=0, atol=1e-12)
    np.testing.assert_allclose(bb[0], bf, rtol=0, atol=1e-12)
    # sampled h: every per-example difference is -1, 0 or 1, so the batch mean is
    # a multiple of 1/M; the probabilities' mean is not
    dc_baseline = (cb[0] - c) / lr * M
    np.testing.assert_allclose(dc_baseline, np.round(dc_baseline), atol=1e-9)
    assert not np.allclose(cb[0], cf)


def test_baseline_counts_its_overflows():
    """Large pre-activations overflow the naive functions; the counter sees it, no warning."""
    v = np.ones((4, 3))
    W = np.full((3, 2), 400.0)  # v W = 1200 > 709: exp overflows in softplus
    counter = baseline.OverflowCounter()
    with np.errstate(over="call", call=counter):
        fe = baseline.free_energy(v, W, np.zeros((1, 3)), np.zeros((1, 2)))
    assert counter.count >= 1
    assert np.isinf(fe).all()  # what the article's code would have printed


def _data(seed, dtype, n=150, n_visible=N_VISIBLE):
    rng = np.random.default_rng(seed)
    X = (rng.random((n, n_visible)) < 0.3).astype(dtype)
    X[:20] *= dtype(0.6)  # grey values too
    return X


#: Options of the two loops, as train_epoch's keyword arguments.
LOOP_OPTIONS = [
    {},
    {"k": 3},
    {"persistent": True, "k": 2},
    {"momentum": 0.5, "weight_decay": 1e-3},
    {"persistent": True, "momentum": 0.9, "batch_split": "array_split", "shuffle": False},
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("options", LOOP_OPTIONS)
def test_fast_engine_reproduces_the_plain_loop_epoch_for_epoch(dtype, options):
    """Same generator state in: the same draws, so the same parameters and statistics out."""
    options = dict(options)
    persistent = options.pop("persistent", False)
    k = options.pop("k", 1)
    momentum = options.pop("momentum", 0.0)
    weight_decay = options.pop("weight_decay", 0.0)
    loop = {"batch_size": 32, "batch_split": "fixed", "shuffle": True} | options
    X = _data(1, dtype)
    _, W, b, c = _model(2, dtype)
    plain = [W.copy(), b.copy(), c.copy()]
    fast = _fast.Model(W.copy(), b.copy(), c.copy())
    if momentum:
        fast.velocity = tuple(np.zeros_like(p) for p in plain)
    velocity = tuple(np.zeros_like(p) for p in plain) if momentum else None
    chain = init_chains(X, 32, "data") if persistent else None
    fast.chain = None if chain is None else chain.copy()
    update = _fast.Update(k=k, learning_rate=0.1, momentum=momentum, weight_decay=weight_decay)
    rng_plain, rng_fast = np.random.default_rng(5), np.random.default_rng(5)
    for _ in range(3):
        want = train_epoch(
            X,
            *plain,
            k=k,
            learning_rate=0.1,
            momentum=momentum,
            weight_decay=weight_decay,
            velocity=velocity,
            chain=chain,
            rng=rng_plain,
            **loop,
        )
        got = _fast.train_epoch(X, fast, update, rng=rng_fast, **loop)
        # the same draws: both generators are in the same state after each epoch
        assert rng_plain.bit_generator.state == rng_fast.bit_generator.state
        # The parameters move by sums of a few hundred terms of order 0.1 over
        # three epochs; float32 rounds each (eps 1.2e-7) differently in the two
        # (tanh against expit, stacked products): 2e-5 absolute is far below
        # one flipped sample, which moves an entry by 0.1 / 32 = 3e-3. float64: 1e-12.
        atol = 2e-5 if dtype == np.float32 else 1e-12
        for p, q in zip(plain, (fast.W, fast.b, fast.c), strict=True):
            np.testing.assert_allclose(q, p, rtol=0, atol=atol)
        if persistent:
            np.testing.assert_array_equal(fast.chain, chain)
        for key in ("pseudo_likelihood", "pseudo_likelihood_article_scale"):
            # sums of log-sigmoids of free-energy differences of order 1-10
            assert got[key] == pytest.approx(want[key], rel=1e-5 if dtype == np.float32 else 1e-10)
        assert got["reconstruction_error"] == pytest.approx(
            want["reconstruction_error"], rel=1e-5 if dtype == np.float32 else 1e-10
        )
        assert got["diverged"] is want["diverged"] is False


def test_rbm_fit_is_the_plain_loop_through_the_fast_engine():
    """rbm.RBM.fit: init_params, init_chains and train_epoch's update, in the fast engine."""
    X = _data(3, np.float64, n=200)
    model = rbm.RBM(
        n_hidden=N_HIDDEN,
        n_epochs=2,
        batch_size=25,
        persistent=True,
        momentum=0.5,
        dtype="float64",
        random_state=8,
        visible_bias_init="marginals",
    ).fit(X)
    W, b, c, history = rbm.training.train(
        X,
        N_HIDDEN,
        n_epochs=2,
        batch_size=25,
        persistent=True,
        momentum=0.5,
        visible_bias_init="marginals",
        monitor=True,
        rng=8,
    )
    for got, want in zip((model.W_, model.b_, model.c_), (W, b, c), strict=True):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)  # float64 rounding only
    np.testing.assert_allclose(
        model.history_["pseudo_likelihood"], history["pseudo_likelihood"], rtol=1e-10
    )


def _random_problem(seed, n_visible=20, n_hidden=7, m=16, dtype=np.float32, binary=True):
    rng = np.random.default_rng(seed)
    v = rng.random((m, n_visible))
    if binary:
        v = (v < 0.4).astype(float)
    W = rng.normal(0, 0.5, (n_visible, n_hidden))
    b = rng.normal(0, 0.5, n_visible)
    c = rng.normal(0, 0.5, n_hidden)
    return (x.astype(dtype) for x in (v, W, b, c))


def _kernel_step(v, W, b, c, k, seed, chain=None, lr=1.0, weight_decay=0.0):
    W, b, c = W.copy(), b.copy(), c.copy()
    chain = None if chain is None else chain.copy()
    n_chains = len(v) if chain is None else len(chain)
    buf = _fast._Buffers(W.shape[0], W.shape[1], len(v), n_chains, W.dtype)
    rng = np.random.default_rng(seed)
    model = _fast.Model(W, b, c, chain=chain)
    update = _fast.Update(k=k, learning_rate=lr, weight_decay=weight_decay)
    log_sigma, sq_err = _fast._train_batch(v, model, update, buf, rng)
    return W, b, c, chain, log_sigma, sq_err, rng


# ----------------------------------------------------------------------------- one batch


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("binary", [True, False])
def test_kernel_cd_update_equals_cd_k(dtype, k, binary):
    v, W, b, c = _random_problem(1, dtype=dtype, binary=binary)
    seed = 7
    dW, db, dc = rbm.cd_k(v, W, b, c, k=k, rng=np.random.default_rng(seed))
    W1, b1, c1, *_ = _kernel_step(v, W, b, c, k, seed, lr=1.0)
    # float32: sums of 16 products of numbers of order 1, rounded differently: 1e-5 is
    # ~100 ulps; the two sigmoids (tanh form vs expit) agree to 6e-8, so with the same
    # uniforms the same Bernoulli draws come out (a draw within 1e-7 of its
    # probability is a 1-in-10^5 event here, and the seed is fixed).
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(W1 - W, dW, atol=tol)
    np.testing.assert_allclose(b1 - b, db, atol=tol)
    np.testing.assert_allclose(c1 - c, dc, atol=tol)
    assert W1.dtype == dtype


def test_kernel_pseudo_likelihood_equals_rbm_pseudo_likelihood():
    v, W, b, c = _random_problem(2)
    seed = 3
    rng = np.random.default_rng(seed)
    rbm.cd_k(v, W, b, c, k=1, rng=rng)  # the chain's draws come first, as in the kernel
    want = rbm.pseudo_likelihood(v, W, b, c, rng=rng).mean()
    *_, log_sigma, _, _ = _kernel_step(v, W, b, c, 1, seed)
    got = W.shape[0] * log_sigma / len(v)
    np.testing.assert_allclose(got, want, rtol=1e-5)  # float32 softplus sums of 7 terms


def test_kernel_pcd_update_equals_pcd_k_and_advances_the_chain():
    v, W, b, c = _random_problem(4)
    chain = (np.random.default_rng(5).random((10, W.shape[0])) < 0.5).astype(np.float32)
    seed = 11
    (dW, db, dc), new_chain = rbm.pcd_k(v, chain, W, b, c, k=2, rng=np.random.default_rng(seed))
    W1, b1, c1, chain1, *_ = _kernel_step(v, W, b, c, 2, seed, chain=chain)
    np.testing.assert_allclose(W1 - W, dW, atol=1e-5)  # same justification as for CD
    np.testing.assert_allclose(b1 - b, db, atol=1e-5)
    np.testing.assert_allclose(c1 - c, dc, atol=1e-5)
    np.testing.assert_array_equal(chain1, new_chain)


def test_kernel_weight_decay():
    v, W, b, c = _random_problem(6)
    dW, _, _ = rbm.cd_k(v, W, b, c, rng=np.random.default_rng(0))
    W1, *_ = _kernel_step(v, W, b, c, 1, 0, lr=0.5, weight_decay=0.1)
    np.testing.assert_allclose(W1, W + 0.5 * (dW - 0.1 * W), atol=1e-5)


def test_kernel_momentum_over_two_batches():
    v, W, b, c = _random_problem(8)
    lr, mu = 0.3, 0.5
    # reference: cd_k, then the kernel's pseudo-likelihood draw, twice
    rng = np.random.default_rng(9)
    g1 = rbm.cd_k(v, W, b, c, rng=rng)
    _draw_key(rng)  # the key of the flipped units
    vel = [lr * g for g in g1]
    P1 = [p + d for p, d in zip((W, b, c), vel, strict=True)]
    g2 = rbm.cd_k(v, *P1, rng=rng)
    vel = [mu * d + lr * g for d, g in zip(vel, g2, strict=True)]
    want = [p + d for p, d in zip(P1, vel, strict=True)]
    # kernel
    W2, b2, c2 = W.copy(), b.copy(), c.copy()
    velocity = tuple(np.zeros_like(p) for p in (W2, b2, c2))
    buf = _fast._Buffers(W.shape[0], W.shape[1], len(v), len(v), W.dtype)
    rng = np.random.default_rng(9)
    model = _fast.Model(W2, b2, c2, velocity=velocity)
    for _ in range(2):
        _fast._train_batch(v, model, _fast.Update(learning_rate=lr, momentum=mu), buf, rng)
    for got, exp in zip((W2, b2, c2), want, strict=True):
        np.testing.assert_allclose(got, exp, atol=1e-5)


def test_array_split_batches_match_numpy():
    for n, size in [(70_000, 64), (1797, 64), (10, 3), (5, 8)]:
        want = [(int(p[0]), int(p[-1]) + 1) for p in np.array_split(np.arange(n), -(-n // size))]
        assert batch_slices(n, size, "array_split") == want
    assert batch_slices(10, 4, "fixed") == [(0, 4), (4, 8), (8, 10)]
    assert len(batch_slices(70_000, 64, "array_split")) == 1094
