"""The samplers_* scripts run in --quick mode and write what the chapter loads."""

from __future__ import annotations

import json

import numpy as np
import pytest
from quick_scripts import requires_mnist, run_quick

import rbm

pytestmark = [pytest.mark.slow, requires_mnist]


def _run(script, out):
    run_quick(f"scripts/{script}", out)
    return json.loads((out / "metrics.json").read_text())


def test_samplers_centring_quick(tmp_path):
    metrics = _run("samplers_centring.py", tmp_path)
    protocol = metrics["protocol"]
    assert protocol["quick"] is True and protocol["shuffle"] is False
    assert set(metrics["runs"]) == {"ordinary", "centred"}
    assert metrics["assembled"].startswith("all seeds from one run")
    X_test, _ = rbm.datasets.load_mnist("test", binarize="threshold")
    X_test = X_test[: protocol["n_test"]]
    for name, runs in metrics["runs"].items():
        assert [r["seed"] for r in runs] == protocol["seeds"]
        n = protocol["n_epochs"]
        for run in runs:
            assert len(run["reconstruction_error"]) == n
            # evaluated after the first epoch, every eval_every-th and the last
            assert run["epoch"][0] == 1 and run["epoch"][-1] == n
            for key in ("train_ll", "test_ll", "log_z"):
                assert len(run[key]) == len(run["epoch"]), key
            # a log-likelihood of 784 binary pixels lies in (-784 log 2, 0)
            assert all(-784 * np.log(2) < x < 0 for x in run["test_ll"])
        if name == "ordinary":  # zero offsets: the centred form is the ordinary one
            assert all(r["final"]["log_z_centred_form"] == r["final"]["log_z"] for r in runs)
        # the saved weights (first seed) reproduce its final numbers (up to float32 storage)
        with np.load(tmp_path / f"weights_{name}.npz") as f:
            W, b, c = f["W"], f["b"], f["c"]
        assert W.shape == (784, 16) and b.shape == (784,) and c.shape == (16,)
        log_z = rbm.log_partition(W, b, c)
        assert log_z == pytest.approx(runs[0]["log_z"][-1], abs=0.05)
        ll = rbm.log_likelihood(X_test, W, b, c, log_z=log_z).mean()
        assert ll == pytest.approx(runs[0]["test_ll"][-1], abs=0.05)


def test_samplers_budget_quick(tmp_path):
    metrics = _run("samplers_budget.py", tmp_path)
    runs = metrics["runs"]
    assert set(runs) == {"CD-1", "PCD-1", "CD-5", "PCD-5", "PT-5"}
    grids = {tuple(r["gibbs_steps"]) for r in runs.values()}
    assert len(grids) == 1  # every method is measured at the same budgets
    (grid,) = grids
    assert grid[0] == 0 and grid[-1] == metrics["protocol"]["budget_gibbs_steps"]
    start = {r["test_ll"][0] for r in runs.values()}
    assert len(start) == 1  # and starts from the same model
    for r in runs.values():
        assert all(-784 * np.log(2) < x < 0 for x in r["test_ll"])
    acc = runs["PT-5"]["swap_acceptance"]
    assert len(acc) == metrics["protocol"]["n_temperatures"] - 1
    assert all(0 <= a <= 1 for a in acc)
