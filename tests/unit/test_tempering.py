"""Parallel tempering: exact invariance of the swap move, and sampling a bimodal RBM."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import rbm
from rbm.tempering import _swap_log_acceptance


def _all_states(n):
    return np.array(list(itertools.product([0.0, 1.0], repeat=n)))


def _state_index(v):
    # row of _all_states(n) that equals v (most significant bit first)
    return (v @ (2 ** np.arange(v.shape[-1])[::-1])).astype(int)


def bimodal_model(n_visible=6, n_hidden=4, a=2.0):
    """W = a everywhere, biases chosen so that flipping every unit is a symmetry.

    The energy is invariant under (v, h) -> (1 - v, 1 - h): p(v) has two equal
    modes, all-off and all-on, separated by a barrier that block Gibbs crosses
    rarely (each carries about 44% of the mass for a = 2).
    """
    W = np.full((n_visible, n_hidden), a)
    b = np.full(n_visible, -a * n_hidden / 2)
    c = np.full(n_hidden, -a * n_visible / 2)
    return W, b, c


def _tv(samples, p):
    counts = np.bincount(_state_index(samples), minlength=len(p))
    return 0.5 * np.abs(counts / len(samples) - p).sum()


def _tv_bound(p, n, fail=1e-6):
    """A level that the TV distance of n iid draws from p exceeds with probability < fail.

    E[TV] <= 0.5 * sum_x sqrt(p(x) / n) (Jensen, per state), and TV changes by at
    most 1/n when one draw changes, so McDiarmid's inequality gives
    P(TV > E[TV] + t) <= exp(-2 n t^2); t = sqrt(log(1/fail) / (2n)).
    """
    return 0.5 * np.sqrt(p / n).sum() + np.sqrt(np.log(1 / fail) / (2 * n))


def _tempered(W, b, c, beta):
    return beta * W, beta * b, beta * c


def test_bimodal_model_is_bimodal():
    W, b, c = bimodal_model()
    V = _all_states(6)
    p = np.exp(rbm.log_likelihood(V, W, b, c))
    assert p[0] == pytest.approx(p[-1], rel=1e-12)
    assert p[0] + p[-1] > 0.8


@pytest.mark.slow
def test_pt_matches_exact_distribution_and_beats_gibbs():
    W, b, c = bimodal_model()
    V = _all_states(6)
    p = np.exp(rbm.log_likelihood(V, W, b, c))
    n, steps = 3000, 50
    betas = rbm.temperature_ladder(6, beta_min=0.2)
    # independent chains, all started in one mode (all-off); the last state of each
    # chain is one draw, so the n draws are iid from the chain's law after `steps` steps
    chains = np.zeros((len(betas), n, 6))
    new, acceptance = rbm.pt_step(chains, W, b, c, betas, k=steps, rng=0)
    gibbs = rbm.gibbs(np.zeros((n, 6)), W, b, c, k=steps, rng=1)
    bound = _tv_bound(p, n)  # about 0.08 here
    tv_pt, tv_gibbs = _tv(new[0], p), _tv(gibbs, p)
    assert tv_pt < bound, (tv_pt, bound)
    # Gibbs with the same number of steps has not yet moved half the chains into the
    # other mode: its TV is above 0.3 (measured 0.47), far beyond sampling noise
    assert tv_gibbs > 0.3
    assert tv_gibbs > 3 * bound
    assert acceptance.shape == (len(betas) - 1,)
    assert np.all((acceptance > 0) & (acceptance <= 1))


def test_swap_kernel_satisfies_detailed_balance_exactly():
    rng = np.random.default_rng(3)
    n_visible, n_hidden = 3, 2
    W = rng.normal(0, 2.0, (n_visible, n_hidden))
    b, c = rng.normal(0, 1, n_visible), rng.normal(0, 1, n_hidden)
    beta_r, beta_s = 1.0, 0.4
    V = _all_states(n_visible)
    log_p_r = rbm.log_likelihood(V, *_tempered(W, b, c, beta_r))
    log_p_s = rbm.log_likelihood(V, *_tempered(W, b, c, beta_s))
    # every pair of states (x, y): replica r holds x, replica s holds y
    x = np.repeat(np.arange(len(V)), len(V))
    y = np.tile(np.arange(len(V)), len(V))
    log_a = _swap_log_acceptance(V[x], V[y], W, b, c, beta_r, beta_s)
    accept = np.minimum(1.0, np.exp(log_a))
    # flux (x, y) -> (y, x) equals flux (y, x) -> (x, y) under the product target
    pi = np.exp(log_p_r[x] + log_p_s[y])
    flux = (pi * accept).reshape(len(V), len(V))
    np.testing.assert_allclose(flux, flux.T, rtol=1e-10, atol=1e-15)
    # and the swap kernel, as a matrix on the 64 joint states, leaves pi invariant
    K = np.zeros((len(x), len(x)))
    swapped = y * len(V) + x
    K[np.arange(len(x)), swapped] += accept
    K[np.arange(len(x)), np.arange(len(x))] += 1 - accept
    np.testing.assert_allclose(pi @ K, pi, rtol=1e-10, atol=1e-15)
    # acceptance < 1 somewhere, so the test is not vacuous
    assert accept.min() < 0.5


def _gibbs_kernel(W, b, c):
    """Exact block-Gibbs transition matrix on visible states, T[v, v'] = sum_h p(h|v) p(v'|h)."""
    V, H = _all_states(W.shape[0]), _all_states(W.shape[1])
    ph = rbm.h_given_v(V, W, c)  # (nV, n_hidden)
    p_h = np.prod(np.where(H[None] == 1, ph[:, None], 1 - ph[:, None]), axis=2)  # (nV, nH)
    pv = rbm.v_given_h(H, W, b)
    p_v = np.prod(np.where(V[None] == 1, pv[:, None], 1 - pv[:, None]), axis=2)  # (nH, nV)
    return p_h @ p_v


@pytest.mark.slow
def test_one_pt_step_has_the_exact_transition_law():
    """From a fixed pair of states, the empirical law of one pt_step is the exact kernel row."""
    rng = np.random.default_rng(4)
    n_visible, n_hidden = 3, 2
    W = rng.normal(0, 2.0, (n_visible, n_hidden))
    b, c = rng.normal(0, 1, n_visible), rng.normal(0, 1, n_hidden)
    betas = np.array([1.0, 0.4])
    V = _all_states(n_visible)
    n_states = len(V)
    T = [_gibbs_kernel(*_tempered(W, b, c, beta)) for beta in betas]
    x = np.repeat(np.arange(n_states), n_states)
    y = np.tile(np.arange(n_states), n_states)
    accept = np.minimum(1, np.exp(_swap_log_acceptance(V[x], V[y], W, b, c, *betas)))
    # full kernel: independent Gibbs steps, then the swap
    G = np.kron(T[0], T[1])
    S = np.zeros((len(x), len(x)))
    S[np.arange(len(x)), y * n_states + x] += accept
    S[np.arange(len(x)), np.arange(len(x))] += 1 - accept
    K = G @ S
    # the product of tempered marginals is invariant under the whole step
    log_p = [rbm.log_likelihood(V, *_tempered(W, b, c, beta)) for beta in betas]
    pi = np.exp(log_p[0][x] + log_p[1][y])
    np.testing.assert_allclose(pi @ K, pi, rtol=1e-10, atol=1e-15)
    # empirical law of the implementation from the state (v_r, v_s) = (V[5], V[2])
    n = 20000
    start = np.stack([np.repeat(V[[5]], n, axis=0), np.repeat(V[[2]], n, axis=0)])
    new, _ = rbm.pt_step(start, W, b, c, betas, k=1, rng=5)
    joint = _state_index(new[0]) * n_states + _state_index(new[1])
    emp = np.bincount(joint, minlength=len(x)) / n
    row = K[5 * n_states + 2]
    assert 0.5 * np.abs(emp - row).sum() < _tv_bound(row, n)


def test_pt_gradient_uses_the_beta_one_replicas():
    rng = np.random.default_rng(0)
    W, b, c = rng.normal(0, 1, (5, 3)), rng.normal(0, 1, 5), rng.normal(0, 1, 3)
    v = (rng.random((8, 5)) < 0.5).astype(float)
    betas = rbm.temperature_ladder(3, 0.5)
    chains = (rng.random((3, 7, 5)) < 0.5).astype(float)
    (dW, db, dc), new = rbm.pt_gradient(v, chains, W, b, c, betas, k=2, rng=9)
    new_again, _ = rbm.pt_step(chains, W, b, c, betas, k=2, rng=9)
    np.testing.assert_array_equal(new, new_again)  # same rng, same replicas
    ph, ph_neg = rbm.h_given_v(v, W, c), rbm.h_given_v(new[0], W, c)
    np.testing.assert_allclose(dW, v.T @ ph / 8 - new[0].T @ ph_neg / 7)
    np.testing.assert_allclose(db, v.mean(0) - new[0].mean(0))
    np.testing.assert_allclose(dc, ph.mean(0) - ph_neg.mean(0))
    assert new.shape == chains.shape
    assert set(np.unique(new)) <= {0.0, 1.0}


def test_pt_gradient_climbs_the_exact_gradient_on_average():
    """Averaged over many replicas, the PT negative phase gives the exact gradient."""
    W, b, c = bimodal_model(a=1.0)
    rng = np.random.default_rng(1)
    v = (rng.random((20, 6)) < 0.3).astype(float)
    betas = rbm.temperature_ladder(4, 0.3)
    n = 4000
    chains, _ = rbm.pt_step(np.zeros((4, n, 6)), W, b, c, betas, k=30, rng=2)
    (dW, db, dc), _ = rbm.pt_gradient(v, chains, W, b, c, betas, k=1, rng=3)
    eW, eb, ec = rbm.log_likelihood_gradient(v, W, b, c)
    # each entry of the negative phase is a mean of n draws of quantities in [0, 1]:
    # standard error <= 0.5 / sqrt(n) = 0.008; 0.05 is six standard errors
    assert np.abs(db - eb).max() < 0.05
    assert np.abs(dc - ec).max() < 0.05
    assert np.abs(dW - eW).max() < 0.05


@pytest.mark.parametrize(
    ("betas", "match"),
    [
        ([0.5, 1.0], "betas\\[0\\] must be 1"),
        ([1.0, 1.0, 0.5], "strictly decreasing"),
        ([1.0, 0.5, 0.7], "strictly decreasing"),
        ([1.0, 0.0], r"\(0, 1\]"),
        ([1.0, -0.5], r"\(0, 1\]"),
        ([[1.0, 0.5]], "1-dimensional"),
    ],
)
def test_bad_betas_are_rejected(betas, match):
    W, b, c = bimodal_model()
    chains = np.zeros((np.asarray(betas).size, 2, 6))
    with pytest.raises(ValueError, match=match):
        rbm.pt_step(chains, W, b, c, betas)


def test_bad_chains_are_rejected():
    W, b, c = bimodal_model()
    betas = [1.0, 0.5]
    with pytest.raises(ValueError, match="n_temperatures, n_chains, n_visible"):
        rbm.pt_step(np.zeros((3, 2, 6)), W, b, c, betas)
    with pytest.raises(ValueError, match="n_temperatures, n_chains, n_visible"):
        rbm.pt_step(np.zeros((2, 2, 5)), W, b, c, betas)
    with pytest.raises(ValueError, match="3-dimensional"):
        rbm.pt_step(np.zeros((2, 6)), W, b, c, betas)
    with pytest.raises(ValueError, match="chains must hold values in"):
        rbm.pt_step(np.full((2, 2, 6), 2.0), W, b, c, betas)
    with pytest.raises(ValueError, match="k must be"):
        rbm.pt_step(np.zeros((2, 2, 6)), W, b, c, betas, k=0)


def test_temperature_ladder():
    betas = rbm.temperature_ladder(5, 0.2)
    np.testing.assert_allclose(betas, [1.0, 0.8, 0.6, 0.4, 0.2])
    with pytest.raises(ValueError, match="beta_min"):
        rbm.temperature_ladder(5, 1.0)
    with pytest.raises(ValueError, match="n_temperatures"):
        rbm.temperature_ladder(1, 0.5)
