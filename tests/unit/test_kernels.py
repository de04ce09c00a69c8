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
from scipy.special import expit

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
    """pre-activations, a reference array, a key, and a generator whose next key is that key."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 4, shape).astype(dtype)
    ref = rng.random(shape).astype(dtype)
    before_key = copy.deepcopy(rng)
    return x, ref, _draw_key(rng), before_key


def test_sigmoid32_is_expit_to_float32_rounding():
    """The kernels' float32 sigmoid against scipy's expit in float64, and the kernel = twin."""
    x = np.linspace(-87, 87, 1_000_001, dtype=np.float32)
    got = _fast.sigmoid32(x)
    want = expit(x.astype(np.float64))
    # absolute: a few roundings of numbers below 1 (2^-24 each); float32 expit itself
    # is off by up to 8.9e-8 here. Relative: the polynomial exp (Cephes: 2 units in the
    # last place) and one division; 2^-21 leaves room on both.
    assert np.abs(got - want).max() < 2.0**-23
    assert (np.abs(got - want) / want).max() < 2.0**-21
    # float32 expit is itself within 2^-23 of the exact value, so the two within 2^-22
    assert np.abs(got - expit(x)).max() < 2.0**-22
    assert got.dtype == np.float32 and np.all(np.diff(got) >= 0)  # monotone
    extreme = _fast.sigmoid32(np.array([-np.inf, -1e30, 0, 1e30, np.inf], np.float32))
    assert extreme[0] >= 0 and extreme[0] < 1e-37 and extreme[2] == 0.5 and extreme[-1] == 1
    compiled = np.empty((1, len(x)), np.float32)
    _fast.bias_sigmoid_(x[None, :].copy(), np.zeros(len(x), np.float32), compiled)
    np.testing.assert_array_equal(compiled[0], got)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sample_visible_equals_its_numpy_twin_and_sample_bernoulli(dtype):
    x, ref, key, before_key = _inputs(0, dtype)
    bias = np.random.default_rng(1).normal(size=x.shape[1]).astype(dtype)
    out, out_twin = np.empty_like(x), np.empty_like(x)
    ref_copy, ref_copy_twin = np.empty_like(x), np.empty_like(x)
    err = _fast.sample_visible_(x.copy(), bias, key, out, ref, ref_copy)
    with _fast.numpy_twins():
        err_twin = _fast.sample_visible_(x.copy(), bias, key, out_twin, ref, ref_copy_twin)
    np.testing.assert_array_equal(out, out_twin)
    np.testing.assert_array_equal(ref_copy, ref)
    np.testing.assert_array_equal(ref_copy_twin, ref)
    assert set(np.unique(out)) <= {0.0, 1.0}
    # float32: squares summed in another order, 2e3 terms of size <= 1
    assert err == pytest.approx(err_twin, rel=1e-5 if dtype == np.float32 else 1e-12)
    # the draws are rbm.sample_bernoulli's of the same probabilities, from a
    # generator whose next output is key
    p = _fast.sigmoid32(x + bias) if dtype == np.float32 else expit(x + bias)
    np.testing.assert_array_equal(out, rbm.sampling._sample_bernoulli(p, before_key))
    out_plain = np.empty_like(x)
    _fast.sample_visible_(x.copy(), bias, key, out_plain)  # the same draws without the extras
    np.testing.assert_array_equal(out_plain, out)
    out_p = np.empty_like(x)
    _fast.sample_(p, key, out_p)  # and from the probabilities themselves
    np.testing.assert_array_equal(out_p, out)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bias_sigmoid_equals_its_numpy_twin(dtype):
    x0, *_ = _inputs(1, dtype)
    bias = np.random.default_rng(2).normal(size=x0.shape[1]).astype(dtype)
    x, x_twin = x0.copy(), x0.copy()
    p, p_twin = np.empty_like(x0), np.empty_like(x0)
    _fast.bias_sigmoid_(x, bias, p)
    with _fast.numpy_twins():
        _fast.bias_sigmoid_(x_twin, bias, p_twin)
    np.testing.assert_array_equal(x, x_twin)
    np.testing.assert_array_equal(p, p_twin)
    np.testing.assert_array_equal(x, x0 + bias)
    np.testing.assert_allclose(p, expit((x0 + bias).astype(np.float64)), rtol=0, atol=2.0**-23)
    # in place: x becomes sigma(x + bias)
    y, y_twin = x0.copy(), x0.copy()
    assert _fast.bias_sigmoid_(y, bias) is y
    with _fast.numpy_twins():
        _fast.bias_sigmoid_(y_twin, bias)
    np.testing.assert_array_equal(y, y_twin)
    np.testing.assert_array_equal(y, p)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scale_rows_equals_its_numpy_twin(dtype):
    x, *_ = _inputs(3, dtype)
    p = expit(x)
    weights = np.random.default_rng(4).normal(size=len(p)).astype(dtype)
    got, twin = p.copy(), p.copy()
    _fast.scale_rows_(got, weights)
    with _fast.numpy_twins():
        _fast.scale_rows_(twin, weights)
    np.testing.assert_array_equal(got, twin)
    np.testing.assert_array_equal(got, weights[:, None] * p)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_flip_log_sigma_equals_its_twin_and_rbm_pseudo_likelihood(dtype):
    rng = np.random.default_rng(4)
    m, n_visible, n_hidden = 16, 30, 7
    v = (rng.random((m, n_visible)) < 0.4).astype(dtype)
    W = rng.normal(0, 1, (n_visible, n_hidden)).astype(dtype)
    b = rng.normal(0, 1, n_visible).astype(dtype)
    c = rng.normal(0, 1, n_hidden).astype(dtype)
    pre = v @ W + c
    cols, cols_twin = np.empty(m, np.intp), np.empty(m, np.intp)
    key = _draw_key(np.random.default_rng(777))
    got = _fast.flip_log_sigma(v, pre, key, W, b, cols)
    with _fast.numpy_twins():
        twin = _fast.flip_log_sigma(v, pre, key, W, b, cols_twin)
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
        assert _fast._active["sample"] is _fast._sample_numpy
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


def test_training_threads_reads_the_environment(monkeypatch):
    monkeypatch.delenv(_fast.THREADS_ENV, raising=False)
    assert _fast.training_threads() == 1  # the measured default
    monkeypatch.setenv(_fast.THREADS_ENV, " 4 ")
    assert _fast.training_threads() == 4
    for bad in ("0", "-2", "two", "1.5"):
        monkeypatch.setenv(_fast.THREADS_ENV, bad)
        with pytest.raises(ValueError, match="RBM_THREADS"):
            _fast.training_threads()


def test_threads_do_not_change_training(monkeypatch):
    X = (np.random.default_rng(0).random((300, 40)) < 0.3).astype(np.float32)
    params = dict(n_hidden=12, n_epochs=2, batch_size=32, random_state=3)
    monkeypatch.setenv(_fast.THREADS_ENV, "1")
    one = rbm.RBM(**params).fit(X)
    monkeypatch.setenv(_fast.THREADS_ENV, "2")
    two = rbm.RBM(**params).fit(X)
    # 40 x 12 products: BLAS splits them, if at all, along rows, not within a sum
    np.testing.assert_allclose(two.W_, one.W_, rtol=0, atol=1e-6)
