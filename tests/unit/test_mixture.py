"""The mixture-of-Bernoullis baseline: monotone EM, known components recovered, exact scores."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.special import logsumexp

from rbm import BernoulliMixture


def _synthetic(n=3000, n_visible=40, seed=0):
    rng = np.random.default_rng(seed)
    means = rng.uniform(0.05, 0.95, (3, n_visible))
    weights = np.array([0.5, 0.3, 0.2])
    z = rng.choice(3, n, p=weights)
    X = (rng.random((n, n_visible)) < means[z]).astype(float)
    return X, means, weights


def test_em_objective_never_decreases():
    X, _, _ = _synthetic()
    model = BernoulliMixture(n_components=5, n_iter=50, tol=0.0, random_state=1).fit(X)
    # EM (here MAP-EM, with the Beta/Dirichlet pseudo-counts) cannot decrease the
    # log-posterior; 1e-10 allows for float rounding of a per-sample mean near -25.
    assert np.all(np.diff(model.history_) >= -1e-10)
    assert model.history_[-1] > model.history_[0]


def test_em_recovers_known_components():
    X, means, weights = _synthetic()
    model = BernoulliMixture(n_components=3, n_iter=200, tol=1e-8, random_state=0).fit(X)
    assert model.converged_
    # match components by the permutation with the smallest error
    perm = min(
        itertools.permutations(range(3)),
        key=lambda p: np.abs(model.means_[list(p)] - means).sum(),
    )
    # each mean is a frequency over >= 600 samples: s.e. <= 0.5/sqrt(600) ~ 0.02, so 0.08 is 4 s.e.
    assert np.abs(model.means_[list(perm)] - means).max() < 0.08
    # weights are frequencies over 3,000 samples: s.e. <= 0.01
    assert np.abs(model.weights_[list(perm)] - weights).max() < 0.04


def test_score_samples_is_the_exact_log_probability():
    X, _, _ = _synthetic(n=500, n_visible=6)
    model = BernoulliMixture(n_components=4, n_iter=20, random_state=0).fit(X)
    # brute force: the probabilities of all 2^6 binary vectors sum to one
    V = np.array(list(itertools.product([0.0, 1.0], repeat=6)))
    assert logsumexp(model.score_samples(V)) == pytest.approx(0.0, abs=1e-10)
    # and each log p(v) matches the formula term by term
    mu, pi = model.means_, model.weights_
    direct = np.log((pi * np.prod(mu ** V[:, None] * (1 - mu) ** (1 - V[:, None]), axis=2)).sum(1))
    np.testing.assert_allclose(model.score_samples(V), direct, rtol=1e-10)


def test_means_stay_inside_the_unit_interval():
    # a column that is always 0 and one that is always 1: the prior keeps log mu finite
    X = np.zeros((50, 3))
    X[:, 1] = 1
    X[::2, 2] = 1
    model = BernoulliMixture(n_components=2, n_iter=10, random_state=0).fit(X)
    assert np.all((model.means_ > 0) & (model.means_ < 1))
    assert np.all(np.isfinite(model.score_samples(X)))


def test_sample_draws_from_the_mixture():
    X, _, _ = _synthetic()
    model = BernoulliMixture(n_components=3, n_iter=100, random_state=0).fit(X)
    v, comp = model.sample(20000, rng=0)
    assert v.shape == (20000, 40) and set(np.unique(v)) <= {0.0, 1.0}
    # component frequencies: s.e. <= 0.5/sqrt(20000) ~ 0.004, so 0.02 is 5 s.e.
    np.testing.assert_allclose(np.bincount(comp, minlength=3) / 20000, model.weights_, atol=0.02)
    # pixel frequencies within each component: >= 3,000 draws each, s.e. <= 0.01; 0.05 is 5 s.e.
    for k in range(3):
        np.testing.assert_allclose(v[comp == k].mean(0), model.means_[k], atol=0.05)


def test_errors_are_clear():
    with pytest.raises(RuntimeError, match="not fitted"):
        BernoulliMixture().score_samples(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        BernoulliMixture(2).fit(np.full((5, 3), 2.0))
    with pytest.raises(ValueError, match="n_components must be >= 1"):
        BernoulliMixture(0).fit(np.zeros((5, 3)))
    with pytest.raises(ValueError, match="more than the 5 samples"):
        BernoulliMixture(6).fit(np.zeros((5, 3)))
    model = BernoulliMixture(2, random_state=0).fit(np.eye(4))
    with pytest.raises(ValueError, match="4 columns"):
        model.score_samples(np.zeros((2, 3)))


@pytest.mark.parametrize("init", ["data", "uniform"])
def test_both_initialisations_give_monotone_em(init):
    X, _, _ = _synthetic()
    model = BernoulliMixture(5, n_iter=30, tol=0.0, init=init, random_state=2).fit(X)
    # as in test_em_objective_never_decreases: 1e-10 is float rounding of a mean near -25
    assert np.all(np.diff(model.history_) >= -1e-10)


def test_uniform_init_draws_means_in_the_stated_range():
    X, _, _ = _synthetic(n=200, n_visible=8)
    K, a = 4, 0.01
    model = BernoulliMixture(K, n_iter=1, alpha=a, init="uniform", random_state=3).fit(X)
    # the first entry of history_ is the objective of the initial parameters:
    # means U(0.25, 0.75) from the same generator, equal weights
    mu = np.random.default_rng(3).uniform(0.25, 0.75, (K, 8))
    assert mu.min() >= 0.25 and mu.max() <= 0.75
    log_joint = X @ np.log(mu).T + (1 - X) @ np.log1p(-mu).T + np.log(1 / K)
    prior = a * (np.log(mu).sum() + np.log1p(-mu).sum() + K * np.log(1 / K))
    expected = logsumexp(log_joint, axis=1).mean() + prior / len(X)
    assert model.history_[0] == pytest.approx(expected, rel=1e-12)


def test_bad_init_is_named():
    with pytest.raises(ValueError, match="init must be 'data' or 'uniform'"):
        BernoulliMixture(2, init="kmeans").fit(np.eye(4))
