"""Centred RBMs: same distribution as the converted ordinary RBM, and the gradient transform."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.special import logsumexp

import rbm
from rbm.centering import (
    centered_free_energy,
    centered_gradient,
    from_ordinary,
    to_ordinary,
    train_centered,
    update_offsets,
)


def _all_states(n):
    return np.array(list(itertools.product([0.0, 1.0], repeat=n)))


def tiny_centred(seed=0, n_visible=6, n_hidden=4):
    rng = np.random.default_rng(seed)
    W = rng.normal(0, 1.0, (n_visible, n_hidden))
    b, c = rng.normal(0, 1, n_visible), rng.normal(0, 1, n_hidden)
    mu, lam = rng.random(n_visible), rng.random(n_hidden)
    return W, b, c, mu, lam


def centred_energy(v, h, W, b, c, mu, lam):
    """E_c(v, h) for every pair of rows, written straight from the definition."""
    dv, dh = v - mu, h - lam
    return -np.einsum("ni,ij,nj->n", dv, W, dh) - dv @ b - dh @ c


def exact_joint(W, b, c, mu, lam):
    """All (v, h) pairs and p(v, h) under the centred energy, by brute force."""
    V, H = _all_states(W.shape[0]), _all_states(W.shape[1])
    v = np.repeat(V, len(H), axis=0)
    h = np.tile(H, (len(V), 1))
    log_w = -centred_energy(v, h, W, b, c, mu, lam)
    return v, h, np.exp(log_w - logsumexp(log_w))


def test_to_ordinary_and_back():
    W, b, c, mu, lam = tiny_centred()
    W2, b2, c2 = from_ordinary(*to_ordinary(W, b, c, mu, lam), mu, lam)
    np.testing.assert_allclose(W2, W)
    np.testing.assert_allclose(b2, b)
    np.testing.assert_allclose(c2, c)


def test_energy_differs_by_a_constant():
    W, b, c, mu, lam = tiny_centred()
    Wo, bo, co = to_ordinary(W, b, c, mu, lam)
    rng = np.random.default_rng(1)
    v = (rng.random((50, 6)) < 0.5).astype(float)
    h = (rng.random((50, 4)) < 0.5).astype(float)
    diff = centred_energy(v, h, W, b, c, mu, lam) - rbm.energy(v, h, Wo, bo, co)
    const = -mu @ W @ lam + b @ mu + c @ lam
    np.testing.assert_allclose(diff, const, atol=1e-12)


def test_same_free_energy_up_to_constant_and_same_p_v():
    W, b, c, mu, lam = tiny_centred()
    Wo, bo, co = to_ordinary(W, b, c, mu, lam)
    V = _all_states(6)
    fc = centered_free_energy(V, W, b, c, mu, lam)
    fo = rbm.free_energy(V, Wo, bo, co)
    assert np.ptp(fc - fo) < 1e-12
    # p(v) from the centred free energy, normalised by enumeration, versus rbm.log_likelihood
    log_p_centred = -fc - logsumexp(-fc)
    np.testing.assert_allclose(log_p_centred, rbm.log_likelihood(V, Wo, bo, co), atol=1e-12)
    # and from the joint centred energy summed over h by brute force
    _, _, p_joint = exact_joint(W, b, c, mu, lam)
    p_v = p_joint.reshape(len(V), -1).sum(axis=1)
    np.testing.assert_allclose(np.log(p_v), log_p_centred, atol=1e-12)


def exact_centred_gradient(v_data, W, b, c, mu, lam):
    """The exact log-likelihood gradient in the centred parameters, by brute force."""
    Wo, _, co = to_ordinary(W, b, c, mu, lam)
    ph = rbm.h_given_v(v_data, Wo, co)
    v, h, p = exact_joint(W, b, c, mu, lam)
    EW = ((v - mu) * p[:, None]).T @ (h - lam)
    dW = (v_data - mu).T @ (ph - lam) / len(v_data) - EW
    return dW, v_data.mean(0) - p @ v, ph.mean(0) - p @ h


def transform(g, mu, lam):
    """The paper's relation: centred gradient from the ordinary one."""
    gW, gb, gc = g
    return gW - np.outer(gb, lam) - np.outer(mu, gc), gb, gc


def test_exact_centred_gradient_is_the_transformed_ordinary_gradient():
    W, b, c, mu, lam = tiny_centred(seed=2)
    rng = np.random.default_rng(3)
    v_data = (rng.random((30, 6)) < 0.4).astype(float)
    exact = exact_centred_gradient(v_data, W, b, c, mu, lam)
    ordinary = rbm.log_likelihood_gradient(v_data, *to_ordinary(W, b, c, mu, lam))
    for got, want in zip(exact, transform(ordinary, mu, lam), strict=True):
        np.testing.assert_allclose(got, want, atol=1e-12)
    # it is not the ordinary gradient itself (offsets are far from 0)
    assert np.abs(exact[0] - ordinary[0]).max() > 1e-2


