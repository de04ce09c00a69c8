"""Annealed importance sampling against exact log Z on models small enough to enumerate."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import logsumexp

import rbm
from rbm.ais import (
    AISResult,
    ais_log_partition,
    base_rate_bias,
    default_betas,
    log_likelihood_ais,
    reverse_ais_log_partition,
)


def _random_model(n_visible, n_hidden, scale, seed):
    r = np.random.default_rng(seed)
    return (
        r.normal(0, scale, (n_visible, n_hidden)),
        r.normal(0, scale, n_visible),
        r.normal(0, scale, n_hidden),
    )


def _exact_samples(W, b, c, n, rng):
    """Exact draws from p(v) by enumerating all 2^n_visible visible states."""
    n_visible = W.shape[0]
    V = ((np.arange(2**n_visible)[:, None] >> np.arange(n_visible)) & 1).astype(float)
    log_p = -rbm.free_energy(V, W, b, c)
    return V[rng.choice(len(V), n, p=np.exp(log_p - logsumexp(log_p)))]


def _group_log_z(log_weights, log_z_base, n_groups, reverse=False):
    """Split one run's chains into independent groups: one log Z estimate per group."""
    groups = log_weights.reshape(n_groups, -1)
    lme = logsumexp(groups, axis=1) - np.log(groups.shape[1])
    return log_z_base - lme if reverse else log_z_base + lme


@pytest.fixture(scope="module")
def digits_model():
    """A 64 -> 10 RBM trained with CD-1 on the binarised 8x8 digits of scikit-learn."""
    from sklearn.datasets import load_digits

    X = (load_digits().data > 7).astype(float)
    rng = np.random.default_rng(0)
    W = rng.normal(0, 0.01, (64, 10))
    b = base_rate_bias(X, eps=1e-2)
    c = np.zeros(10)
    for _ in range(15):
        for batch in np.array_split(X[rng.permutation(len(X))], 18):
            dW, db, dc = rbm.cd_k(batch, W, b, c, k=1, rng=rng)
            W += 0.1 * dW
            b += 0.1 * db
            c += 0.1 * dc
    return X, W, b, c


def test_default_schedule_is_salakhutdinov_murray():
    betas = default_betas()
    assert len(betas) == 14501 and betas[0] == 0.0 and betas[-1] == 1.0
    steps = np.diff(betas)
    # step sizes 1e-3, 1e-4 and 1e-5 in the three segments (linspace rounding: 1e-12)
    np.testing.assert_allclose(steps[:500], 1e-3, atol=1e-12)
    np.testing.assert_allclose(steps[500:4500], 1e-4, atol=1e-12)
    np.testing.assert_allclose(steps[4500:], 1e-5, atol=1e-12)


@pytest.mark.parametrize("n_steps", [3, 10, 100, 1000, 29000])
def test_short_schedule_keeps_the_shape(n_steps):
    betas = default_betas(n_steps)
    assert len(betas) == n_steps + 1
    assert betas[0] == 0.0 and betas[-1] == 1.0
    assert np.all(np.diff(betas) > 0)
    assert np.any(betas == 0.5) and np.any(betas == 0.9)


def test_base_rate_bias_is_clipped_logit():
    X = np.array([[0, 1, 1], [0, 1, 0], [0, 1, 1], [0, 1, 0]], dtype=float)
    base = base_rate_bias(X, eps=0.01)
    np.testing.assert_allclose(base, [np.log(0.01 / 0.99), np.log(0.99 / 0.01), 0.0])


def test_zero_weights_with_matching_base_is_exact():
    # W = 0 and base = b: every chain gets the same deterministic weight, and
    # log Z = sum softplus(b) + sum softplus(c) exactly (up to float rounding).
    rng = np.random.default_rng(0)
    W, b, c = np.zeros((7, 5)), rng.normal(size=7), rng.normal(size=5)
    res = ais_log_partition(W, b, c, n_chains=5, betas=default_betas(50), base=b, rng=0)
    assert isinstance(res, AISResult)
    assert res.log_z == pytest.approx(rbm.log_partition(W, b, c), abs=1e-10)
    assert np.ptp(res.log_weights) < 1e-10


