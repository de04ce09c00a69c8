"""Shared by the tests that run the repository's scripts in their ``--quick`` form.

Tests never use the network: the scripts need MNIST in the local cache (``make data``
fetches it before the tests run), and the tests that need it are skipped, not
failed, on a machine that has no copy.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def mnist_cached() -> bool:
    """True when the four MNIST files are in the cache with their published hashes."""
    from rbm.datasets import _FILES, _is_valid, get_data_home

    home = get_data_home()
    return all(_is_valid(home / name, name) for name in _FILES)


requires_mnist = pytest.mark.skipif(
    not mnist_cached(), reason="MNIST is not in the local cache (make data)"
)


def run_quick(script: str, out: Path) -> str:
    """Run ``ROOT/script --quick --out out`` on one BLAS thread; return its standard output."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, str(ROOT / script), "--quick", "--out", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, f"{script} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    return proc.stdout
