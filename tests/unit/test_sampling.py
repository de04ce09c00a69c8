"""Statistical tests of rbm.sampling (and the stochastic pseudo-likelihood), and determinism.

Every statistical test runs with a fixed seed, so it is deterministic; its tolerance
is still chosen as if the seed were random, so that a correct sampler would fail it
with negligible probability and a wrong one fails it by a wide margin:

- means are compared within 5 standard errors, the standard error estimated from
  independent repeats (a correct estimator is outside 5 SE with probability ~6e-7
  per entry under the normal approximation);
- distributions over all 2^n_visible states are compared with Pearson's chi-square
  statistic against its 1 - 1e-6 quantile (bins with fewer than 5 expected counts
  pooled, so that the chi-square approximation holds).

Exact references (p(v), the model's moments, one Gibbs step's transition matrix)
come from ``conftest.BruteForce``.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from scipy import stats

import rbm

Z_TOL = 5.0  # standard errors
CHI2_LEVEL = 1e-6  # false-alarm probability of each chi-square test


def _chi2_ok(chi_square, counts, probs):
    statistic, df = chi_square(counts, probs)
    bound = stats.chi2.isf(CHI2_LEVEL, df)
    return statistic < bound, f"chi-square {statistic:.1f} >= {bound:.1f} (df={df})"


def _state_counts(brute, states, n_visible):
    return np.bincount(brute.index_of(states), minlength=2**n_visible)


def _mean_and_se(draws):
    """Mean and standard error of the mean over the first axis (independent repeats)."""
    draws = np.asarray(draws, dtype=np.float64)
    return draws.mean(axis=0), draws.std(axis=0, ddof=1) / np.sqrt(len(draws))


def _flat(grads):
    return np.concatenate([np.ravel(g) for g in grads])


def _bimodal_model():
    """A 6 x 2 RBM with two modes, v = 0 and v = 1, that block Gibbs crosses slowly.

    All weights 2, b = -2, c = -6: flipping every unit and every hidden unit maps E to
    itself, so p(0) = p(1) ~ 0.22. Exact transition matrices (conftest) show how slowly a
    chain started at v = 0 forgets its start: the largest entry of the CD-k bias is 0.41
    for k = 1, 0.31 for k = 5, 0.01 for k = 50 and below 1e-7 for k = 200.
    """
    n_visible, n_hidden, w = 6, 2, 2.0
    W = np.full((n_visible, n_hidden), w)
    return W, np.full(n_visible, -w * n_hidden / 2), np.full(n_hidden, -w * n_visible / 2)


def _exact_cd_expectation(ref, data, W, c, k):
    """E[cd_k(data)] exactly: the data's empirical distribution pushed k steps through T."""
    q = np.bincount(ref.index_of(data), minlength=len(ref.V)) / len(data)
    q_k = q @ np.linalg.matrix_power(ref.transition_matrix(), k)
    ph_states = 1 / (1 + np.exp(-(ref.V @ W + c)))
    ph_data = 1 / (1 + np.exp(-(data @ W + c)))
    dW = data.T @ ph_data / len(data) - (ref.V * q_k[:, None]).T @ ph_states
    db = data.mean(axis=0) - q_k @ ref.V
    dc = ph_data.mean(axis=0) - q_k @ ph_states
    return _flat((dW, db, dc))


def _repeated_cd(data, W, b, c, k, n_repeats, seed):
    """n_repeats independent CD-k estimates (each on the whole batch), flattened."""
    rng = np.random.default_rng(seed)
    return np.array([_flat(rbm.cd_k(data, W, b, c, k, rng)) for _ in range(n_repeats)])


# -- Bernoulli sampling and Gibbs --------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sample_bernoulli_frequencies_match_p(dtype):
    p = np.array([0.0, 1e-3, 0.1, 0.25, 0.5, 0.75, 0.9, 0.999, 1.0], dtype=dtype)
    n = 40_000
    draws = rbm.sample_bernoulli(np.tile(p, (n, 1)), rng=0)
    assert draws.dtype == dtype and draws.shape == (n, len(p))
    assert set(np.unique(draws)) <= {0.0, 1.0}
    freq = draws.mean(axis=0, dtype=np.float64)
    assert freq[0] == 0.0 and freq[-1] == 1.0  # p = 0 and p = 1 are exact
    inner = slice(1, -1)
    se = np.sqrt(p[inner] * (1 - p[inner]) / n)  # binomial standard error of a frequency
    np.testing.assert_array_less(np.abs(freq[inner] - p[inner]), Z_TOL * se)


def test_sample_bernoulli_keeps_any_shape():
    p = np.full((2, 3, 4), 0.5)
    assert rbm.sample_bernoulli(p, rng=1).shape == (2, 3, 4)


