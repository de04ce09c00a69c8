"""AIS diagnostics (ESS, largest weight), RAISE and the fast AIS engine, against brute force.

The exact annealing model p_ann of RAISE is computed here by enumeration on 8
visible and 6 hidden units: p_ann = p_A T_1 T_2 ... T_K, with T_k the 256 x 256
matrix of one block-Gibbs step (v -> h -> v) of p_beta_k.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit, logsumexp
from test_ais import _random_model as _model

import rbm
from rbm import _fast
from rbm.ais import (
    AISResult,
    ais_log_partition,
    ais_runs_summary,
    default_betas,
    effective_sample_size,
    max_weight_share,
    raise_log_likelihood,
)


def _states(n):
    return ((np.arange(2**n)[:, None] >> np.arange(n)) & 1).astype(float)


def _bernoulli_rows(prob, states):
    """P(state | row) for each row of ``prob`` and each binary state: (len(prob), len(states))."""
    return np.prod(np.where(states[None] == 1, prob[:, None], 1 - prob[:, None]), axis=2)


def _transition(W, b, c, beta, base):
    """T[v, v'] of one block-Gibbs step of p_beta, by enumeration."""
    V, H = _states(W.shape[0]), _states(W.shape[1])
    p_h = _bernoulli_rows(expit(beta * (V @ W + c)), H)
    p_v = _bernoulli_rows(expit(beta * (H @ W.T) + (1 - beta) * base + beta * b), V)
    return p_h @ p_v


def _log_p_ann(W, b, c, betas, base):
    """log p_ann(v) for every visible state: p_A, then T_1, ..., T_K."""
    V = _states(W.shape[0])
    p = _bernoulli_rows(expit(base)[None], V)[0]
    for beta in betas[1:]:
        p = p @ _transition(W, b, c, beta, base)
    return np.log(p)


# ----------------------------------------------------------------------------- diagnostics


def test_ess_and_largest_share_on_known_weights():
    assert effective_sample_size(np.zeros(10)) == pytest.approx(10)
    assert max_weight_share(np.zeros(10)) == pytest.approx(0.1)
    # one weight e^800 against nine of 1: ESS 1 and share 1, without overflow
    lw = np.r_[800.0, np.zeros(9)]
    assert effective_sample_size(lw) == pytest.approx(1.0)
    assert max_weight_share(lw) == pytest.approx(1.0)
    # weights 1, 1, 2, 0: (4)^2 / 6 and 2 / 4; a zero weight (-inf) is allowed
    lw = np.log([1.0, 1.0, 2.0, 1e-300])
    lw[-1] = -np.inf
    assert effective_sample_size(lw) == pytest.approx(16 / 6)
    assert max_weight_share(lw) == pytest.approx(0.5)
    # shifting every log weight changes nothing
    lw = np.random.default_rng(0).normal(0, 2, 50)
    assert effective_sample_size(lw + 1000) == pytest.approx(effective_sample_size(lw))


def test_result_properties_and_runs_summary():
    W, b, c = _model(10, 6, 1.0, 0)
    runs = [ais_log_partition(W, b, c, 30, default_betas(100), rng=s) for s in range(4)]
    res = runs[0]
    assert res.ess == pytest.approx(effective_sample_size(res.log_weights))
    assert res.max_weight_share == pytest.approx(max_weight_share(res.log_weights))
    assert 1 <= res.ess <= 30 and 1 / 30 <= res.max_weight_share <= 1
    summary = ais_runs_summary(runs)
    log_z = [r.log_z for r in runs]
    assert summary.n_runs == 4
    assert summary.mean_log_z == pytest.approx(np.mean(log_z))
    assert summary.sd_log_z == pytest.approx(np.std(log_z, ddof=1))
    pooled = np.concatenate([r.log_weights for r in runs])
    assert summary.pooled_log_z == pytest.approx(
        res.log_z_base + logsumexp(pooled) - np.log(len(pooled))
    )
    assert summary.pooled_ess == pytest.approx(effective_sample_size(pooled))


def test_diagnostics_reject_bad_input():
    with pytest.raises(ValueError, match="log_weights must be a non-empty"):
        effective_sample_size([])
    with pytest.raises(ValueError, match="log_weights must hold no NaN"):
        max_weight_share([0.0, np.nan])
    with pytest.raises(ValueError, match="log_weights must hold no NaN"):
        effective_sample_size([-np.inf, -np.inf])
    W, b, c = _model(5, 3, 1.0, 0)
    one = ais_log_partition(W, b, c, 5, default_betas(10), rng=0)
    with pytest.raises(ValueError, match="results must be a sequence of at least 2"):
        ais_runs_summary([one])
    other = ais_log_partition(W, b, c, 5, default_betas(10), base=np.ones(5), rng=0)
    with pytest.raises(ValueError, match="results must share one base-rate model"):
        ais_runs_summary([one, other])


# ----------------------------------------------------------------------------- RAISE


def test_raise_is_exact_when_the_model_is_the_base_model():
    # W = 0 and base = b: every p_beta is the same model, every weight is p(v) exactly
    rng = np.random.default_rng(0)
    W, b, c = np.zeros((7, 4)), rng.normal(size=7), rng.normal(size=4)
    X = (rng.random((5, 7)) < 0.5).astype(float)
    res = raise_log_likelihood(X, W, b, c, betas=default_betas(20), base=b, n_chains=3, rng=1)
    exact = rbm.log_likelihood(X, W, b, c)
    np.testing.assert_allclose(res.log_weights, np.repeat(exact[:, None], 3, axis=1), atol=1e-10)
    np.testing.assert_allclose(res.log_p, exact, atol=1e-10)


def test_raise_with_one_step_is_the_closed_form():
    """betas = [0, 1]: w = p*_1(v) p*_0(x) / (Z_A p*_1(x)) with x ~ T_1(. | v).

    Hence E[w] = sum_x T(x | v) p*_1(v) p*_0(x) / (Z_A p*_1(x)), which by
    reversibility, p_1(v) T(x | v) = p_1(x) T(v | x), is sum_x p_A(x) T(v | x) = p_ann(v).
    """
    W, b, c = _model(8, 6, 0.5, 1)
    base = np.random.default_rng(2).normal(0, 0.5, 8)
    betas = np.array([0.0, 1.0])
    V = _states(8)
    log_f1 = -rbm.free_energy(V, W, b, c)
    log_f0 = V @ base + 6 * np.log(2.0)
    log_za = np.logaddexp(0, base).sum() + 6 * np.log(2.0)
    T = _transition(W, b, c, 1.0, base)
    t = 37  # one test vector
    per_x = log_f1[t] - log_za + log_f0 - log_f1  # the weight for each reverse state x
    closed = logsumexp(per_x, b=T[t])
    assert closed == pytest.approx(_log_p_ann(W, b, c, betas, base)[t], abs=1e-12)
    res = raise_log_likelihood(V[[t]], W, b, c, betas=betas, base=base, n_chains=20000, rng=3)
    lw = res.log_weights[0]
    # every chain's weight is one of the 256 values of the closed form
    assert np.all(np.min(np.abs(lw[:, None] - per_x[None]), axis=1) < 1e-9)
    # and their mean is p_ann(v): 20,000 chains, within 4 standard errors of the mean
    ratio = np.exp(lw - closed)
    assert abs(ratio.mean() - 1) < 4 * ratio.std(ddof=1) / np.sqrt(len(ratio))


def test_raise_weights_are_unbiased_for_the_annealing_model():
    W, b, c = _model(8, 6, 1.0, 4)
    betas = default_betas(5)
    exact_ann = _log_p_ann(W, b, c, betas, np.zeros(8))
    X = _states(8)[[3, 77, 200]]
    idx = [3, 77, 200]
    res = raise_log_likelihood(X, W, b, c, betas=betas, n_chains=20000, rng=5)
    ratio = np.exp(res.log_weights - exact_ann[idx, None])
    se = ratio.std(axis=1, ddof=1) / np.sqrt(ratio.shape[1])
    # E[w] = p_ann(v) exactly: each mean within 4 standard errors (3 tests: false alarm < 2e-4)
    assert np.all(np.abs(ratio.mean(axis=1) - 1) < 4 * se)


def test_raise_with_a_long_schedule_reaches_the_exact_log_likelihood():
    W, b, c = _model(8, 6, 1.0, 0)
    V = _states(8)
    exact = rbm.log_likelihood(V, W, b, c)
    idx = np.random.default_rng(1).choice(256, 10, p=np.exp(exact))
    res = raise_log_likelihood(V[idx], W, b, c, betas=default_betas(1000), n_chains=100, rng=2)
    # p_ann is within 1e-6 nats of p here (enumerated), so what is left is the
    # Monte Carlo error of 100 chains: observed below 0.03 nats per example with
    # several seeds; 0.1 per example and 0.05 for the mean leave a margin of 3.
    assert np.max(np.abs(res.log_p - exact[idx])) < 0.1
    assert abs(res.mean_log_p - exact[idx].mean()) < 0.05


def test_raise_with_a_short_schedule_is_conservative_on_average():
    """A hard model (weights N(0, 2^2)) and 5 steps: the estimates fall well below.

    Measured: log w - log p_ann averages -2.2 nats over 20 model samples x 500
    chains, with a standard error of 0.02; so does RAISE with one chain against
    the exact log p(v) of these samples. p_ann itself is *not* below p for every
    v (nor even on average over these 20 samples: +0.004 nats), which is why
    RAISE is no hard bound on the RBM's log p(v).
    """
    W, b, c = _model(8, 6, 2.0, 3)
    V = _states(8)
    betas = default_betas(5)
    exact = rbm.log_likelihood(V, W, b, c)
    log_ann = _log_p_ann(W, b, c, betas, np.zeros(8))
    # averaged over the model's own distribution, p_ann is below p (a KL divergence)
    assert np.sum(np.exp(exact) * (log_ann - exact)) <= 0
    idx = np.random.default_rng(1).choice(256, 20, p=np.exp(exact))
    res = raise_log_likelihood(V[idx], W, b, c, betas=betas, n_chains=500, rng=2)
    gap = res.log_weights - log_ann[idx, None]  # one-chain estimates minus log p_ann
    se = gap.mean(axis=1).std(ddof=1) / np.sqrt(len(idx))
    assert gap.mean() < -10 * se  # below log p_ann by many standard errors (Jensen)
    assert res.log_weights.mean() < exact[idx].mean() - 1  # and below log p, on these samples
    assert np.all(res.log_p < log_ann[idx] + 0.5)  # 500 chains: P(> +0.5) <= e^-0.5 each...
    # ... by Markov's inequality; in fact all 20 are below log p_ann (heavy-tailed weights)


def test_raise_float32_uses_the_fast_engine_and_agrees():
    W, b, c = _model(8, 6, 1.0, 0)
    V = _states(8)
    exact = rbm.log_likelihood(V, W, b, c)
    idx = np.random.default_rng(1).choice(256, 10, p=np.exp(exact))
    res = raise_log_likelihood(
        V[idx], W.astype(np.float32), b, c, betas=default_betas(1000), n_chains=100, rng=2
    )
    # as the float64 test above: Monte Carlo error of 100 chains (float32 rounding: ~1e-5)
    assert abs(res.mean_log_p - exact[idx].mean()) < 0.05


def test_raise_is_finite_on_extreme_parameters():
    W, b, c = _model(8, 6, 40.0, 9)
    X = (np.random.default_rng(0).random((4, 8)) < 0.5).astype(float)
    for dtype in (np.float64, np.float32):
        res = raise_log_likelihood(
            X, W.astype(dtype), b, c, betas=default_betas(10), n_chains=5, rng=0
        )
        assert np.all(np.isfinite(res.log_p)) and np.all(np.isfinite(res.log_weights))
        assert np.all(res.log_p < 1e-6)  # log-probabilities (up to the estimate's spread)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(X=np.full((2, 5), 0.5)), "X must be binary"),
        (dict(X=np.zeros((2, 4))), "X must have shape"),
        (dict(n_chains=0), "n_chains must be >= 1"),
        (dict(betas=[0.0, 0.5]), "start at 0 and end at 1"),
        (dict(base=np.zeros(3)), "base must have shape"),
    ],
)
def test_raise_rejects_bad_arguments(kwargs, match):
    W, b, c = _model(5, 3, 1.0, 0)
    args = {"X": np.zeros((2, 5))} | kwargs
    X = args.pop("X")
    with pytest.raises((ValueError, TypeError), match=match):
        raise_log_likelihood(X, W, b, c, **args)


