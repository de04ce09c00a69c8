"""Atomic writes: the target is the old file or the complete new one, never a fragment."""

from __future__ import annotations

import json
import os
import stat

import numpy as np
import pytest

from rbm.io import atomic_savez, atomic_write, atomic_write_json, atomic_write_text


def test_write_replaces_whole_file_with_normal_permissions(tmp_path):
    path = tmp_path / "out.bin"
    atomic_write(path, b"first")
    atomic_write(path, b"second")
    assert path.read_bytes() == b"second"
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask  # not mkstemp's 0600
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_interrupted_write_keeps_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "metrics.json"
    atomic_write_json(path, {"a": 1})

    def crash(fd):
        raise KeyboardInterrupt  # stopped after the bytes went to the temporary file

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_json(path, {"a": 2})
    assert json.loads(path.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_text_and_json_round_trip(tmp_path):
    atomic_write_text(tmp_path / "t.txt", "naïve ✓\n")
    assert (tmp_path / "t.txt").read_text(encoding="utf-8") == "naïve ✓\n"
    atomic_write_json(tmp_path / "j.json", {"b": [1.5, 2], "a": None})
    text = (tmp_path / "j.json").read_text()
    assert text.endswith("\n") and text.index('"a"') < text.index('"b"')  # sorted keys
    assert json.loads(text) == {"a": None, "b": [1.5, 2]}


@pytest.mark.parametrize("compressed", [False, True])
def test_savez_round_trips_without_pickle(tmp_path, compressed):
    W = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    atomic_savez(tmp_path / "w.npz", compressed=compressed, W=W, n=np.array(3))
    with np.load(tmp_path / "w.npz", allow_pickle=False) as f:
        assert f["W"].dtype == np.float32 and np.array_equal(f["W"], W)
        assert int(f["n"]) == 3


def test_find_results_looks_upwards_and_explains_a_miss(tmp_path, monkeypatch):
    from rbm.io import find_results

    target = tmp_path / "results" / "x" / "metrics.json"
    target.parent.mkdir(parents=True)
    target.write_text("{}")
    (tmp_path / "book").mkdir()
    monkeypatch.chdir(tmp_path / "book")
    assert find_results("results/x/metrics.json") == target
    with pytest.raises(FileNotFoundError, match=r"results/y\.json was not found"):
        find_results("results/y.json")


def test_atomic_write_json_can_keep_key_order_and_refuse_nan(tmp_path):
    path = tmp_path / "ordered.json"
    atomic_write_json(path, {"b": 1, "a": 2}, sort_keys=False)
    assert path.read_text() == '{\n "b": 1,\n "a": 2\n}\n'
    with pytest.raises(ValueError):
        atomic_write_json(path, {"x": float("nan")}, allow_nan=False)
    assert path.read_text() == '{\n "b": 1,\n "a": 2\n}\n'  # the failed write left it alone
