"""scripts/reproduce_published.py: its quick run, and a resumed run equal to an unbroken one."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
from quick_scripts import ROOT, requires_mnist, run_quick

SCRIPT = "scripts/reproduce_published.py"


def _run(*args):
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, str(ROOT / SCRIPT), *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc.stdout


@requires_mnist
def test_quick_run_writes_diagnostics(tmp_path):
    run_quick(SCRIPT, tmp_path)
    for name in ("cd1_25", "cd25_500"):
        result = json.loads((tmp_path / f"{name}.json").read_text())
        runs = result["ais_runs"]
        assert len(runs) == result["config"]["ais_runs"] >= 2
        for run in [*runs, result["reverse_ais"]]:
            assert 1.0 <= run["ess"] <= len(runs[0]["log_weights"])
            assert 0.0 < run["max_share"] <= 1.0
        assert all(np.isfinite(result[key]) for key in ("test_log_likelihood", "ais_log_z_sd"))
        assert [h["epoch"] for h in result["training_history"]] == [1, 2]
        raised = result["raise"]
        assert raised["n_images"] == result["config"]["raise_images"]
        assert np.isfinite(raised["mean_log_p"]) and raised["se"] > 0
    # 25 hidden units: exact log Z, and the AIS runs near it (short schedule: within 2 nats)
    small = json.loads((tmp_path / "cd1_25.json").read_text())
    assert abs(small["ais_log_z_pooled"] - small["exact_log_z"]) < 2.0


@requires_mnist
def test_resume_continues_bit_for_bit(tmp_path):
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    common = ["train", "--quick", "--models", "cd25_500"]
    _run(*common, "--epochs", "2", "--out", str(whole))
    _run(*common, "--epochs", "1", "--out", str(parts))
    out = _run(*common, "--epochs", "2", "--resume", "--out", str(parts))
    assert "resuming after epoch 1" in out
    with np.load(whole / "cd25_500.npz") as a, np.load(parts / "cd25_500.npz") as b:
        for key in ("W", "b", "c"):
            # Same process kind, same machine, same random stream: equal to the last bit.
            np.testing.assert_array_equal(a[key], b[key])
    with np.load(whole / "checkpoints" / "cd25_500.npz") as a:
        with np.load(parts / "checkpoints" / "cd25_500.npz") as b:
            assert str(a["rng_state"]) == str(b["rng_state"])
            np.testing.assert_array_equal(a["vW"], b["vW"])