# ----------------------------------------------------------------------------- the fast engine


def _engine_inputs(seed, n_visible=20, n_hidden=10, n_chains=50, scale=1.0):
    W, b, c = _model(n_visible, n_hidden, scale, seed)
    base = np.random.default_rng(seed + 1).normal(0, 1, n_visible)
    v = (np.random.default_rng(seed + 2).random((n_chains, n_visible)) < 0.5).astype(float)
    return v, W, b, c, base


@pytest.mark.parametrize("betas", [default_betas(100), np.array([0.0, 0.3, 1.0])])
def test_compiled_engine_matches_its_numpy_twin(betas):
    # the same keys give the same draws, so the log weights agree to rounding; the
    # coarse schedule (delta up to ~10) takes math.expm1, the fine one the series
    v, W, b, c, base = _engine_inputs(0)
    W = W.astype(np.float32)
    v_before = v.copy()
    fast = _fast.anneal(v, betas, W, b, c, base, np.random.default_rng(1))
    np.testing.assert_array_equal(v, v_before)  # the starting states are not overwritten
    with _fast.numpy_twins():
        twin = _fast.anneal(v, betas, W, b, c, base, np.random.default_rng(1))
    # The draws are the same, the log weights agree to rounding: the compiled sums
    # run in another order and contract the float32 sigmoid into fused multiply-adds,
    # which moves each hidden term by ~1e-7 of itself (terms summing to ~20 nats here;
    # observed: 1e-7).
    np.testing.assert_allclose(fast, twin, rtol=0, atol=1e-6)
    # and reverse runs too (decreasing betas)
    fast = _fast.anneal(v, betas[::-1], W, b, c, base, np.random.default_rng(2))
    with _fast.numpy_twins():
        twin = _fast.anneal(v, betas[::-1], W, b, c, base, np.random.default_rng(2))
    np.testing.assert_allclose(fast, twin, rtol=0, atol=1e-6)


