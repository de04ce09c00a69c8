"""scripts/practice_experiments.py: its training loop, and its --quick run's metrics file."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from quick_scripts import requires_mnist, run_quick

import rbm

ROOT = Path(__file__).resolve().parents[2]


def _load_script():
    spec = importlib.util.spec_from_file_location(
        "practice_experiments", ROOT / "scripts" / "practice_experiments.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _small_model(rng, n_visible=20, n_hidden=5):
    W = rng.normal(0, 0.5, size=(n_visible, n_hidden))
    return W, rng.normal(0, 0.5, size=n_visible), rng.normal(0, 0.5, size=n_hidden)


def test_mixed_statistics_are_cd1():
    # Same generator state, same draws in the same order: the update equals rbm.cd_k's.
    pe = _load_script()
    rng = np.random.default_rng(0)
    W, b, c = _small_model(rng)
    v = (rng.random((30, 20)) < 0.4).astype(np.float64)
    dW, db, dc, _ = pe.cd1_statistics(v, W, b, c, "mixed", np.random.default_rng(7))
    eW, eb, ec = rbm.cd_k(v, W, b, c, k=1, rng=np.random.default_rng(7))
    np.testing.assert_allclose(dW, eW, atol=1e-12)
    np.testing.assert_allclose(db, eb, atol=1e-12)
    np.testing.assert_allclose(dc, ec, atol=1e-12)


def test_statistics_agree_in_expectation():
    # The three estimators differ in noise, not in mean: averaged over many draws of the
    # chain, samples and probabilities give the same positive statistics <v P(h|v)>.
    pe = _load_script()
    rng = np.random.default_rng(1)
    W, b, c = _small_model(rng)
    v = (rng.random((50, 20)) < 0.4).astype(np.float64)
    n = 400
    mean = {}
    for stats in ("samples", "mixed"):
        g = np.random.default_rng(2)
        mean[stats] = np.mean([pe.cd1_statistics(v, W, b, c, stats, g)[2] for _ in range(n)], 0)
    # dc entries are means of differences of 50 terms in [-1, 1]: their standard deviation
    # is at most 2/sqrt(50) per draw, so over 400 draws the difference of two means has an
    # sd below 2 * 2 / sqrt(50 * 400) ~ 0.028; 0.12 is more than four of those.
    np.testing.assert_allclose(mean["samples"], mean["mixed"], atol=0.12)


def test_evaluate_matches_exact_log_likelihood():
    pe = _load_script()
    rng = np.random.default_rng(3)
    W, b, c = _small_model(rng, n_visible=12, n_hidden=6)
    X = (rng.random((40, 12)) < 0.5).astype(np.float64)
    X_test = (rng.random((25, 12)) < 0.5).astype(np.float64)
    out = pe.evaluate(W, b, c, X, X_test)
    assert out["log_z"] == pytest.approx(rbm.log_partition(W, b, c), abs=1e-10)
    assert out["test_ll"] == pytest.approx(rbm.log_likelihood(X_test, W, b, c).mean(), abs=1e-9)
    assert out["train_ll"] == pytest.approx(rbm.log_likelihood(X, W, b, c).mean(), abs=1e-9)


def test_weight_decay_and_sparsity_pull_the_right_way():
    # With a learning rate of 0 nothing moves; with only weight decay |W| shrinks;
    # with a sparsity target far below the activity the hidden biases fall.
    pe = _load_script()
    rng = np.random.default_rng(4)
    X = (rng.random((200, 30)) < 0.3).astype(np.float32)
    common = dict(n_hidden=4, n_epochs=2, eval_epochs=set(), seed=0, X_test=X[:10])
    base = pe.BASELINE | {"batch_size": 20}
    _, (W0, _, c0) = pe.run_config(X, config=base, **common)
    _, (W1, _, _) = pe.run_config(X, config=base | {"weight_decay": 0.5}, **common)
    _, (_, _, c2) = pe.run_config(
        X, config=base | {"sparsity_target": 0.01, "sparsity_cost": 1.0}, **common
    )
    assert np.abs(W1).sum() < np.abs(W0).sum()
    assert c2.mean() < c0.mean()


def test_a_seed_fixes_the_start_whatever_the_gibbs_draws():
    # "samples" draws three times as many Bernoulli variables per batch as "probabilities"
    # and PCD-1 advances chains; the Gibbs draws come from their own generator, so at a
    # learning rate of 0 every setting of one seed keeps the same initial weights.
    pe = _load_script()
    rng = np.random.default_rng(5)
    X = (rng.random((60, 12)) < 0.3).astype(np.float32)
    common = dict(n_hidden=3, n_epochs=2, eval_epochs=set(), seed=0, X_test=X[:10])
    base = pe.BASELINE | {"batch_size": 20, "learning_rate": 0.0}
    runs = [
        pe.run_config(X, config=base | changes, **common)[1]
        for changes in ({}, {"statistics": "samples"}, {"estimator": "pcd"})
    ]
    for params in runs[1:]:
        for p, q in zip(runs[0], params, strict=True):
            np.testing.assert_array_equal(p, q)


def test_pcd_control_learns():
    # PCD-1 through rbm.pcd_k: the parameters move, and stay finite.
    pe = _load_script()
    rng = np.random.default_rng(6)
    X = (rng.random((100, 12)) < 0.3).astype(np.float32)
    common = dict(n_hidden=3, n_epochs=2, eval_epochs={2}, seed=0, X_test=X[:10])
    config = pe.BASELINE | {"batch_size": 20, "estimator": "pcd"}
    run, (W, _, _) = pe.run_config(X, config=config, **common)
    _, (W0, _, _) = pe.run_config(X, config=config | {"learning_rate": 0.0}, **common)
    assert not run["diverged"] and np.isfinite(run["evaluations"]["test_ll"]).all()
    assert np.abs(W - W0).max() > 0


@pytest.mark.slow
@requires_mnist
def test_quick_run_writes_metrics(tmp_path):
    run_quick("scripts/practice_experiments.py", tmp_path)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    protocol = metrics["protocol"]
    assert protocol["quick"] is True
    pe = _load_script()
    assert set(metrics["groups"]) == set(pe.GROUPS)
    for group, settings in pe.GROUPS.items():
        assert set(metrics["groups"][group]) == set(settings)
        for label, entry in metrics["groups"][group].items():
            assert entry["config"] == pe.BASELINE | settings[label]
            assert set(entry["runs"]) == {str(s) for s in protocol["seeds"]}
            for run in entry["runs"].values():
                if run["diverged"]:
                    continue
                ev = run["evaluations"]
                assert ev["epoch"] == protocol["eval_epochs"]
                for ll, f, z in zip(
                    ev["test_ll"], ev["test_free_energy"], ev["log_z"], strict=True
                ):
                    assert ll == pytest.approx(-f - z)
                    # a probability of a binary vector is at most 1: log p < 0
                    assert np.isfinite(ll) and ll < 0
                assert len(run["per_epoch"]["update_ratio"]) == protocol["n_epochs"]
                assert all(r > 0 for r in run["per_epoch"]["update_ratio"])
    for run in metrics["overfitting"].values():
        assert len(run["train_free_energy"]) == protocol["overfit_epochs"]
        assert run["eval_epoch"] == protocol["overfit_eval_epochs"]
