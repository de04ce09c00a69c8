"""The plain training loop (rbm/training.py): its pieces, its hooks and its checks.

That the fast engine reproduces it is tested in test_fast_path.py; that every
script's results stay those of its former private loop was checked when the
scripts moved onto it (and their --quick runs are tested in test_script_*.py).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import rbm
from rbm import training


def _data(seed=0, n=120, n_visible=12):
    return (np.random.default_rng(seed).random((n, n_visible)) < 0.3).astype(np.float32)


def test_init_params_shapes_dtypes_and_marginals():
    X = _data()
    W, b, c = training.init_params(X, 5, "xavier", "marginals", rng=0)
    assert W.shape == (12, 5) and b.shape == (12,) and c.shape == (5,)
    assert W.dtype == b.dtype == c.dtype == np.float32
    assert np.abs(W).max() <= math.sqrt(6 / 17)
    p = np.clip(X.mean(axis=0, dtype=np.float64), 1e-3, 1 - 1e-3)
    np.testing.assert_allclose(rbm.sigmoid(b.astype(np.float64)), p, rtol=1e-6)
    assert not c.any()
    W2, b2, _ = training.init_params(X, 5, "normal", "zeros", rng=0, dtype="float64")
    assert W2.dtype == np.float64 and not b2.any()
    # N(0, 0.01^2): 60 draws lie well within 5 standard deviations
    assert np.abs(W2).max() < 0.05
    with pytest.raises(ValueError, match="init"):
        training.init_params(X, 5, "glorot")
    with pytest.raises(ValueError, match="visible_bias_init"):
        training.init_params(X, 5, visible_bias_init="ones")


def test_init_chains_starts():
    X = _data()
    np.testing.assert_array_equal(training.init_chains(X, 7, "data"), X[:7])
    assert len(training.init_chains(X[:3], 7, "data")) == 3  # at most the data
    u = training.init_chains(X, 500, "uniform", rng=1)
    m = training.init_chains(X, 500, "marginals", rng=1)
    assert u.shape == m.shape == (500, 12) and set(np.unique(u)) <= {0.0, 1.0}
    # 6000 Bernoulli draws: the mean is within 5 standard errors (0.03) of its p
    assert abs(u.mean() - 0.5) < 0.035
    assert abs(m.mean() - X.mean()) < 0.035
    with pytest.raises(ValueError, match="start"):
        training.init_chains(X, 3, "noise")


def test_batch_slices_and_momentum_schedule():
    assert training.batch_slices(10, 4, "fixed") == [(0, 4), (4, 8), (8, 10)]
    assert training.batch_slices(10, 4, "drop_last") == [(0, 4), (4, 8)]
    assert training.batch_slices(10, 4, "array_split") == [(0, 4), (4, 7), (7, 10)]
    with pytest.raises(ValueError, match="batch_split"):
        training.batch_slices(10, 4, "random")
    assert training.momentum_at(0.5, 9) == 0.5
    assert [training.momentum_at((0.5, 0.9), e, switch=2) for e in range(4)] == [
        0.5,
        0.5,
        0.9,
        0.9,
    ]


def test_train_epoch_is_cd_k_batch_by_batch():
    """One batch, no shuffling: the update is learning_rate times rbm.cd_k's estimate."""
    X = _data(1, n=16)
    W, b, c = training.init_params(X, 4, rng=2, dtype="float64")
    X = X.astype(np.float64)
    want = [p + 0.3 * g for p, g in zip((W, b, c), rbm.cd_k(X, W, b, c, rng=5), strict=True)]
    stats = training.train_epoch(
        X, W, b, c, learning_rate=0.3, batch_size=16, shuffle=False, monitor=False, rng=5
    )
    for got, exp in zip((W, b, c), want, strict=True):
        np.testing.assert_array_equal(got, exp)
    assert math.isnan(stats["pseudo_likelihood"]) and stats["n_updates"] == 1
    assert stats["diverged"] is False


def test_hooks_see_every_update_and_the_budget_stops_the_run():
    X = _data(2)
    steps, calls = [], []

    def gradient(v, chain, W, b, c, k, rng):
        calls.append(len(v))
        return rbm.cd_k(v, W, b, c, k=k, rng=rng), None

    def on_update(step, W, b, c):
        steps.append(float(np.abs(step[0]).sum()))

    _, _, _, history = training.train(
        X,
        4,
        n_epochs=10,
        n_updates=7,
        batch_size=50,
        batch_split="drop_last",
        gradient=gradient,
        on_update=on_update,
        callback=lambda epoch, W, b, c: epoch,
        rng=0,
    )
    assert calls == [50] * 7 and len(steps) == 7  # 2 full batches an epoch, 120 rows
    assert history["epoch"] == [0, 1, 2, 3] and history["callback"] == [0, 1, 2, 3]


def test_train_flags_divergence_and_stops():
    X = _data(3)
    _, _, _, history = training.train(
        X, 4, n_epochs=5, params=(np.full((12, 4), 2e4), np.zeros(12), np.zeros(4)), rng=0
    )
    assert history["diverged"] is True and history["epoch"] == [0]
    assert history["callback"] == []


def test_monitored_statistics_are_those_of_the_estimator():
    """RBM.fit's history_ (fast engine) and train(monitor=True) agree."""
    X = _data(4).astype(np.float64)
    model = rbm.RBM(n_hidden=5, n_epochs=2, batch_size=30, random_state=9, dtype="float64")
    model.fit(X)
    *_, history = training.train(X, 5, n_epochs=2, batch_size=30, monitor=True, rng=9)
    for key in ("pseudo_likelihood", "pseudo_likelihood_article_scale", "reconstruction_error"):
        np.testing.assert_allclose(model.history_[key], history[key], rtol=1e-10)


@pytest.mark.parametrize(
    "X, kwargs, error, message",
    [
        (np.full((4, 3), 2.0), {}, ValueError, r"\[0, 1\]"),
        (np.zeros(3), {}, ValueError, "2-dimensional"),
        (np.zeros((4, 3)), {"n_hidden": 0}, ValueError, "n_hidden"),
        (np.zeros((4, 3)), {"batch_size": 1.5}, TypeError, "batch_size"),
        (np.zeros((4, 3)), {"k": 0}, ValueError, "k must be"),
    ],
)
def test_train_checks_its_inputs(X, kwargs, error, message):
    kwargs = {"n_hidden": 2} | kwargs
    with pytest.raises(error, match=message):
        training.train(X, kwargs.pop("n_hidden"), **kwargs)
