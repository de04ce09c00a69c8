"""scripts/features_classification.py --quick: the metrics file and the saved RBM."""

from __future__ import annotations

import json

import numpy as np
import pytest
from quick_scripts import requires_mnist, run_quick
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

import rbm

pytestmark = [pytest.mark.slow, requires_mnist]


@threadpool_limits.wrap(limits=1)  # the script's BLAS threads, so the refits round the same
def test_quick_run(tmp_path):
    run_quick("scripts/features_classification.py", tmp_path)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    protocol = metrics["protocol"]
    assert protocol["quick"] is True
    results = metrics["results"]
    assert set(results) == {
        "pixels",
        "PCA",
        "random W, N(0, 0.01^2)",
        "random W, unit scale",
        "rbm.RBM CD-1",
        "rbm.RBM PCD-1",
        "sklearn BernoulliRBM",
    }
    grid, seeds = protocol["C_grid"], protocol["seeds"]
    assert len(seeds) >= 2
    for name, entry in results.items():
        runs = entry["runs"]
        # what has nothing random runs once; the rest once per training seed
        expected = [None] if name in protocol["unseeded"] else seeds
        assert [r["seed"] for r in runs] == expected, name
        for r in runs:
            assert 0 <= r["test_accuracy"] <= 1 and 0 <= r["train_accuracy"] <= 1, name
            scores = {float(C): s for C, s in r["valid_accuracy_by_C"].items()}
            assert set(scores) == set(grid)
            # the chosen C is the best on the validation images (the first best on ties)
            assert r["C"] == max(grid, key=lambda C: scores[C])

    X, y = rbm.datasets.load_mnist("train")
    X_test, y_test = rbm.datasets.load_mnist("test")
    n, n_test = protocol["n_train"], protocol["n_test"]
    X, y, X_test, y_test = X[:n], y[:n], X_test[:n_test], y_test[:n_test]

    # the saved PCD model has the budget's shape and reproduces the recorded accuracy
    model = rbm.RBM.load(tmp_path / "rbm_pcd.npz")
    assert model.W_.shape == (784, protocol["budget"]["n_hidden"])
    assert model.persistent is True
    assert len(model.history_["epoch"]) == protocol["budget"]["n_epochs"]
    r = results["rbm.RBM PCD-1"]["runs"][0]  # the first seed's model is the saved one
    clf = LogisticRegression(C=r["C"], max_iter=1000).fit(model.transform(X), y)
    assert clf.score(model.transform(X_test), y_test) == pytest.approx(r["test_accuracy"])

    # raw pixels: the recorded accuracy is that of the same classifier refitted here
    r = results["pixels"]["runs"][0]
    clf = LogisticRegression(C=r["C"], max_iter=1000).fit(X, y)
    assert clf.score(X_test, y_test) == pytest.approx(r["test_accuracy"])
    assert np.isfinite(model.W_).all()