def test_one_gibbs_step_follows_the_transition_matrix(make_model, brute, chi_square):
    # From one fixed v, one step v -> h -> v' must draw v' from T[v, :] exactly.
    W, b, c = make_model(21, 4, 3, 1.0)
    ref = brute(W, b, c)
    v0 = np.array([[1.0, 0.0, 1.0, 1.0]])
    samples = rbm.gibbs(np.repeat(v0, 8000, axis=0), W, b, c, k=1, rng=1)
    counts = _state_counts(ref, samples, 4)
    ok, msg = _chi2_ok(chi_square, counts, ref.transition_matrix()[ref.index_of(v0)[0]])
    assert ok, msg


@pytest.mark.parametrize("scale", [0.5, 1.0])
def test_gibbs_after_many_steps_samples_exact_p_v(scale, make_model, brute, chi_square):
    # 5000 independent chains from v = 0, 100 steps each: a 5 x 3 model with weights of
    # scale <= 1 mixes in a few steps (its transition matrix's second eigenvalue is < 0.5,
    # so after 100 steps the distance to p(v) is below 0.5^100).
    W, b, c = make_model(22, 5, 3, scale)
    ref = brute(W, b, c)
    assert np.sort(np.abs(np.linalg.eigvals(ref.transition_matrix())))[-2] < 0.5
    samples = rbm.gibbs(np.zeros((5000, 5)), W, b, c, k=100, rng=2)
    assert set(np.unique(samples)) <= {0.0, 1.0}
    ok, msg = _chi2_ok(chi_square, _state_counts(ref, samples, 5), np.exp(ref.log_p_v_all))
    assert ok, msg


# -- CD-k ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["random", "bimodal"])
def test_cd_with_many_steps_approaches_the_exact_gradient(model, make_model):
    if model == "random":
        W, b, c = make_model(23, 5, 4, 1.0)
        data = np.random.default_rng(24).integers(0, 2, (8, 5)).astype(float)
        data = np.tile(data, (12, 1))  # 96 rows, the same empirical distribution
    else:
        W, b, c = _bimodal_model()
        data = np.zeros((100, 6))  # all the data sit in one mode
    exact = _flat(rbm.log_likelihood_gradient(data, W, b, c))
    # 40 independent repeats of CD-200: ~4000 chains in all, SE ~ 0.5 / sqrt(4000) ~ 0.008.
    mean, se = _mean_and_se(_repeated_cd(data, W, b, c, 200, 40, seed=25))
    assert se.max() < 0.02  # the test has power: a bias of 0.1 would be > 5 SE
    np.testing.assert_array_less(np.abs(mean - exact), Z_TOL * se + 1e-12)


@pytest.mark.parametrize("model", ["random", "bimodal"])
def test_cd_1_mean_equals_its_exact_expectation(model, make_model, brute):
    # E[CD-1] is computable exactly: the data's distribution pushed one step through T.
    if model == "random":
        W, b, c = make_model(26, 5, 4, 1.0)
        data = np.random.default_rng(27).integers(0, 2, (100, 5)).astype(float)
    else:
        W, b, c = _bimodal_model()
        data = np.zeros((100, 6))
    expected = _exact_cd_expectation(brute(W, b, c), data, W, c, k=1)
    mean, se = _mean_and_se(_repeated_cd(data, W, b, c, 1, 40, seed=28))
    np.testing.assert_array_less(np.abs(mean - expected), Z_TOL * se + 1e-12)


def test_cd_1_is_biased_where_the_chain_mixes_slowly():
    # In the bimodal model, one Gibbs step from the data's mode (v = 0) almost never
    # reaches the other mode, so CD-1 misses half of the model's mass: its bias (0.41
    # at most, computed exactly) is hundreds of standard errors (per-chain SD <= 0.08,
    # 4000 chains: SE ~ 1e-3), so "more than 100 SE" has a wide margin; CD-200 has
    # forgotten its start (exact bias < 1e-7) and must be within 5 SE.
    W, b, c = _bimodal_model()
    data = np.zeros((100, 6))
    exact = _flat(rbm.log_likelihood_gradient(data, W, b, c))
    mean_1, se_1 = _mean_and_se(_repeated_cd(data, W, b, c, 1, 40, seed=29))
    mean_200, se_200 = _mean_and_se(_repeated_cd(data, W, b, c, 200, 40, seed=30))
    z_1 = np.abs(mean_1 - exact) / (se_1 + 1e-12)
    z_200 = np.abs(mean_200 - exact) / (se_200 + 1e-12)
    assert z_1.max() > 20 * Z_TOL, f"CD-1 is only {z_1.max():.1f} SE from the exact gradient"
    assert np.abs(mean_1 - exact).max() > 0.3
    assert z_200.max() < Z_TOL, f"CD-200 is {z_200.max():.1f} SE from the exact gradient"