def test_exact_centred_gradient_matches_finite_differences():
    """The brute-force centred gradient is d/dtheta of the mean log-likelihood."""
    W, b, c, mu, lam = tiny_centred(seed=4)
    rng = np.random.default_rng(5)
    v_data = (rng.random((10, 6)) < 0.5).astype(float)

    def mean_ll(W, b, c):
        return rbm.log_likelihood(v_data, *to_ordinary(W, b, c, mu, lam)).mean()

    dW, db, _ = exact_centred_gradient(v_data, W, b, c, mu, lam)
    eps = 1e-6
    E = np.zeros_like(W)
    E[2, 1] = eps
    num = (mean_ll(W + E, b, c) - mean_ll(W - E, b, c)) / (2 * eps)
    assert num == pytest.approx(dW[2, 1], abs=1e-6)
    e = np.zeros_like(b)
    e[3] = eps
    assert (mean_ll(W, b + e, c) - mean_ll(W, b - e, c)) / (2 * eps) == pytest.approx(
        db[3], abs=1e-6
    )


@pytest.mark.parametrize("persistent", [False, True])
def test_sampled_centred_gradient_is_the_transformed_cd_gradient(persistent):
    """Same random numbers: centred CD/PCD equals the transform of rbm.cd_k / rbm.pcd_k."""
    W, b, c, mu, lam = tiny_centred(seed=6)
    Wo, bo, co = to_ordinary(W, b, c, mu, lam)
    rng = np.random.default_rng(7)
    v = (rng.random((12, 6)) < 0.5).astype(float)
    chain = (rng.random((9, 6)) < 0.5).astype(float)
    if persistent:
        got, new = centered_gradient(v, W, b, c, mu, lam, k=3, rng=8, chain=chain)
        want, new_o = rbm.pcd_k(v, chain, Wo, bo, co, k=3, rng=8)
        np.testing.assert_array_equal(new, new_o)
    else:
        got, new = centered_gradient(v, W, b, c, mu, lam, k=3, rng=8)
        want = rbm.cd_k(v, Wo, bo, co, k=3, rng=8)
        assert new.shape == v.shape
    for g, w in zip(got, transform(want, mu, lam), strict=True):
        np.testing.assert_allclose(g, w, atol=1e-12)


def test_update_offsets_keeps_the_distribution():
    W, b, c, mu, lam = tiny_centred(seed=9)
    new_mu, new_lam = np.full(6, 0.9), np.full(4, 0.1)
    b2, c2, mu2, lam2 = update_offsets(W, b, c, mu, lam, new_mu, new_lam, rate=0.25)
    np.testing.assert_allclose(mu2, 0.75 * mu + 0.25 * new_mu)
    np.testing.assert_allclose(lam2, 0.75 * lam + 0.25 * new_lam)
    for x, y in zip(to_ordinary(W, b2, c2, mu2, lam2), to_ordinary(W, b, c, mu, lam), strict=True):
        np.testing.assert_allclose(x, y, atol=1e-12)
    # separate rates per layer; rate 0 keeps an offset
    _, _, mu3, lam3 = update_offsets(W, b, c, mu, lam, new_mu, new_lam, rate=(0.0, 1.0))
    np.testing.assert_allclose(mu3, mu)
    np.testing.assert_allclose(lam3, new_lam)


def test_train_centered_climbs_the_exact_likelihood():
    rng = np.random.default_rng(10)
    # two prototypes, 111000 and 000111, each bit flipped with probability 0.05:
    # the true mean log-likelihood is about -1.9 nats, independent units get about -4.2
    proto = np.array([[1.0, 1, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1]])[rng.integers(0, 2, 500)]
    X = np.abs(proto - (rng.random((500, 6)) < 0.05))
    lls = []

    def score(epoch, W, b, c):
        return float(rbm.log_likelihood(X, W, b, c).mean())

    for centered in (True, False):
        W, b, c, history = train_centered(
            X, n_hidden=4, learning_rate=0.05, batch_size=20, n_epochs=30,
            centered=centered, random_state=12, callback=score,
        )  # fmt: skip
        assert len(history["epoch"]) == len(history["callback"]) == 30
        assert history["callback"][-1] == pytest.approx(score(0, W, b, c))
        lls.append(history["callback"])
    # the independent-units model is the reference: an RBM that learned something beats it
    p = X.mean(0).clip(1e-3, 1 - 1e-3)
    independent = float((X * np.log(p) + (1 - X) * np.log(1 - p)).sum(1).mean())
    for ll in lls:
        assert ll[-1] > ll[0]
        # measured: -2.08 (centred) and -1.93 (ordinary);
        # 1 nat above independent units is a clear margin
        assert ll[-1] > independent + 1.0


