"""rbm.evaluation against brute force: log Z, log p(v), its exact gradient, pseudo-likelihood.

The package enumerates only the smaller layer (and sums the other out), so every
exact quantity is checked in both orientations: hidden layer smaller (h is
enumerated) and visible layer smaller (v is enumerated). The references come from
``conftest.BruteForce``, which enumerates every joint state (v, h) instead.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rbm
import rbm.evaluation

SCALES = (0.1, 1.0, 5.0)
SETTINGS = settings(max_examples=30, deadline=None)
seeds = st.integers(0, 2**32 - 1)
scales = st.sampled_from(SCALES)


@st.composite
def layer_sizes(draw, orientation):
    """(n_visible, n_hidden) with the named layer strictly the smaller (or equal, for hidden)."""
    if orientation == "hidden_smaller":  # the package enumerates h
        n_hidden = draw(st.integers(1, 6))
        return draw(st.integers(n_hidden, 8)), n_hidden
    n_visible = draw(st.integers(1, 6))  # the package enumerates v
    return n_visible, draw(st.integers(n_visible + 1, 8))


ORIENTATIONS = ["hidden_smaller", "visible_smaller"]


# -- log Z -------------------------------------------------------------------------------------


@pytest.mark.parametrize("orientation", ORIENTATIONS)
def test_log_partition_equals_brute_force(orientation, make_model, brute):
    @SETTINGS
    @given(seed=seeds, sizes=layer_sizes(orientation), scale=scales)
    def check(seed, sizes, scale):
        W, b, c = make_model(seed, *sizes, scale)
        # log Z is at most (8 + 6) * 5 * 4 in size; float64 log-sum-exp is exact to ~1e-13.
        assert rbm.log_partition(W, b, c) == pytest.approx(brute(W, b, c).log_z, abs=1e-10)

    check()


def test_log_partition_of_the_zero_model_counts_states():
    # With W = 0, b = 0, c = 0 every one of the 2^(n_visible + n_hidden) states has energy 0.
    for n_visible, n_hidden in [(1, 1), (7, 3), (3, 7), (40, 2), (2, 40)]:
        log_z = rbm.log_partition(
            np.zeros((n_visible, n_hidden)), np.zeros(n_visible), np.zeros(n_hidden)
        )
        assert log_z == pytest.approx((n_visible + n_hidden) * np.log(2), rel=1e-14)


class _RecordFastPath:
    """Wraps rbm.evaluation._softplus_row_sums to record which path (float32 or float64) ran."""

    def __init__(self, monkeypatch):
        self.flags = set()
        original = rbm.evaluation._softplus_row_sums

        def recording(a, fast):
            self.flags.add(bool(fast))
            return original(a, fast)

        monkeypatch.setattr(rbm.evaluation, "_softplus_row_sums", recording)


@pytest.mark.parametrize(
    ("n_visible", "n_hidden", "force_fast"),
    [(100, 16, True), (16, 100, True), (34, 19, False)],
    ids=["100x16-enumerate-h", "16x100-enumerate-v", "34x19-fast-by-default"],
)
def test_log_partition_float32_fast_path_agrees_with_float64(
    n_visible, n_hidden, force_fast, monkeypatch
):
    # Weights of scale 0.1 (pre-activations of order 1, as in a trained MNIST model) and
    # biases of scale 1. float32 rounding costs ~1e-7 per softplus term; 100 terms per state
    # give at most ~1e-5 nats, so 1e-3 (the accuracy the module promises) is a loose bound.
    # 34 x 19 has 2^19 * 34 > _FLOAT64_WORK_LIMIT = 2^24 softplus terms: fast without any patch.
    rng = np.random.default_rng(n_visible * 1000 + n_hidden)
    W = 0.1 * rng.standard_normal((n_visible, n_hidden))
    b = rng.standard_normal(n_visible)
    c = rng.standard_normal(n_hidden)
    recorder = _RecordFastPath(monkeypatch)

    if force_fast:
        monkeypatch.setattr(rbm.evaluation, "_FLOAT64_WORK_LIMIT", 0)
    fast = rbm.log_partition(W, b, c)
    assert recorder.flags == {True}, "the float32 path did not run"

    recorder.flags.clear()
    monkeypatch.setattr(rbm.evaluation, "_FLOAT64_WORK_LIMIT", 2**62)
    slow = rbm.log_partition(W, b, c)
    assert recorder.flags == {False}, "the float64 path did not run"

    assert abs(fast - slow) < 1e-3


def test_log_partition_chunks_agree_with_one_chunk(make_model, monkeypatch):
    # Enumeration runs in chunks; tiny chunks must give the same log Z as one chunk.
    W, b, c = make_model(7, 9, 7, 1.0)
    whole = rbm.log_partition(W, b, c)
    monkeypatch.setattr(rbm.evaluation, "_CHUNK_ELEMENTS", 1)
    assert rbm.log_partition(W, b, c) == pytest.approx(whole, abs=1e-12)


# -- log p(v) ----------------------------------------------------------------------------------


@pytest.mark.parametrize("orientation", ORIENTATIONS)
def test_log_likelihood_is_normalised_and_exact(orientation, make_model, brute):
    @SETTINGS
    @given(seed=seeds, sizes=layer_sizes(orientation), scale=scales)
    def check(seed, sizes, scale):
        W, b, c = make_model(seed, *sizes, scale)
        ref = brute(W, b, c)
        log_p = rbm.log_likelihood(ref.V, W, b, c)
        # sum_v p(v) = 1: the sum of at most 256 terms in float64, exact to ~1e-14.
        assert np.exp(log_p).sum() == pytest.approx(1.0, abs=1e-10)
        np.testing.assert_allclose(log_p, ref.log_p_v_all, atol=1e-10)

    check()


@SETTINGS
@given(seed=seeds, n_visible=st.integers(1, 8), n_hidden=st.integers(1, 6), scale=scales)
def test_log_likelihood_with_given_log_z(make_model, seed, n_visible, n_hidden, scale):
    W, b, c = make_model(seed, n_visible, n_hidden, scale)
    v = np.random.default_rng([seed, 2]).integers(0, 2, (6, n_visible))
    log_z = rbm.log_partition(W, b, c)
    computed = rbm.log_likelihood(v, W, b, c)
    np.testing.assert_allclose(rbm.log_likelihood(v, W, b, c, log_z=log_z), computed, atol=1e-12)
    # A different log Z shifts every log-probability by the difference, and nothing else.
    shifted = rbm.log_likelihood(v, W, b, c, log_z=np.float32(log_z + 2.5))
    np.testing.assert_allclose(shifted, computed - 2.5, atol=1e-5)


def test_log_likelihood_accepts_large_models_when_log_z_is_given():
    # Only the enumeration is limited: with log Z known (e.g. from AIS) any size works.
    n = rbm.MAX_EXACT_UNITS + 6
    rng = np.random.default_rng(0)
    W = 0.01 * rng.standard_normal((n, n))
    v = rng.integers(0, 2, (3, n))
    out = rbm.log_likelihood(v, W, np.zeros(n), np.zeros(n), log_z=100.0)
    assert out.shape == (3,) and np.all(np.isfinite(out))


# -- gradient of the mean log-likelihood -------------------------------------------------------


def _finite_difference_gradient(ref_cls, v, W, b, c, step=1e-5):
    """Central differences of the brute-force mean log p(v) in every parameter."""
    params = [W.copy(), b.copy(), c.copy()]
    grads = []
    for k, theta in enumerate(params):
        g = np.zeros_like(theta)
        for idx in np.ndindex(theta.shape):
            values = []
            for sign in (1, -1):
                shifted = [p.copy() for p in params]
                shifted[k][idx] += sign * step
                values.append(ref_cls(*shifted).mean_log_likelihood(v))
            g[idx] = (values[0] - values[1]) / (2 * step)
        grads.append(g)
    return grads


@pytest.mark.parametrize("orientation", ORIENTATIONS)
def test_log_likelihood_gradient_matches_finite_differences(orientation, make_model, brute):
    @settings(max_examples=12, deadline=None)
    @given(seed=seeds, sizes=layer_sizes(orientation), scale=scales)
    def check(seed, sizes, scale):
        W, b, c = make_model(seed, *sizes, scale)
        v = np.random.default_rng([seed, 3]).integers(0, 2, (7, sizes[0])).astype(float)
        analytic = rbm.log_likelihood_gradient(v, W, b, c)
        numeric = _finite_difference_gradient(brute, v, W, b, c)
        # Central differences with step 1e-5: truncation ~ step^2 * |third derivative| (< 1e-9
        # here) plus rounding ~ 1e-16 * |log p| / step (< 1e-9): 1e-6 is a safe bound.
        for name, a, n in zip("W b c".split(), analytic, numeric, strict=True):
            np.testing.assert_allclose(a, n, atol=1e-6, err_msg=f"d/d{name}")

    check()


@pytest.mark.parametrize("orientation", ORIENTATIONS)
def test_log_likelihood_gradient_is_positive_minus_model_moments(orientation, make_model, brute):
    @SETTINGS
    @given(seed=seeds, sizes=layer_sizes(orientation), scale=scales)
    def check(seed, sizes, scale):
        W, b, c = make_model(seed, *sizes, scale)
        ref = brute(W, b, c)
        v = np.random.default_rng([seed, 4]).random((5, sizes[0]))  # probabilities are data too
        ph = 1 / (1 + np.exp(-(v @ W + c)))
        EvhT, Ev, Eh = ref.model_moments()
        dW, db, dc = rbm.log_likelihood_gradient(v, W, b, c)
        np.testing.assert_allclose(dW, v.T @ ph / len(v) - EvhT, atol=1e-10)
        np.testing.assert_allclose(db, v.mean(axis=0) - Ev, atol=1e-10)
        np.testing.assert_allclose(dc, ph.mean(axis=0) - Eh, atol=1e-10)

    check()


# -- pseudo-likelihood -------------------------------------------------------------------------


@SETTINGS
@given(seed=seeds, n_visible=st.integers(1, 8), n_hidden=st.integers(1, 6), scale=scales)
def test_exact_pseudo_likelihood_equals_enumerated_conditionals(
    make_model, brute, seed, n_visible, n_hidden, scale
):
    W, b, c = make_model(seed, n_visible, n_hidden, scale)
    ref = brute(W, b, c)
    # sum_i log P(v_i | v_-i) with P from the enumerated p(v), for every binary v.
    np.testing.assert_allclose(
        rbm.exact_pseudo_likelihood(ref.V, W, b, c), ref.log_conditionals(ref.V), atol=1e-9
    )


def test_pseudo_likelihood_of_one_visible_unit_is_exact(make_model):
    # With n_visible = 1 the flipped unit is always unit 0: the estimate has no randomness.
    W, b, c = make_model(1, 1, 4, 1.0)
    v = np.array([[0.0], [1.0]])
    np.testing.assert_allclose(
        rbm.pseudo_likelihood(v, W, b, c, rng=0),
        rbm.exact_pseudo_likelihood(v, W, b, c),
        atol=1e-12,
    )
