"""RBM.save / RBM.load: an exact round trip, no pickle, atomic writes, clear errors."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import rbm
import rbm.io


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return (rng.random((256, 30)) < 0.3).astype(np.float32)


@pytest.fixture(scope="module")
def fitted(data):
    return rbm.RBM(
        n_hidden=7, n_epochs=3, momentum=0.5, persistent=True, weight_decay=1e-4, random_state=5
    ).fit(data)


def _arrays(path):
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def _write(path, arrays):
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def test_round_trip_is_exact(tmp_path, fitted, data):
    path = tmp_path / "model.npz"
    fitted.save(path)
    loaded = rbm.RBM.load(path)
    assert loaded.get_params() == fitted.get_params()
    for name in ("W_", "b_", "c_"):
        a, b = getattr(fitted, name), getattr(loaded, name)
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes()  # bit for bit
    assert loaded.history_ == fitted.history_
    assert loaded.n_features_in_ == 30
    np.testing.assert_array_equal(loaded.transform(data), fitted.transform(data))
    np.testing.assert_array_equal(loaded.chains_, fitted.chains_)
    for a, b in zip(loaded.velocity_, fitted.velocity_, strict=True):
        np.testing.assert_array_equal(a, b)
    loaded.partial_fit(data)  # the loaded model trains on
    assert loaded.history_["epoch"] == [0, 1, 2, 3]


def test_file_holds_no_pickled_objects(tmp_path, fitted):
    path = tmp_path / "model.npz"
    fitted.save(path)
    arrays = _arrays(path)  # allow_pickle=False would raise on an object array
    assert all(a.dtype != object for a in arrays.values())
    assert json.loads(str(arrays["params"]))["n_hidden"] == 7


def test_save_writes_exactly_the_given_path_and_is_atomic(tmp_path, fitted, monkeypatch):
    path = tmp_path / "model.rbm"
    fitted.save(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.rbm"]
    before = path.read_bytes()

    def crash(fd):
        raise KeyboardInterrupt  # interrupted after the data went to the temporary file

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(KeyboardInterrupt):
        rbm.RBM(n_hidden=3, n_epochs=1).fit(np.eye(4)).save(path)
    assert path.read_bytes() == before  # the old file is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.rbm"]  # no temporary left


def test_generator_random_state_is_saved_as_none(tmp_path, data):
    m = rbm.RBM(n_hidden=3, n_epochs=1, random_state=np.random.default_rng(0)).fit(data)
    m.save(tmp_path / "m.npz")
    assert rbm.RBM.load(tmp_path / "m.npz").random_state is None


def test_missing_key(tmp_path, fitted):
    fitted.save(tmp_path / "m.npz")
    arrays = _arrays(tmp_path / "m.npz")
    del arrays["c_"]
    _write(tmp_path / "bad.npz", arrays)
    with pytest.raises(ValueError, match=r"missing the keys \['c_'\]"):
        rbm.RBM.load(tmp_path / "bad.npz")


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("W_", np.zeros((30, 6), np.float32), "W_ has shape"),
        ("W_", np.zeros(30, np.float32), "W_ has shape"),
        ("b_", np.zeros(29, np.float32), "do not match"),
        ("c_", np.zeros((7, 1), np.float32), "do not match"),
        ("history_time", np.zeros(2), "different lengths"),
        ("W_", np.full((30, 7), np.nan, np.float32), "not finite"),
    ],
)
def test_wrong_shapes_or_values(tmp_path, fitted, key, value, message):
    fitted.save(tmp_path / "m.npz")
    arrays = _arrays(tmp_path / "m.npz")
    arrays[key] = value
    _write(tmp_path / "bad.npz", arrays)
    with pytest.raises(ValueError, match=message):
        rbm.RBM.load(tmp_path / "bad.npz")


def test_wrong_format_version(tmp_path, fitted):
    fitted.save(tmp_path / "m.npz")
    arrays = _arrays(tmp_path / "m.npz")
    arrays["format_version"] = np.array(rbm.io.FORMAT_VERSION + 1)
    _write(tmp_path / "bad.npz", arrays)
    with pytest.raises(ValueError, match="format version 2"):
        rbm.RBM.load(tmp_path / "bad.npz")


def test_unknown_hyperparameter(tmp_path, fitted):
    fitted.save(tmp_path / "m.npz")
    arrays = _arrays(tmp_path / "m.npz")
    params = json.loads(str(arrays["params"]))
    params["n_visible"] = 30
    arrays["params"] = np.array(json.dumps(params))
    _write(tmp_path / "bad.npz", arrays)
    with pytest.raises(ValueError, match="hyper-parameters"):
        rbm.RBM.load(tmp_path / "bad.npz")


def test_files_that_are_not_rbms(tmp_path):
    _write(tmp_path / "other.npz", {"x": np.arange(3)})
    with pytest.raises(ValueError, match="not an RBM file"):
        rbm.RBM.load(tmp_path / "other.npz")
    np.save(tmp_path / "array.npy", np.arange(3))
    with pytest.raises(ValueError, match="not an RBM file"):
        rbm.RBM.load(tmp_path / "array.npy")
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(ValueError, match="not an RBM file"):
        rbm.RBM.load(tmp_path / "text.npz")
    with pytest.raises(FileNotFoundError):
        rbm.RBM.load(tmp_path / "absent.npz")
