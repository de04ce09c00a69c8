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

__all__ = [
    "atomic_savez",
    "atomic_write",
    "atomic_write_json",
    "atomic_write_text",
    "find_results",
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