@pytest.mark.parametrize(("scale", "seed"), [(0.1, 0), (0.5, 1), (1.0, 2), (2.0, 3)])
def test_forward_ais_matches_exact_on_random_models(scale, seed):
    W, b, c = _random_model(20, 8, scale, seed)
    exact = rbm.log_partition(W, b, c)
    res = ais_log_partition(W, b, c, n_chains=100, betas=default_betas(1000), rng=seed)
    # 0.5 nats: the book's target accuracy; observed errors here are below 0.1.
    assert abs(res.log_z - exact) < 0.5
    assert res.log_z_low <= exact <= res.log_z_high


def test_forward_and_reverse_ais_on_a_trained_digits_model(digits_model):
    X, W, b, c = digits_model
    exact = rbm.log_partition(W, b, c)
    base = base_rate_bias(X, eps=1e-2)
    betas = default_betas(1000)
    fwd = ais_log_partition(W, b, c, n_chains=100, betas=betas, base=base, rng=1)
    start = X[np.random.default_rng(2).choice(len(X), 100, replace=False)]
    rev = reverse_ais_log_partition(W, b, c, start, betas, base=base, n_gibbs=200, rng=3)
    # 0.5 nats, as above; with 1,000 steps and 100 chains both errors are ~0.05 here.
    assert abs(fwd.log_z - exact) < 0.5
    assert abs(rev.log_z - exact) < 0.5
    assert fwd.log_z_low <= exact <= fwd.log_z_high
    assert rev.log_z_low <= exact <= rev.log_z_high


def test_log_likelihood_ais_matches_exact(digits_model):
    X, W, b, c = digits_model
    exact = rbm.log_likelihood(X, W, b, c).mean()
    res = log_likelihood_ais(
        X, W, b, c, n_chains=100, betas=default_betas(1000), base=base_rate_bias(X), rng=4
    )
    # the mean log-likelihood differs from the exact one by the log Z error only
    assert abs(res.log_likelihood - exact) < 0.5
    assert res.log_likelihood_low <= exact <= res.log_likelihood_high
    assert res.log_likelihood == pytest.approx(
        rbm.log_likelihood(X, W, b, c, log_z=res.ais.log_z).mean()
    )


def test_float32_weights_give_the_float64_answer():
    W, b, c = _random_model(30, 12, 0.5, 7)
    exact = rbm.log_partition(W, b, c)
    r64 = ais_log_partition(W, b, c, n_chains=100, betas=default_betas(200), rng=0)
    r32 = ais_log_partition(W.astype(np.float32), b, c, 100, default_betas(200), rng=0)
    # float32 weights run the fast engine, with other draws: the two are independent
    # estimates, each within 0.15 nats of the exact value (observed: below 0.05)
    assert abs(r32.log_z - exact) < 0.15 and abs(r64.log_z - exact) < 0.15


def test_short_schedule_underestimates_and_reverse_overestimates():
    """Jensen's inequality in action, on a hard model where 10 steps cannot follow p_beta.

    Observed here (12 -> 10, weights N(0, 3^2), 10 annealing steps, 100 chains per
    estimate): forward AIS is low by about 0.9 nats on average, reverse AIS started
    from exact model samples is high by about 2.6 nats, each with a spread of 1-2 nats.
    The means of 30 independent estimates have standard errors of about 0.3, so the
    signs are several standard errors from zero.
    """
    W, b, c = _random_model(12, 10, 3.0, 0)
    exact = rbm.log_partition(W, b, c)
    betas = default_betas(10)
    n_groups, per_group = 30, 100
    fwd = ais_log_partition(W, b, c, n_chains=n_groups * per_group, betas=betas, rng=5)
    start = _exact_samples(W, b, c, n_groups * per_group, np.random.default_rng(6))
    rev = reverse_ais_log_partition(W, b, c, start, betas=betas, rng=7)
    fwd_estimates = _group_log_z(fwd.log_weights, fwd.log_z_base, n_groups)
    rev_estimates = _group_log_z(rev.log_weights, rev.log_z_base, n_groups, reverse=True)
    assert fwd_estimates.mean() < exact
    assert rev_estimates.mean() > exact
    assert fwd_estimates.mean() < rev_estimates.mean()


