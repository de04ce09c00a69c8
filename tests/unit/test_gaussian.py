"""The Gaussian–Bernoulli RBM against brute force: integrals, Bayes' rule, finite differences."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest
from quick_scripts import requires_mnist, run_quick
from scipy import integrate

import rbm
from rbm import gaussian as g


def _model(n_visible=2, n_hidden=3, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    return (
        scale * rng.normal(size=(n_visible, n_hidden)),
        rng.normal(size=n_visible),
        rng.normal(size=n_hidden),
        0.4 * rng.normal(size=n_visible),
    )


def _all_h(n_hidden):
    return np.array(list(itertools.product([0.0, 1.0], repeat=n_hidden)))


def _grid(lo=-25.0, hi=25.0, n=2001):
    x = np.linspace(lo, hi, n)
    return x, x[1] - x[0]


def test_free_energy_is_minus_log_sum_over_h_of_exp_minus_energy():
    W, b, c, z = _model(2, 3)
    v = np.random.default_rng(1).normal(size=(5, 2))
    H = _all_h(3)
    brute = [
        -np.log(sum(np.exp(-g.gb_energy(v[[t]], h[None], W, b, c, z))[0] for h in H))
        for t in range(len(v))
    ]
    # float64 sums of 8 terms: agreement to rounding
    assert np.allclose(g.gb_free_energy(v, W, b, c, z), brute, rtol=0, atol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_log_partition_matches_a_two_dimensional_integral(seed):
    W, b, c, z = _model(2, 3, seed)
    x, dx = _grid(-25, 25, 1501)
    grid = np.stack(np.meshgrid(x, x), axis=-1).reshape(-1, 2)
    log_terms = -g.gb_free_energy(grid, W, b, c, z)
    log_value = np.logaddexp.reduce(log_terms) + 2 * np.log(dx)
    # the Riemann sum of a smooth integrand with Gaussian tails converges faster than any
    # power of the spacing; |v| > 25 is e^-60 away
    assert abs(g.gb_log_partition(W, b, c, z) - log_value) < 1e-9


def test_log_partition_matches_scipy_quad_in_one_dimension():
    W, b, c, z = _model(1, 3, 3)
    f = lambda x: np.exp(-g.gb_free_energy(np.array([[x]]), W, b, c, z))[0]  # noqa: E731
    value, _ = integrate.quad(f, -np.inf, np.inf, epsabs=1e-13, epsrel=1e-12)
    # adaptive quadrature at 1e-12 relative tolerance
    assert abs(g.gb_log_partition(W, b, c, z) - np.log(value)) < 1e-9


def test_one_visible_unit_density_integrates_to_one_on_a_grid():
    W, b, c, z = _model(1, 4, 3)
    x, dx = _grid()
    p = np.exp(g.gb_log_likelihood(x[:, None], W, b, c, z))
    # Riemann sum of a smooth density: its error is far below 1e-9 at this spacing
    assert abs(p.sum() * dx - 1) < 1e-9


def test_conditionals_follow_from_bayes_rule():
    W, b, c, z = _model(1, 2, 4)
    H = _all_h(2)
    v = np.array([[0.3], [-1.2], [2.5]])
    # p(h | v) from the joint, normalised over h
    joint = np.exp(-np.stack([g.gb_energy(v, np.repeat(h[None], 3, 0), W, b, c, z) for h in H]))
    post = joint / joint.sum(axis=0)
    ph = g.gb_h_given_v(v, W, c, z)
    for r, h in enumerate(H):
        prod = np.prod(np.where(h == 1, ph, 1 - ph), axis=1)
        assert np.allclose(post[r], prod, atol=1e-12)
    # p(v | h) on a grid: the joint normalised over v is the Gaussian N(b + W h, sigma^2)
    x, dx = _grid(-30, 30, 6001)
    for h in H:
        e = np.exp(-g.gb_energy(x[:, None], np.repeat(h[None], len(x), 0), W, b, c, z))
        dens = e / (e.sum() * dx)
        mean = g.gb_v_given_h(h[None], W, b)[0, 0]
        gauss = np.exp(-((x - mean) ** 2) / (2 * np.exp(z[0]))) / np.sqrt(2 * np.pi * np.exp(z[0]))
        # the grid normalisation errs by less than 1e-9 (smooth integrand, fine grid)
        assert np.abs(dens - gauss).max() < 1e-8


def test_mixture_form_equals_the_marginal_of_the_joint():
    W, b, c, z = _model(3, 4, 5)
    log_w, means, var = g.gb_mixture(W, b, c, z)
    assert log_w.shape == (16,) and means.shape == (16, 3)
    assert abs(np.logaddexp.reduce(log_w)) < 1e-12
    v = np.random.default_rng(6).normal(size=(7, 3))
    comp = log_w[:, None] - 0.5 * (
        ((v[None] - means[:, None]) ** 2) / var + np.log(2 * np.pi * var)
    ).sum(-1)
    assert np.allclose(np.logaddexp.reduce(comp, axis=0), g.gb_log_likelihood(v, W, b, c, z))


def test_exact_gradient_matches_finite_differences():
    W, b, c, z = _model(2, 3, 7)
    v = np.random.default_rng(8).normal(size=(20, 2))
    grads = g.gb_log_likelihood_gradient(v, W, b, c, z)
    params = [W, b, c, z]
    eps = 1e-6
    for p_index, grad in enumerate(grads):
        for idx in np.ndindex(grad.shape):
            up = [p.copy() for p in params]
            dn = [p.copy() for p in params]
            up[p_index][idx] += eps
            dn[p_index][idx] -= eps
            num = (g.gb_log_likelihood(v, *up).mean() - g.gb_log_likelihood(v, *dn).mean()) / (
                2 * eps
            )
            # central differences: O(eps^2) truncation plus ~1e-16/eps rounding, ~1e-9 here
            assert abs(num - grad[idx]) < 1e-6, (p_index, idx)


def test_cd_with_many_steps_approaches_the_exact_gradient():
    W, b, c, z = _model(2, 2, 9, scale=0.5)
    rng = np.random.default_rng(10)
    v = rng.normal(size=(1, 2)).repeat(20000, axis=0)  # one data point, many chains
    exact = g.gb_log_likelihood_gradient(v[:1], W, b, c, z)
    cd = g.gb_cd_k(v, W, b, c, z, k=50, rng=rng)
    for e, est in zip(exact, cd, strict=True):
        # 20,000 chains: the Monte Carlo s.e. of each mean is ~1/sqrt(20000) * O(1) ~ 0.01;
        # 0.08 is about 6 s.e. (and 50 steps of a 2 x 2 model mix completely)
        assert np.abs(e - est).max() < 0.08


def test_pcd_returns_advanced_chains():
    W, b, c, z = _model(2, 2, 11)
    v = np.zeros((4, 2))
    (dW, _, _, dz), chain = g.gb_pcd_k(v, np.ones((3, 2)), W, b, c, z, k=2, rng=0)
    assert chain.shape == (3, 2) and dW.shape == W.shape and dz.shape == z.shape


def test_ais_is_close_to_exact_log_z():
    W, b, c, z = _model(5, 6, 12, scale=0.5)
    exact = g.gb_log_partition(W, b, c, z)
    res = g.gb_ais_log_partition(W, b, c, z, n_chains=200, betas=np.linspace(0, 1, 501), rng=0)
    # a 5 x 6 model anneals easily: the spread of the weights gives ~0.01 s.e.
    assert abs(res.log_z - exact) < 0.05
    assert res.log_z_low <= res.log_z <= res.log_z_high


def test_extreme_parameters_and_tiny_variances_stay_finite():
    rng = np.random.default_rng(13)
    for scale, log_var in [(1e4, -g.MAX_ABS_LOG_VAR), (1e4, g.MAX_ABS_LOG_VAR), (1e-8, -20)]:
        W = scale * rng.normal(size=(3, 4))
        b, c = scale * rng.normal(size=3), scale * rng.normal(size=4)
        z = np.full(3, float(log_var))
        v = scale * rng.normal(size=(5, 3))
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            vals = [
                g.gb_free_energy(v, W, b, c, z),
                g.gb_h_given_v(v, W, c, z),
                g.gb_log_likelihood(v, W, b, c, z),
                g.gb_mixture(W, b, c, z)[0],
                *g.gb_cd_k(v, W, b, c, z, rng=0),
            ]
        assert all(np.isfinite(x).all() for x in vals)


def test_inputs_are_checked_and_errors_name_the_argument():
    W, b, c, z = _model(2, 3)
    with pytest.raises(ValueError, match=r"^log_var"):
        g.gb_free_energy(np.zeros((1, 2)), W, b, c, np.zeros(3))
    with pytest.raises(ValueError, match=r"^log_var"):
        g.gb_log_partition(W, b, c, np.full(2, 60.0))
    with pytest.raises(ValueError, match=r"^v"):
        g.gb_free_energy(np.zeros((1, 3)), W, b, c, z)
    with pytest.raises(ValueError, match=r"^h"):
        g.gb_energy(np.zeros((1, 2)), np.full((1, 3), 2.0), W, b, c, z)
    with pytest.raises(ValueError, match="NaN"):
        g.gb_free_energy(np.full((1, 2), np.nan), W, b, c, z)
    with pytest.raises(ValueError, match="n_hidden <="):
        too_many = rbm.MAX_EXACT_UNITS + 1
        g.gb_log_partition(np.zeros((1, too_many)), [0.0], np.zeros(too_many), [0.0])


def test_estimator_fits_scores_samples_and_round_trips(tmp_path):
    rng = np.random.default_rng(14)
    X = np.concatenate([rng.normal(-1, 0.3, (200, 2)), rng.normal(1, 0.3, (200, 2))])
    settings = dict(n_hidden=2, learning_rate=0.05, n_epochs=100, batch_size=20, random_state=0)
    model = rbm.GaussianBernoulliRBM(**settings).fit(X)
    diag = -0.5 * (((X - X.mean(0)) ** 2) / X.var(0) + np.log(2 * np.pi * X.var(0))).sum(1)
    # two clusters: CD-1 reached -2.31 nats against one Gaussian's -2.88 (seed 0)
    assert model.score(X) > diag.mean() + 0.5
    assert model.transform(X).shape == (400, 2)
    assert model.sample(5, rng=0).shape == (5, 2)
    assert model.sample(5, n_steps=3, rng=0).shape == (5, 2)
    again = rbm.GaussianBernoulliRBM(**settings).fit(X)
    assert np.array_equal(again.W_, model.W_)  # an int seed repeats exactly
    model.save(tmp_path / "gb.npz")
    loaded = rbm.GaussianBernoulliRBM.load(tmp_path / "gb.npz")
    for a, b in zip(loaded.params_, model.params_, strict=True):
        assert np.array_equal(a, b)
    assert loaded.get_params() == model.get_params()
    assert loaded.history_ == model.history_
    np.savez(tmp_path / "other.npz", W=np.zeros(2))
    with pytest.raises(ValueError, match="not a file of format"):
        rbm.GaussianBernoulliRBM.load(tmp_path / "other.npz")


def test_estimator_refuses_bad_hyper_parameters_and_unfitted_use():
    with pytest.raises(ValueError, match="learning_rate"):
        rbm.GaussianBernoulliRBM(learning_rate=-1).fit(np.zeros((4, 2)))
    with pytest.raises(rbm.NotFittedError):
        rbm.GaussianBernoulliRBM().score_samples(np.zeros((4, 2)))


def test_training_loop_diverges_cleanly():
    X = np.random.default_rng(15).normal(size=(64, 3))
    *_, history = g.gb_train(X, 2, n_epochs=3, learning_rate=1e300, rng=0)
    assert history["diverged"] and len(history["callback"]) == len(history["epoch"]) - 1


@requires_mnist
def test_gaussian_mnist_script_quick_and_resume(tmp_path):
    run_quick("scripts/gaussian_mnist.py", tmp_path)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["quick"] is True
    rows = metrics["models"]
    assert {"diagonal Gaussian", "full-covariance Gaussian"} <= set(rows)
    gb = rows["GB-RBM, 4 hidden units"]
    assert len(gb["x_nats"]) == len(metrics["config"]["seeds"])
    # the change of variables: x-space = z-space + the log-Jacobian, for every entry
    for row in rows.values():
        for z, x in zip(row["z_nats"], row["x_nats"], strict=True):
            assert math.isclose(x, z + metrics["log_jacobian"], rel_tol=1e-12)
    with np.load(tmp_path / "weights.npz") as f:
        assert f["W_seed0"].shape == (784, 4) and f["scale"].shape == (784,)
    assert not list(tmp_path.glob("checkpoint_*"))  # removed once a run completes


def test_gaussian_mnist_resume_continues_exactly(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "gaussian_mnist", Path(__file__).resolve().parents[2] / "scripts" / "gaussian_mnist.py"
    )
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    Z = np.random.default_rng(16).normal(size=(300, 5))
    cfg = {"n_hidden": 3, "n_epochs": 3}
    (tmp_path / "a").mkdir()
    straight, curve = script.train_gbrbm(Z, Z[:50], 0, cfg, tmp_path / "a", resume=False)
    (tmp_path / "b").mkdir()
    script.train_gbrbm(Z, Z[:50], 0, cfg, tmp_path / "b", resume=False, stop_after=2)
    resumed, curve_b = script.train_gbrbm(Z, Z[:50], 0, cfg, tmp_path / "b", resume=True)
    for p, q in zip(straight, resumed, strict=True):
        assert np.array_equal(p, q)  # the same draws and updates, bit for bit
    assert curve == curve_b