def _one_centred_batch(X, W, b, c, chain, eta, nu, offsets_first, rng):
    """One PCD-1 batch of a centred RBM written out from the formulas; ordinary form."""
    mu, lam = X.mean(axis=0), np.full(W.shape[1], 0.5)
    new_mu = X.mean(axis=0)
    new_lam = rbm.h_given_v(X, *to_ordinary(W, b, c, mu, lam)[::2]).mean(axis=0)

    def move(W, b, c, mu, lam):  # PyDeep's BipartiteGraph.update_offsets
        b = b + nu * W @ (new_lam - lam)
        c = c + nu * W.T @ (new_mu - mu)
        return b, c, (1 - nu) * mu + nu * new_mu, (1 - nu) * lam + nu * new_lam

    if offsets_first:
        b, c, mu, lam = move(W, b, c, mu, lam)
    (dW, db, dc), _ = centered_gradient(X, W, b, c, mu, lam, k=1, rng=rng, chain=chain)
    W, b, c = W + eta * dW, b + eta * db, c + eta * dc
    if not offsets_first:
        b, c, mu, lam = move(W, b, c, mu, lam)
    return to_ordinary(W, b, c, mu, lam)


@pytest.mark.parametrize("offsets_first", [False, True])
def test_train_centered_from_given_params_and_chains(offsets_first):
    rng = np.random.default_rng(3)
    X = (rng.random((20, 6)) < 0.3).astype(float)
    W, b, c = rng.normal(0, 1, (6, 4)), rng.normal(0, 1, 6), rng.normal(0, 1, 4)
    chain = (rng.random((20, 6)) < 0.5).astype(float)
    kwargs = dict(n_hidden=4, batch_size=20, learning_rate=0.1, offset_rate=0.2, shuffle=False)
    # no epoch: the given parameters are centred on the initial offsets (mean of X, 0.5)
    got = train_centered(X, n_epochs=0, params=(W, b, c), chains=chain, **kwargs)[:3]
    for x, y in zip(got, to_ordinary(W, b, c, X.mean(axis=0), np.full(4, 0.5)), strict=True):
        np.testing.assert_allclose(x, y, atol=1e-12)
    # one batch: train_centered makes the same step as the formulas, in either order
    got = train_centered(
        X, n_epochs=1, params=(W, b, c), chains=chain, offsets_first=offsets_first,
        random_state=np.random.default_rng(7), **kwargs,
    )[:3]  # fmt: skip
    want = _one_centred_batch(X, W, b, c, chain, 0.1, 0.2, offsets_first, np.random.default_rng(7))
    for x, y in zip(got, want, strict=True):
        np.testing.assert_allclose(x, y, atol=1e-12)
    # the two orders differ (by the offsets that centre the gradient)
    other = _one_centred_batch(
        X, W, b, c, chain, 0.1, 0.2, not offsets_first, np.random.default_rng(7)
    )
    assert np.abs(got[0] - other[0]).max() > 1e-4


def test_validation():
    W, b, c, mu, lam = tiny_centred()
    v = np.zeros((2, 6))
    with pytest.raises(ValueError, match="mu must have shape"):
        centered_gradient(v, W, b, c, mu[:5], lam)
    with pytest.raises(ValueError, match="lam must have shape"):
        centered_gradient(v, W, b, c, mu, np.zeros(6))
    with pytest.raises(ValueError, match="mu must hold values in"):
        to_ordinary(W, b, c, mu + 2, lam)
    with pytest.raises(ValueError, match="rate must lie in"):
        update_offsets(W, b, c, mu, lam, mu, lam, rate=1.5)
    with pytest.raises(ValueError, match="chain must have shape"):
        centered_gradient(v, W, b, c, mu, lam, chain=np.zeros((3, 5)))
    with pytest.raises(ValueError, match="init must be"):
        train_centered(v, n_hidden=2, n_epochs=1, init="bogus")
    with pytest.raises(ValueError, match="X must hold values in"):
        train_centered(v + 3, n_hidden=2, n_epochs=1)
    with pytest.raises(ValueError, match="chains needs persistent=True"):
        train_centered(v, n_hidden=2, n_epochs=1, persistent=False, chains=v)
    with pytest.raises(ValueError, match="params must have W of shape"):
        train_centered(v, n_hidden=2, n_epochs=1, params=(W, b, c))
