"""rbm.core against brute force on tiny random RBMs, and the dtype contract of every function.

References come from ``conftest.BruteForce``, which enumerates all (v, h) and never
calls the package. Tolerances: float64 sums of at most 8 x 6 + 14 terms of size
<= 5 * 3 carry rounding errors around 1e-13, so 1e-10 leaves a wide margin while
still catching any wrong term (which would be of order ``scale``).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rbm

SCALES = (0.1, 1.0, 5.0)
SETTINGS = settings(max_examples=30, deadline=None)
seeds = st.integers(0, 2**32 - 1)
n_visibles = st.integers(1, 8)
n_hiddens = st.integers(1, 6)
scales = st.sampled_from(SCALES)


@SETTINGS
@given(seed=seeds, n_visible=n_visibles, n_hidden=n_hiddens, scale=scales)
def test_energy_equals_index_form_sum(make_model, brute, seed, n_visible, n_hidden, scale):
    W, b, c = make_model(seed, n_visible, n_hidden, scale)
    rng = np.random.default_rng([seed, 1])
    # Binary rows and rows of probabilities: the formula is bilinear, so both must agree.
    v = np.vstack([rng.integers(0, 2, (3, n_visible)), rng.random((2, n_visible))])
    h = np.vstack([rng.integers(0, 2, (3, n_hidden)), rng.random((2, n_hidden))])
    expected = [brute.energy_index_form(v[t], h[t], W, b, c) for t in range(len(v))]
    np.testing.assert_allclose(rbm.energy(v, h, W, b, c), expected, rtol=1e-10, atol=1e-10)


@SETTINGS
@given(seed=seeds, n_visible=n_visibles, n_hidden=n_hiddens, scale=scales)
def test_free_energy_equals_log_sum_over_hidden(
    make_model, brute, seed, n_visible, n_hidden, scale
):
    W, b, c = make_model(seed, n_visible, n_hidden, scale)
    ref = brute(W, b, c)
    # F(v) = -log sum_h exp(-E(v, h)), for every binary v.
    np.testing.assert_allclose(
        rbm.free_energy(ref.V, W, b, c), ref.free_energy_all, rtol=1e-10, atol=1e-10
    )


@SETTINGS
@given(seed=seeds, n_visible=n_visibles, n_hidden=n_hiddens, scale=scales)
def test_free_energy_gives_joint_marginal(make_model, brute, seed, n_visible, n_hidden, scale):
    W, b, c = make_model(seed, n_visible, n_hidden, scale)
    ref = brute(W, b, c)
    # p(v) = exp(-F(v)) / Z with Z from the joint table.
    log_p = -rbm.free_energy(ref.V, W, b, c) - ref.log_z
    np.testing.assert_allclose(log_p, ref.log_p_v_all, rtol=1e-10, atol=1e-10)


@SETTINGS
@given(seed=seeds, n_visible=n_visibles, n_hidden=n_hiddens, scale=scales)
def test_h_given_v_equals_enumerated_marginals(
    make_model, brute, seed, n_visible, n_hidden, scale
):
    W, b, c = make_model(seed, n_visible, n_hidden, scale)
    ref = brute(W, b, c)
    # P(h_j = 1 | v) = sum_h p(h | v) h_j, p(h | v) from the joint table.
    np.testing.assert_allclose(rbm.h_given_v(ref.V, W, c), ref.hidden_marginals(ref.V), atol=1e-12)


@SETTINGS
@given(seed=seeds, n_visible=n_visibles, n_hidden=n_hiddens, scale=scales)
def test_v_given_h_equals_enumerated_marginals(
    make_model, brute, seed, n_visible, n_hidden, scale
):
    W, b, c = make_model(seed, n_visible, n_hidden, scale)
    ref = brute(W, b, c)
    np.testing.assert_allclose(
        rbm.v_given_h(ref.H, W, b), ref.visible_marginals(ref.H), atol=1e-12
    )


@settings(max_examples=50, deadline=None)
@given(x=st.floats(-30, 30))
def test_sigmoid_and_softplus_equal_naive_formulas(x):
    # For |x| <= 30 the textbook formulas are accurate in float64 (exp(30) ~ 1e13).
    np.testing.assert_allclose(rbm.sigmoid(x), 1 / (1 + np.exp(-x)), rtol=1e-12)
    np.testing.assert_allclose(rbm.softplus(x), np.log1p(np.exp(x)), rtol=1e-12, atol=1e-300)


@settings(max_examples=50, deadline=None)
@given(x=st.floats(-1e300, 1e300))
def test_sigmoid_and_softplus_identities(x):
    # sigma(x) + sigma(-x) = 1 and softplus(x) - softplus(-x) = x, for any finite x; a few
    # units in the last place (2.2e-16 relative) of rounding are allowed.
    assert abs(rbm.sigmoid(x) + rbm.sigmoid(-x) - 1) <= 2e-15
    diff = rbm.softplus(x) - rbm.softplus(-x)
    assert abs(diff - x) <= 2e-15 * max(1.0, abs(x))


def test_softplus_derivative_is_sigmoid():
    x = np.linspace(-10, 10, 41)
    step = 1e-5
    # Central differences: error O(step^2) ~ 1e-10, so 1e-8 is safe.
    numeric = (rbm.softplus(x + step) - rbm.softplus(x - step)) / (2 * step)
    np.testing.assert_allclose(numeric, rbm.sigmoid(x), atol=1e-8)


# -- dtypes ------------------------------------------------------------------------------------

N_VISIBLE, N_HIDDEN = 5, 3


def _arrays_of(result):
    """Every array in a (possibly nested) tuple result."""
    if isinstance(result, tuple):
        return [a for part in result for a in _arrays_of(part)]
    return [result]


def _all_functions(dtype, v=None):
    W, b, c = (np.asarray(x, dtype=dtype) for x in _fixed_model())
    rng = np.random.default_rng(3)
    if v is None:
        v = rng.integers(0, 2, (4, N_VISIBLE)).astype(dtype)
    h = rng.integers(0, 2, (4, N_HIDDEN)).astype(dtype)
    chain = rng.integers(0, 2, (6, N_VISIBLE)).astype(dtype)
    return {
        "sigmoid": lambda: rbm.sigmoid(W),
        "softplus": lambda: rbm.softplus(W),
        "energy": lambda: rbm.energy(v, h, W, b, c),
        "free_energy": lambda: rbm.free_energy(v, W, b, c),
        "h_given_v": lambda: rbm.h_given_v(v, W, c),
        "v_given_h": lambda: rbm.v_given_h(h, W, b),
        "sample_bernoulli": lambda: rbm.sample_bernoulli(rbm.h_given_v(v, W, c), 0),
        "gibbs": lambda: rbm.gibbs(v, W, b, c, 2, 0),
        "cd_k": lambda: rbm.cd_k(v, W, b, c, 2, 0),
        "pcd_k": lambda: rbm.pcd_k(v, chain, W, b, c, 2, 0),
        "log_likelihood": lambda: rbm.log_likelihood(v, W, b, c),
        "log_likelihood_given_log_z": lambda: rbm.log_likelihood(v, W, b, c, log_z=3.0),
        "log_likelihood_gradient": lambda: rbm.log_likelihood_gradient(v, W, b, c),
        "pseudo_likelihood": lambda: rbm.pseudo_likelihood(v, W, b, c, 0),
        "exact_pseudo_likelihood": lambda: rbm.exact_pseudo_likelihood(v, W, b, c),
    }


def _fixed_model():
    rng = np.random.default_rng(11)
    return (
        rng.standard_normal((N_VISIBLE, N_HIDDEN)),
        rng.standard_normal(N_VISIBLE),
        rng.standard_normal(N_HIDDEN),
    )


FUNCTION_NAMES = list(_all_functions(np.float64))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", FUNCTION_NAMES)
def test_float_dtype_is_preserved(name, dtype):
    for out in _arrays_of(_all_functions(dtype)[name]()):
        assert isinstance(out, np.ndarray), f"{name} returned {type(out).__name__}"
        assert out.dtype == dtype, f"{name}: {dtype.__name__} in, {out.dtype} out"
        assert np.all(np.isfinite(out))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_log_partition_returns_python_float(dtype):
    W, b, c = (np.asarray(x, dtype=dtype) for x in _fixed_model())
    assert type(rbm.log_partition(W, b, c)) is float


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("v_dtype", [np.int64, np.int8, np.uint8, bool])
@pytest.mark.parametrize("name", [n for n in FUNCTION_NAMES if n not in ("sigmoid", "softplus")])
def test_integer_and_bool_visible_states_are_accepted(name, v_dtype, dtype):
    # Integer or boolean data take the parameters' float dtype and give the same numbers.
    v_float = np.random.default_rng(5).integers(0, 2, (4, N_VISIBLE)).astype(dtype)
    as_float = _arrays_of(_all_functions(dtype, v_float)[name]())
    as_other = _arrays_of(_all_functions(dtype, v_float.astype(v_dtype))[name]())
    for a, o in zip(as_float, as_other, strict=True):
        assert o.dtype == dtype
        np.testing.assert_array_equal(a, o)


def test_parameters_set_the_dtype_of_mixed_inputs():
    # float64 data with float32 parameters computes (and returns) in float32, and vice versa.
    W, b, c = _fixed_model()
    v = np.ones((2, N_VISIBLE))
    out32 = rbm.free_energy(v, W.astype(np.float32), b.astype(np.float32), c.astype(np.float32))
    out64 = rbm.free_energy(v.astype(np.float32), W, b, c)
    assert out32.dtype == np.float32
    assert out64.dtype == np.float64
    np.testing.assert_allclose(out32, out64, rtol=1e-6)