def test_reverse_ais_from_exact_samples_is_accurate_with_a_long_schedule():
    W, b, c = _random_model(12, 10, 1.0, 1)
    exact = rbm.log_partition(W, b, c)
    start = _exact_samples(W, b, c, 100, np.random.default_rng(0))
    rev = reverse_ais_log_partition(W, b, c, start, betas=default_betas(1000), rng=1)
    # observed spread of such estimates: ~0.04 nats; 0.5 is the book's target
    assert abs(rev.log_z - exact) < 0.5
    assert rev.log_z_low <= exact <= rev.log_z_high


def test_interval_is_minus_infinity_when_weights_are_too_spread():
    # two chains, one weight astronomically larger: mean - 3 s.e. < 0
    from rbm.ais import _mean_weight_bounds

    log_mean, log_low, log_high = _mean_weight_bounds(np.array([0.0, 50.0]))
    assert log_low == -np.inf
    assert log_mean < log_high


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(n_chains=0), "n_chains must be >= 1"),
        (dict(n_chains=2.5), "n_chains must be an integer"),
        (dict(betas=[0.0, 0.5, 0.4, 1.0]), "strictly increasing"),
        (dict(betas=[0.1, 0.5, 1.0]), "start at 0 and end at 1"),
        (dict(betas=[0.0, 0.5, 0.9]), "start at 0 and end at 1"),
        (dict(betas=[0.0]), "at least 2"),
        (dict(base=np.zeros(4)), r"base must have shape \(n_visible,\) = \(5,\)"),
        (dict(base=np.zeros((5, 1))), "base must be 1-dimensional"),
    ],
)
def test_forward_ais_rejects_bad_arguments(kwargs, match):
    W, b, c = _random_model(5, 3, 1.0, 0)
    with pytest.raises((ValueError, TypeError), match=match):
        ais_log_partition(W, b, c, **kwargs)


def test_reverse_ais_rejects_bad_arguments():
    W, b, c = _random_model(5, 3, 1.0, 0)
    with pytest.raises(ValueError, match="v_init must have shape"):
        reverse_ais_log_partition(W, b, c, np.zeros((4, 6)))
    with pytest.raises(ValueError, match="n_gibbs must be >= 0"):
        reverse_ais_log_partition(W, b, c, np.zeros((4, 5)), n_gibbs=-1)
    with pytest.raises(ValueError, match=r"W must have shape|b must have shape"):
        ais_log_partition(W, b[:4], c)


def test_log_likelihood_ais_rejects_a_foreign_result():
    W, b, c = _random_model(5, 3, 1.0, 0)
    with pytest.raises(TypeError, match="ais_result must be an AISResult"):
        log_likelihood_ais(np.zeros((2, 5)), W, b, c, ais_result=(1.0, 0.0))


def test_rbm_log_likelihood_method(digits_model):
    X = digits_model[0]
    model = rbm.RBM(n_hidden=10, n_epochs=2, batch_size=50, random_state=0).fit(X)
    exact = model.log_likelihood(X)
    assert exact == pytest.approx(rbm.log_likelihood(X, model.W_, model.b_, model.c_).mean())
    ais = model.log_likelihood(
        X, method="ais", n_chains=50, betas=default_betas(500), base=base_rate_bias(X), rng=0
    )
    # 0.5 nats, the book's target; a 64 -> 10 model after two epochs is easy for AIS
    assert abs(ais - exact) < 0.5
    with pytest.raises(ValueError, match="method must be"):
        model.log_likelihood(X, method="bogus")
    with pytest.raises(TypeError, match="takes no AIS arguments"):
        model.log_likelihood(X, n_chains=10)
