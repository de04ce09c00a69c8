"""The counter-based random numbers and the compiled kernels (rbm/_fast.py).

- SplitMix64 is the published generator (its reference test vector), and the
  uniforms and unit indices built on it are uniform (chi-square) and
  uncorrelated between neighbours and between keys;
- a key is the generator's next raw output, the same number as
  ``rng.integers(0, 2**64, dtype=np.uint64)``;
- each numba kernel equals its numpy twin: the same draws exactly, the same
  sums to rounding; and whole training runs agree bit for bit, also in a
  process where numba cannot be imported.
"""

from __future__ import annotations

import copy
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

import rbm
from rbm import _fast
from rbm._random import _draw_key, _random_units, _splitmix64, _uniforms

#: Chi-square tests fail at this p-value: a false alarm once in a million runs.
P_FAIL = 1e-6


def test_splitmix64_matches_the_reference_test_vector():
    # the first outputs of Vigna's splitmix64.c seeded with 1234567
    want = [
        6457827717110365317,
        3203168211198807973,
        9817491932198370423,
        4593380528125082431,
        16408922859458223821,
    ]
    assert _splitmix64(np.uint64(1234567), 5).tolist() == want


def test_key_is_the_next_raw_output_of_the_generator():
    a, b = np.random.default_rng(5), np.random.default_rng(5)
    keys = [_draw_key(a) for _ in range(4)]
    assert keys == [b.integers(0, 2**64, dtype=np.uint64) for _ in range(4)]
    assert all(isinstance(k, np.uint64) for k in keys)


