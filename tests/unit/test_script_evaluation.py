"""The evaluation scripts run end to end in --quick mode and write the files the chapters load.

They need the MNIST files in the local cache (``python -m rbm.datasets``); the
tests are skipped, not failed, on a machine that has neither the cache nor a
registry to fetch it from.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _mnist_available():
    from rbm.datasets import _FILES, _is_valid, get_data_home

    home = get_data_home()
    return all(_is_valid(home / name, name) for name in _FILES)


pytestmark = pytest.mark.skipif(
    not _mnist_available(), reason="MNIST is not in the local cache (python -m rbm.datasets)"
)


def _run(script, out):
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / script), "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads((out / "metrics.json").read_text())


def test_evaluation_proxies_quick(tmp_path):
    metrics = _run("evaluation_proxies.py", tmp_path)
    assert metrics["quick"] is True
    assert set(metrics["methods"]) == {"CD-1", "CD-10", "PCD-1"}
    for name, m in metrics["methods"].items():
        n = len(m["epoch"])
        assert n == metrics["config"]["n_epochs"]
        for key in ("train_log_likelihood", "test_log_likelihood", "exact_pl", "stochastic_pl"):
            assert len(m[key]) == n and all(math.isfinite(x) and x < 0 for x in m[key]), key
        ais = m["ais"]
        # 784 -> 16 models after two epochs are easy for AIS: within 0.5 nats of exact
        assert abs(ais["forward"][0] - ais["exact_log_z"]) < 0.5, name
        assert ais["forward"][1] <= ais["forward"][0] <= ais["forward"][2]
        W = np.load(tmp_path / f"{name.lower().replace('-', '')}.npz")["W"]
        assert W.shape == (784, 16)


def test_evaluation_large_quick(tmp_path):
    metrics = _run("evaluation_large.py", tmp_path)
    assert metrics["protocol"]["quick"] is True
    assert set(metrics["models"]) == {"article64", "cd1_500"}
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
