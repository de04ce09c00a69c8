"""Files: atomic writes, and finding the repository's committed result files.

A file written here is either the old one or the whole new one, never half of it.

Everything the project writes (MNIST files, saved models, result files of the
scripts and benchmarks) goes through :func:`atomic_write`: the data goes to a
temporary file in the same folder, is flushed to disk, then renamed over the
target, which is atomic on POSIX file systems. No pickle anywhere.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from .training import params_ok

__all__ = [
    "atomic_savez",
    "atomic_write",
    "atomic_write_json",
    "atomic_write_text",
    "find_results",
    "load_gaussian_rbm",
    "load_rbm",
    "save_gaussian_rbm",
    "save_rbm",
]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; the file gets the usual permissions (0666 & ~umask).

    Parameters
    ----------
    path : str or Path
        Target file; its folder must exist.
    data : bytes

    Returns
    -------
    Path
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def atomic_write_text(path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return atomic_write(path, text.encode("utf-8"))


def atomic_write_json(
    path, obj, indent: int = 1, sort_keys: bool = True, allow_nan: bool = True
) -> Path:
    """Write ``obj`` as JSON (with a trailing newline) to ``path`` atomically.

    Keys are sorted unless ``sort_keys`` is False (then they keep their order);
    with ``allow_nan=False``, NaN and infinities raise ``ValueError``.
    """
    text = json.dumps(obj, indent=indent, sort_keys=sort_keys, allow_nan=allow_nan)
    return atomic_write_text(path, text + "\n")


def atomic_savez(path, compressed: bool = False, **arrays) -> Path:
    """Write arrays to an ``.npz`` file atomically (``np.savez``; never pickled objects)."""
    buffer = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buffer, **arrays)
    return atomic_write(path, buffer.getvalue())


def find_results(name) -> Path:
    """Find a committed file or folder of the repository, looking from the working folder up.

    The chapters run from ``book/`` (Jupyter, the build) or from the repository root
    (nbval), and load what the scripts in ``scripts/`` and ``benchmarks/`` wrote.

    Parameters
    ----------
    name : str
        A path relative to the repository root, e.g. ``"results/benchmark/benchmark.json"``.

    Returns
    -------
    Path

    Raises
    ------
    FileNotFoundError
        If no folder from here up holds ``name``; the message says how to make it.
    """
    here = Path.cwd()
    for folder in [here, *here.parents]:
        if (folder / name).exists():
            return folder / name
    raise FileNotFoundError(
        f"{name} was not found in {here} or any folder above it: run the book from a clone "
        "of the repository, or regenerate it with the script in scripts/ or benchmarks/ "
        "that writes it (each chapter says which)"
    )


# ----------------------------------------------------------------------------- saved models

#: Version of the ``.npz`` layout written by :func:`save_rbm` (and :meth:`rbm.RBM.save`).
FORMAT_VERSION = 1
_FORMAT_NAME = "rbm.RBM"
#: The per-epoch lists of :attr:`rbm.RBM.history_`, in this order.
HISTORY_KEYS = (
    "epoch",
    "pseudo_likelihood",
    "pseudo_likelihood_article_scale",
    "reconstruction_error",
    "time",
)


def save_rbm(path, params, W, b, c, history, chains=None, velocity=None) -> Path:
    """Write a fitted RBM to an ``.npz`` file atomically, without pickle.

    Parameters
    ----------
    path : str or Path
        Written exactly as given (no suffix is added).
    params : dict
        The hyper-parameters, stored as a JSON string.
    W, b, c : ndarrays
    history : dict of lists
        The lists named by :data:`HISTORY_KEYS`.
    chains : ndarray, optional
        Persistent chains, stored as ``state_chain``.
    velocity : (ndarray, ndarray, ndarray), optional
        Momentum's velocity, stored as ``state_velocity_W``, ``_b``, ``_c``.

    Returns
    -------
    Path
    """
    arrays = {
        "format": np.array(_FORMAT_NAME),
        "format_version": np.array(FORMAT_VERSION),
        "params": np.array(json.dumps(params, sort_keys=True)),
        "W_": W,
        "b_": b,
        "c_": c,
    }
    for key in HISTORY_KEYS:
        dtype = np.int64 if key == "epoch" else np.float64
        arrays[f"history_{key}"] = np.asarray(history[key], dtype=dtype)
    if chains is not None:
        arrays["state_chain"] = chains
    if velocity is not None:
        for name, v in zip("Wbc", velocity, strict=True):
            arrays[f"state_velocity_{name}"] = v
    return atomic_savez(Path(path), **arrays)


def load_rbm(path, param_names):
    """Read a file written by :func:`save_rbm`, checking its format, keys and shapes.

    Parameters
    ----------
    path : str or Path
    param_names : list of str
        The hyper-parameters the file must hold, no more and no fewer.

    Returns
    -------
    dict
        "params", "W", "b", "c", "history", "chains" (or None), "velocity" (or None).

    Raises
    ------
    ValueError
        If the file is not an RBM file, has another format version, lacks
        a key, or holds arrays of the wrong shape or non-finite parameters.
    """
    path = Path(path)
    try:
        data = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise
    except (ValueError, OSError) as exc:
        raise ValueError(f"{path} is not an RBM file (.npz written by RBM.save): {exc}") from exc
    if not hasattr(data, "files"):
        raise ValueError(f"{path} is a single .npy array, not an RBM file written by RBM.save")
    with data:
        files = set(data.files)
        if "format" not in files or str(data["format"]) != _FORMAT_NAME:
            raise ValueError(f"{path} is not an RBM file: no format marker {_FORMAT_NAME!r}")
        version = int(data["format_version"]) if "format_version" in files else None
        if version != FORMAT_VERSION:
            raise ValueError(
                f"{path} has RBM format version {version}; this version of rbm reads "
                f"version {FORMAT_VERSION}"
            )
        required = {"params", "W_", "b_", "c_"} | {f"history_{k}" for k in HISTORY_KEYS}
        missing = sorted(required - files)
        if missing:
            raise ValueError(f"{path} is missing the keys {missing}")
        params = json.loads(str(data["params"]))
        if set(params) != set(param_names):
            raise ValueError(
                f"{path} has hyper-parameters {sorted(params)} that do not match RBM's "
                f"{sorted(param_names)}"
            )
        W, b, c = data["W_"], data["b_"], data["c_"]
        n_hidden = params.get("n_hidden")
        if W.ndim != 2 or W.shape[1] != n_hidden:
            raise ValueError(f"{path}: W_ has shape {W.shape}, expected (n_visible, {n_hidden})")
        if b.shape != (W.shape[0],) or c.shape != (W.shape[1],):
            raise ValueError(f"{path}: b_ {b.shape} and c_ {c.shape} do not match W_ {W.shape}")
        if not params_ok(W, b, c):
            raise ValueError(f"{path}: the parameters are not finite")
        history = {k: data[f"history_{k}"].tolist() for k in HISTORY_KEYS}
        if len({len(v) for v in history.values()}) != 1:
            raise ValueError(f"{path}: the history lists have different lengths")
        velocity = None
        if {f"state_velocity_{n}" for n in "Wbc"} <= files:
            velocity = tuple(data[f"state_velocity_{n}"] for n in "Wbc")
        return {
            "params": params,
            "W": W,
            "b": b,
            "c": c,
            "history": history,
            "chains": data["state_chain"] if "state_chain" in files else None,
            "velocity": velocity,
        }


# ----------------------------------------------------------------------------- Gaussian-Bernoulli

_GB_FORMAT_NAME = "rbm.GaussianBernoulliRBM"
#: The learned arrays of :class:`rbm.GaussianBernoulliRBM`, in this order.
GB_ARRAYS = ("W_", "b_", "c_", "log_var_")
#: The per-epoch lists of its ``history_``.
GB_HISTORY_KEYS = ("epoch", "reconstruction_error", "time")


def save_gaussian_rbm(path, params, W, b, c, log_var, history) -> Path:
    """Write a fitted Gaussian–Bernoulli RBM to an ``.npz`` file atomically, without pickle.

    Parameters
    ----------
    path : str or Path
    params : dict
        Hyper-parameters, stored as a JSON string.
    W, b, c, log_var : ndarrays
    history : dict of lists
        The lists named by :data:`GB_HISTORY_KEYS`.

    Returns
    -------
    Path
    """
    arrays = {
        "format": np.array(_GB_FORMAT_NAME),
        "format_version": np.array(FORMAT_VERSION),
        "params": np.array(json.dumps(params, sort_keys=True)),
        **dict(zip(GB_ARRAYS, (W, b, c, log_var), strict=True)),
    }
    for key in GB_HISTORY_KEYS:
        arrays[f"history_{key}"] = np.asarray(history[key], dtype=float)
    return atomic_savez(Path(path), **arrays)


def load_gaussian_rbm(path, param_names):
    """Read a file written by :func:`save_gaussian_rbm`, checking format, keys and shapes.

    Returns
    -------
    dict
        "params", "arrays" (W, b, c, log_var) and "history".

    Raises
    ------
    ValueError
        If the file is not such a file, has another version, lacks a key, or
        holds arrays of the wrong shape or non-finite values.
    """
    path = Path(path)
    try:
        data = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise ValueError(f"{path} is not a GaussianBernoulliRBM file: {exc}") from exc
    if not hasattr(data, "files"):
        raise ValueError(f"{path} is a single .npy array, not a GaussianBernoulliRBM file")
    with data:
        files = set(data.files)
        if "format" not in files or str(data["format"]) != _GB_FORMAT_NAME:
            raise ValueError(f"{path} is not a file of format {_GB_FORMAT_NAME!r}")
        if int(data["format_version"]) != FORMAT_VERSION:
            raise ValueError(f"{path} has format version {int(data['format_version'])}")
        required = {"params", *GB_ARRAYS} | {f"history_{k}" for k in GB_HISTORY_KEYS}
        missing = sorted(required - files)
        if missing:
            raise ValueError(f"{path} is missing the keys {missing}")
        params = json.loads(str(data["params"]))
        if set(params) != set(param_names):
            raise ValueError(f"{path} has hyper-parameters {sorted(params)}, not {param_names}")
        W, b, c, log_var = (data[name] for name in GB_ARRAYS)
        if W.ndim != 2 or W.shape[1] != params.get("n_hidden"):
            raise ValueError(f"{path}: W_ has shape {W.shape}, not (n_visible, n_hidden)")
        if b.shape != (W.shape[0],) or c.shape != (W.shape[1],) or log_var.shape != b.shape:
            raise ValueError(f"{path}: b_, c_ or log_var_ does not match W_ {W.shape}")
        if not all(np.isfinite(x).all() for x in (W, b, c, log_var)):
            raise ValueError(f"{path}: the parameters are not finite")
        history = {k: data[f"history_{k}"].tolist() for k in GB_HISTORY_KEYS}
        history["epoch"] = [int(e) for e in history["epoch"]]
        return {"params": params, "arrays": (W, b, c, log_var), "history": history}