@pytest.mark.parametrize("dtype, bits", [(np.float32, 24), (np.float64, 53)])
def test_uniforms_keep_the_significands_bits(dtype, bits):
    u = _uniforms(np.uint64(99), (1000, 7), dtype)
    assert u.dtype == dtype and u.shape == (1000, 7)
    assert u.min() >= 0 and u.max() < 1
    scaled = u.astype(np.float64) * 2.0**bits
    np.testing.assert_array_equal(scaled, np.floor(scaled))  # multiples of 2^-bits
    # the float32 uniform is the float64 one truncated to 24 bits
    if dtype == np.float32:
        u64 = _uniforms(np.uint64(99), (1000, 7), np.float64)
        np.testing.assert_array_equal(u, np.floor(u64 * 2.0**24) / 2.0**24)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_uniforms_are_uniform_and_uncorrelated(dtype):
    u = _uniforms(np.uint64(2026), (1_000_000,), dtype).astype(np.float64)
    counts = np.bincount((u * 100).astype(int), minlength=100)
    assert stats.chisquare(counts).pvalue > P_FAIL
    # neighbours within a key, and the same position under consecutive keys
    n = len(u)
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < 6 / np.sqrt(n)
    rng = np.random.default_rng(1)
    rows = np.stack([_uniforms(_draw_key(rng), (64,), dtype) for _ in range(20_000)])
    r = np.corrcoef(rows[:-1, 0], rows[1:, 0])[0, 1]
    assert abs(r) < 6 / np.sqrt(len(rows))
    # 2-D: pairs (u_2i, u_2i+1) fill a 10 x 10 grid evenly
    pairs = (u[: n // 2 * 2].reshape(-1, 2) * 10).astype(int)
    grid = np.bincount(pairs[:, 0] * 10 + pairs[:, 1], minlength=100)
    assert stats.chisquare(grid).pvalue > P_FAIL


def test_random_units_are_uniform_over_the_units():
    rng = np.random.default_rng(3)
    cols = np.concatenate([_random_units(rng, 784, 64) for _ in range(5000)])
    assert cols.dtype == np.intp and cols.min() >= 0 and cols.max() <= 783
    counts = np.bincount(cols, minlength=784)
    assert stats.chisquare(counts).pvalue > P_FAIL


def test_sample_bernoulli_frequencies_at_extreme_probabilities():
    """Small p keeps its meaning with 24-bit float32 uniforms: 1e-5 is not rounded to 0."""
    p = np.full((2000, 1000), 1e-5, np.float32)
    hits = rbm.sample_bernoulli(p, rng=0).sum()
    # Binomial(2e6, 1e-5): mean 20; Poisson tails at 1e-6
    assert stats.poisson(20).cdf(hits) > P_FAIL and stats.poisson(20).sf(hits - 1) > P_FAIL
    assert rbm.sample_bernoulli(np.zeros((100, 100), np.float32), rng=0).sum() == 0
    assert rbm.sample_bernoulli(np.ones((100, 100), np.float32), rng=0).min() == 1


# ----------------------------------------------------------------------------- kernel = twin


def _inputs(seed, dtype, shape=(37, 53)):
    """tanh values, a reference array, a key, and a generator whose next key is that key."""
    rng = np.random.default_rng(seed)
    t = np.tanh(rng.normal(0, 2, shape)).astype(dtype)
    ref = rng.random(shape).astype(dtype)
    before_key = copy.deepcopy(rng)
    return t, ref, _draw_key(rng), before_key


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sample_from_tanh_equals_its_numpy_twin_and_sample_bernoulli(dtype):
    t, ref, key, before_key = _inputs(0, dtype)
    out, out_twin = np.empty_like(t), np.empty_like(t)
    ref_copy, ref_copy_twin = np.empty_like(t), np.empty_like(t)
    err = _fast.sample_reconstruction_(t, key, out, ref, ref_copy)
    with _fast.numpy_twins():
        err_twin = _fast.sample_reconstruction_(t, key, out_twin, ref, ref_copy_twin)
    np.testing.assert_array_equal(out, out_twin)
    np.testing.assert_array_equal(ref_copy, ref)
    np.testing.assert_array_equal(ref_copy_twin, ref)
    assert set(np.unique(out)) <= {0.0, 1.0}
    # float32: squares summed in another order, 2e3 terms of size <= 1
    assert err == pytest.approx(err_twin, rel=1e-5 if dtype == np.float32 else 1e-12)
    # the draws are rbm.sample_bernoulli's, from a generator whose next output is key
    p = t * dtype(0.5) + dtype(0.5)
    np.testing.assert_array_equal(out, rbm.sampling._sample_bernoulli(p, before_key))
    out_plain = np.empty_like(t)
    _fast.sample_from_tanh_(t, key, out_plain)  # the same draws without the extras
    np.testing.assert_array_equal(out_plain, out)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_add_and_halve_equals_its_numpy_twin(dtype):
    t, *_ = _inputs(1, dtype)
    bias = np.random.default_rng(2).normal(size=t.shape[1]).astype(dtype)
    x, x_twin = t.copy(), t.copy()
    half, half_twin = np.empty_like(t), np.empty_like(t)
    _fast.add_and_halve_(x, bias, half)
    with _fast.numpy_twins():
        _fast.add_and_halve_(x_twin, bias, half_twin)
    np.testing.assert_array_equal(x, x_twin)
    np.testing.assert_array_equal(half, half_twin)
    np.testing.assert_array_equal(x, t + bias)
    # in place: x becomes (x + bias) / 2
    y, y_twin = t.copy(), t.copy()
    assert _fast.add_and_halve_(y, bias) is y
    with _fast.numpy_twins():
        _fast.add_and_halve_(y_twin, bias)
    np.testing.assert_array_equal(y, y_twin)
    np.testing.assert_array_equal(y, half)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scale_rows_equals_its_numpy_twin(dtype):
    t, *_ = _inputs(3, dtype)
    weights = np.random.default_rng(4).normal(size=len(t)).astype(dtype)
    got, twin = t.copy(), t.copy()
    _fast.scale_rows_(got, weights)
    with _fast.numpy_twins():
        _fast.scale_rows_(twin, weights)
    np.testing.assert_array_equal(got, twin)
    np.testing.assert_allclose(got, weights[:, None] * (1 + t) / 2, rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_flip_log_sigma_equals_its_twin_and_rbm_pseudo_likelihood(dtype):
    rng = np.random.default_rng(4)
    m, n_visible, n_hidden = 16, 30, 7
    v = (rng.random((m, n_visible)) < 0.4).astype(dtype)
    W = rng.normal(0, 1, (n_visible, n_hidden)).astype(dtype)
    b = rng.normal(0, 1, n_visible).astype(dtype)
    c = rng.normal(0, 1, n_hidden).astype(dtype)
    pre = v @ W + c
    work = [np.empty((2 * m, n_hidden), dtype) for _ in range(2)]
    cols, cols_twin = np.empty(m, np.intp), np.empty(m, np.intp)
    key = _draw_key(np.random.default_rng(777))
    got = _fast.flip_log_sigma(v, pre, key, W, b, *work, cols)
    with _fast.numpy_twins():
        twin = _fast.flip_log_sigma(v, pre, key, W, b, *work, cols_twin)
    np.testing.assert_array_equal(cols, cols_twin)
    np.testing.assert_array_equal(cols, _random_units(np.random.default_rng(777), n_visible, m))
    want = rbm.pseudo_likelihood(v, W, b, c, rng=np.random.default_rng(777)).sum() / n_visible
    rel = 1e-5 if dtype == np.float32 else 1e-12
    assert got == pytest.approx(twin, rel=rel)
    assert got == pytest.approx(float(want), rel=rel)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"k": 3},
        {"persistent": True, "k": 2},
        {"momentum": 0.5, "weight_decay": 1e-3},
        {"shuffle": False, "batch_split": "array_split"},
    ],
)
def test_training_with_kernels_equals_training_with_numpy_twins(dtype, options):
    X = (np.random.default_rng(0).random((300, 40)) < 0.3).astype(dtype)
    X[:50] *= np.float32(0.7)  # grey values too
    params = dict(n_hidden=12, n_epochs=3, batch_size=32, random_state=3, dtype=dtype)
    fast = rbm.RBM(**params, **options).fit(X)
    with _fast.numpy_twins():
        twin = rbm.RBM(**params, **options).fit(X)
    for name in ("W_", "b_", "c_"):
        np.testing.assert_array_equal(getattr(fast, name), getattr(twin, name))
    for key in ("pseudo_likelihood", "reconstruction_error"):
        np.testing.assert_allclose(fast.history_[key], twin.history_[key], rtol=1e-5)


def test_numpy_twins_restores_the_kernels():
    before = dict(_fast._active)
    with pytest.raises(RuntimeError), _fast.numpy_twins():
        assert _fast._active["sample_from_tanh"] is _fast._sample_from_tanh_numpy
        raise RuntimeError
    assert _fast._active == before


def test_package_without_numba_trains_the_same_model(tmp_path):
    """With numba impossible to import, rbm falls back to the numpy twins: same weights."""
    X = (np.random.default_rng(0).random((200, 30)) < 0.3).astype(np.float32)
    np.save(tmp_path / "X.npy", X)
    script = f"""
import sys
sys.modules["numba"] = None  # makes "import numba" raise ImportError
import numpy as np
import rbm
from rbm import _fast
assert not _fast.HAVE_NUMBA
X = np.load({str(tmp_path / "X.npy")!r})
model = rbm.RBM(n_hidden=8, n_epochs=2, batch_size=32, random_state=5).fit(X)
np.save({str(tmp_path / "W.npy")!r}, model.W_)
"""
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    model = rbm.RBM(n_hidden=8, n_epochs=2, batch_size=32, random_state=5).fit(X)
    np.testing.assert_array_equal(np.load(tmp_path / "W.npy"), model.W_)