# -- PCD-k --------------------------------------------------------------------------------------


def test_pcd_chains_sample_the_model_and_give_the_exact_gradient(make_model, brute, chi_square):
    W, b, c = make_model(31, 5, 3, 1.0)
    ref = brute(W, b, c)
    # Second eigenvalue of the one-step transition matrix < 0.5: after 80 steps the chains'
    # distance to p(v) is below 0.5^80, far under what 5000 samples can detect.
    assert np.sort(np.abs(np.linalg.eigvals(ref.transition_matrix())))[-2] < 0.5
    data = np.random.default_rng(32).integers(0, 2, (20, 5)).astype(float)
    rng = np.random.default_rng(33)
    chain = np.zeros((5000, 5))  # 5000 independent persistent chains, started far from p(v)
    for _ in range(40):  # 40 updates of 2 steps: 80 Gibbs steps, far beyond the mixing time
        (dW, db, dc), chain = rbm.pcd_k(data, chain, W, b, c, k=2, rng=rng)
    ok, msg = _chi2_ok(chi_square, _state_counts(ref, chain, 5), np.exp(ref.log_p_v_all))
    assert ok, msg

    # The returned estimate is data statistics minus statistics of the returned chains...
    ph_data, ph_chain = rbm.h_given_v(data, W, c), rbm.h_given_v(chain, W, c)
    np.testing.assert_allclose(dW, data.T @ ph_data / 20 - chain.T @ ph_chain / 5000, atol=1e-12)
    np.testing.assert_allclose(db, data.mean(0) - chain.mean(0), atol=1e-12)
    np.testing.assert_allclose(dc, ph_data.mean(0) - ph_chain.mean(0), atol=1e-12)
    # ... and, the chains being independent, within 5 SE of the exact gradient.
    per_chain = np.hstack(
        [(chain[:, :, None] * ph_chain[:, None, :]).reshape(len(chain), -1), chain, ph_chain]
    )
    _, se = _mean_and_se(per_chain)
    exact = _flat(rbm.log_likelihood_gradient(data, W, b, c))
    np.testing.assert_array_less(np.abs(_flat((dW, db, dc)) - exact), Z_TOL * se + 1e-12)


def test_pcd_chains_persist_across_calls(make_model):
    # 30 calls of PCD-1 advance the chains exactly as one 30-step Gibbs run with the same
    # random stream (the positive phase draws no random numbers).
    W, b, c = make_model(34, 6, 4, 1.0)
    data = np.ones((3, 6))
    start = np.random.default_rng(35).integers(0, 2, (10, 6)).astype(float)
    chain, rng = start, np.random.default_rng(36)
    for _ in range(30):
        _, chain = rbm.pcd_k(data, chain, W, b, c, k=1, rng=rng)
    np.testing.assert_array_equal(chain, rbm.gibbs(start, W, b, c, k=30, rng=36))


# -- stochastic pseudo-likelihood ---------------------------------------------------------------


def test_pseudo_likelihood_averages_to_the_exact_one(make_model, brute, chi_square):
    W, b, c = make_model(37, 8, 4, 1.0)
    ref = brute(W, b, c)
    v = np.random.default_rng(38).integers(0, 2, (6, 8)).astype(float)
    n_draws = 3000
    draws = rbm.pseudo_likelihood(np.repeat(v, n_draws, axis=0), W, b, c, rng=39)
    draws = draws.reshape(len(v), n_draws)
    # Each draw is n_visible * log P(v_i | v_-i) for one unit i (up to rounding) ...
    # and the unit is uniform over the 8: with random weights the 8 values differ, so each
    # draw identifies its unit, and the units' counts pass a chi-square test.
    conditionals = _per_unit_log_conditionals(ref, v)
    for t in range(len(v)):
        gaps = np.abs(draws[t][:, None] - 8 * conditionals[t][None, :])
        assert gaps.min(axis=1).max() < 1e-9
        assert np.diff(np.sort(conditionals[t])).min() > 1e-6
        units = np.bincount(gaps.argmin(axis=1), minlength=8)
        ok, msg = _chi2_ok(chi_square, units, np.full(8, 1 / 8))
        assert ok, msg
    # ... so its mean over draws is within 5 SE of sum_i log P(v_i | v_-i).
    exact = ref.log_conditionals(v)
    np.testing.assert_allclose(rbm.exact_pseudo_likelihood(v, W, b, c), exact, atol=1e-9)
    mean, se = _mean_and_se(draws.T)
    np.testing.assert_array_less(np.abs(mean - exact), Z_TOL * se)