def test_float32_engine_log_weights_match_float64():
    """float32 products against float64 products, with the same draws.

    Bound: a = v W in float32 is off by at most ~n_visible * 2^-24 * max_j sum_i |W_ij|
    (about 2e-5 here), which moves each step's hidden term by |delta beta| times
    that per unit: summed over the schedule (sum |delta beta| = 1) and 10 units,
    2e-4 at the very worst, typically 100 times less. A Bernoulli draw flips only if
    a probability falls within a float32 rounding of its uniform (chance ~1e-7 per
    draw, 1.5e5 draws): then that chain is allowed to differ.
    """
    v, W, b, c, base = _engine_inputs(3)
    betas = default_betas(100)
    lw64 = _fast.anneal(v, betas, W, b, c, base, np.random.default_rng(1))
    lw32 = _fast.anneal(v, betas, W.astype(np.float32), b, c, base, np.random.default_rng(1))
    close = np.abs(lw32 - lw64) < 2e-4
    assert close.mean() >= 0.9
    assert np.median(np.abs(lw32 - lw64)) < 2e-5


def test_float32_engine_against_the_numpy_loop_in_distribution():
    # other draws, same estimator: both land on the exact log Z of an easy model
    W, b, c = _model(20, 8, 0.5, 1)
    exact = rbm.log_partition(W, b, c)
    r32 = ais_log_partition(W.astype(np.float32), b, c, 200, default_betas(300), rng=0)
    r64 = ais_log_partition(W, b, c, 200, default_betas(300), rng=0)
    # both errors were below 0.02 nats with several seeds; 0.1 is a margin of 5
    assert abs(r32.log_z - exact) < 0.1 and abs(r64.log_z - exact) < 0.1
    assert isinstance(r32, AISResult) and r32.log_weights.dtype == np.float64