def _per_unit_log_conditionals(ref, v):
    """log P(v_i | v_-i) of every row and unit, from the enumerated p(v), shape of v."""
    out = np.empty(v.shape)
    log_pv = ref.log_p(v)
    for i in range(v.shape[1]):
        flipped = v.copy()
        flipped[:, i] = 1 - flipped[:, i]
        out[:, i] = log_pv - np.logaddexp(log_pv, ref.log_p(flipped))
    return out


# -- determinism --------------------------------------------------------------------------------


def _unpack_pcd(result):
    (dW, db, dc), new_chain = result
    return dW, db, dc, new_chain


def _random_calls():
    """Every public function that draws random numbers, as f(rng) -> tuple of arrays."""
    rng = np.random.default_rng(40)
    W = rng.standard_normal((6, 4))
    b, c = rng.standard_normal(6), rng.standard_normal(4)
    v = rng.integers(0, 2, (50, 6)).astype(float)
    chain = rng.integers(0, 2, (30, 6)).astype(float)
    p = rng.random((50, 6))
    return {
        "sample_bernoulli": lambda r: (rbm.sample_bernoulli(p, r),),
        "gibbs": lambda r: (rbm.gibbs(v, W, b, c, 3, r),),
        "cd_k": lambda r: rbm.cd_k(v, W, b, c, 3, r),
        "pcd_k": lambda r: _unpack_pcd(rbm.pcd_k(v, chain, W, b, c, 3, r)),
        "pseudo_likelihood": lambda r: (rbm.pseudo_likelihood(v, W, b, c, r),),
    }


@pytest.mark.parametrize("name", list(_random_calls()))
def test_same_seed_same_result(name):
    f = _random_calls()[name]
    first, again = f(1234), f(1234)
    from_generator = f(np.random.default_rng(1234))
    other_seed = f(1235)
    for a, b, g in zip(first, again, from_generator, strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, g)  # an int seed means default_rng(seed)
    assert any(not np.array_equal(a, o) for a, o in zip(first, other_seed, strict=True))


def test_a_generator_is_advanced_not_restarted():
    f = _random_calls()["gibbs"]
    rng = np.random.default_rng(7)
    assert not np.array_equal(f(rng)[0], f(rng)[0])


_SUBPROCESS_SCRIPT = textwrap.dedent(
    """
    import hashlib
    import numpy as np
    import rbm

    rng = np.random.default_rng(2024)
    W = rng.standard_normal((7, 5)).astype(np.float32)
    b, c = rng.standard_normal(7).astype(np.float32), rng.standard_normal(5).astype(np.float32)
    v = rng.integers(0, 2, (40, 7)).astype(np.float32)
    parts = [
        rbm.sample_bernoulli(rbm.h_given_v(v, W, c), 1),
        rbm.gibbs(v, W, b, c, 5, 2),
        *rbm.cd_k(v, W, b, c, 3, 3),
        *rbm.pcd_k(v, v[:10], W, b, c, 3, 4)[0],
        rbm.pcd_k(v, v[:10], W, b, c, 3, 4)[1],
        rbm.pseudo_likelihood(v, W, b, c, 5),
        rbm.log_likelihood(v, W, b, c),
    ]
    digest = hashlib.sha256(b"".join(np.ascontiguousarray(x).tobytes() for x in parts))
    print(digest.hexdigest())
    """
)


def test_fresh_processes_give_byte_identical_results():
    # Two fresh interpreters (with different hash seeds) and this one, which has already
    # run other tests, must produce the same bytes.
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _SUBPROCESS_SCRIPT],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONHASHSEED": str(seed), "MPLBACKEND": "Agg"},
        )
        for seed in (1, 2)  # both at once: each spends most of its time importing
    ]
    runs = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()
        runs.append(out)
    assert len(runs[0].strip()) == 64  # a SHA-256 hex digest
    assert runs[0] == runs[1]
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        exec(_SUBPROCESS_SCRIPT, {})
    assert buffer.getvalue().encode() == runs[0]


def test_phase_difference_is_cd_k_with_its_own_negative_states():
    rng = np.random.default_rng(12)
    W, b, c = rng.normal(0, 0.5, (6, 4)), rng.normal(0, 0.5, 6), rng.normal(0, 0.5, 4)
    v = (rng.random((9, 6)) < 0.5).astype(float)
    want = rbm.cd_k(v, W, b, c, k=2, rng=np.random.default_rng(3))
    v_neg = rbm.gibbs(v, W, b, c, k=2, rng=np.random.default_rng(3))
    got = rbm.sampling.phase_difference(
        v, rbm.h_given_v(v, W, c), v_neg, rbm.h_given_v(v_neg, W, c)
    )
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)
    with pytest.raises(ValueError, match="ph_neg"):
        rbm.sampling.phase_difference(v, rbm.h_given_v(v, W, c), v_neg, np.zeros((3, 4)))
