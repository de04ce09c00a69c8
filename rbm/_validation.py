"""Plain input checks shared by the whole package.

Every public function funnels its arguments through these helpers, so a bad
input fails early with a message that names the argument, instead of
broadcasting silently or producing NaN further down.
"""

from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse as sp

__all__ = [
    "as_float_array",
    "as_rng",
    "check_bias",
    "check_hidden",
    "check_params",
    "check_positive_int",
    "check_unit_interval",
    "check_visible",
    "check_weights",
    "clip_unit_interval",
    "generator_from_random_state",
]

#: Data may stray from [0, 1] by this much (rounding, e.g. ``minmax_scale`` giving
#: 1 + 2.2e-16): such values are clipped into [0, 1]. Anything further out is refused.
UNIT_TOLERANCE = 1e-6


def _float_dtype(x: np.ndarray, like: np.dtype | None = None) -> np.dtype:
    """float32 stays float32, float64 stays float64; anything else becomes float64."""
    if like is not None:
        return np.dtype(like)
    if x.dtype in (np.float32, np.float64):
        return x.dtype
    return np.dtype(np.float64)


def as_float_array(
    x, name: str, ndim: int | None = None, dtype=None, unit_interval: bool = False
) -> np.ndarray:
    """Return ``x`` as a finite floating-point array, or raise naming ``name``.

    Parameters
    ----------
    x : array_like
        The value to check.
    name : str
        The argument's name, used in error messages.
    ndim : int, optional
        The number of dimensions ``x`` must have.
    dtype : numpy dtype, optional
        Cast to this float dtype; by default float32 and float64 are kept and
        every other numeric type becomes float64.
    unit_interval : bool, default False
        Also require every entry in [0, 1], as :func:`check_unit_interval`
        does: one integer pass when the data pass, the min and max otherwise.
    """
    try:
        arr = np.asarray(x)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"{name} must be a numeric array, got {type(x).__name__}") from exc
    # Booleans, integers and real floats only: not complex numbers, strings, bytes,
    # objects, records, dates, or time deltas (which numpy counts as integers).
    if arr.dtype.kind == "c":
        raise TypeError(f"{name} must be real, got dtype {arr.dtype}")
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a numeric array, got dtype {arr.dtype}")
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-dimensional, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape})")
    arr = arr.astype(_float_dtype(arr, dtype), copy=False)
    if unit_interval and _bits_in_unit_interval(arr):
        return arr
    # min and max are NaN if any entry is NaN and infinite if any entry is: two
    # reductions, instead of a boolean mask as large as the data (55 MB for MNIST).
    low, high = arr.min(), arr.max()
    if not (np.isfinite(low) and np.isfinite(high)):
        raise ValueError(f"{name} contains NaN or infinite values")
    if unit_interval:
        _check_bounds(low, high, name)
    return arr


#: The bits of 1.0 read as an unsigned integer, for float32 and float64.
_ONE_BITS = {
    np.dtype(np.float32): (np.uint32, np.float32(1.0).view(np.uint32)),
    np.dtype(np.float64): (np.uint64, np.float64(1.0).view(np.uint64)),
}


def _bits_in_unit_interval(arr):
    """True when every entry is in [+0, 1] (so finite too), in one integer pass.

    Read as unsigned integers, the bits of a float in [+0, 1] are at most those
    of 1.0, and those of a negative number (sign bit), an infinity or a NaN (all
    exponent bits set) are larger. One integer maximum replaces a minimum and a
    maximum over the data; when it says no, the caller's slower checks name the
    problem (and accept -0.0, which this test does not).
    """
    uint, one = _ONE_BITS[arr.dtype]
    return bool(arr.view(uint).max() <= one)


def _check_bounds(low, high, name):
    if low < 0 or high > 1:
        raise ValueError(
            f"{name} must hold values in [0, 1] (binary states or probabilities), "
            f"got values in [{float(low):.4g}, {float(high):.4g}]"
        )


def check_unit_interval(x: np.ndarray, name: str) -> np.ndarray:
    """Raise unless every entry of ``x`` lies in [0, 1] (probabilities or bits)."""
    _check_bounds(x.min(), x.max(), name)
    return x


def check_weights(W) -> np.ndarray:
    """Check the weight matrix: a finite float array of shape (n_visible, n_hidden)."""
    return as_float_array(W, "W", ndim=2)


def check_bias(x, W: np.ndarray, name: str) -> np.ndarray:
    """Check a bias against ``W``: ``b`` has shape (n_visible,), ``c`` (n_hidden,)."""
    axis, layer = (0, "n_visible") if name == "b" else (1, "n_hidden")
    x = as_float_array(x, name, ndim=1, dtype=W.dtype)
    if x.shape != (W.shape[axis],):
        raise ValueError(
            f"{name} must have shape ({layer},) = ({W.shape[axis]},) to match W "
            f"{W.shape}, got {x.shape}"
        )
    return x


def check_params(W, b, c) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Check the parameters of a binary RBM and give them one float dtype.

    Parameters
    ----------
    W : array_like, shape (n_visible, n_hidden)
    b : array_like, shape (n_visible,)
    c : array_like, shape (n_hidden,)

    Returns
    -------
    W, b, c : ndarrays of W's float dtype (float32 is kept, others become float64).
    """
    W = check_weights(W)
    return W, check_bias(b, W, "b"), check_bias(c, W, "c")


def check_visible(v, W: np.ndarray, name: str = "v") -> np.ndarray:
    """Check a batch of visible vectors against ``W``: shape (n_samples, n_visible), in [0, 1]."""
    v = as_float_array(v, name, ndim=2, dtype=W.dtype, unit_interval=True)
    if v.shape[1] != W.shape[0]:
        raise ValueError(
            f"{name} must have shape (n_samples, n_visible) with n_visible = "
            f"{W.shape[0]} to match W {W.shape}, got {v.shape}"
        )
    return v


def check_hidden(h, W: np.ndarray, name: str = "h") -> np.ndarray:
    """Check a batch of hidden vectors against ``W``: shape (n_samples, n_hidden), in [0, 1]."""
    h = as_float_array(h, name, ndim=2, dtype=W.dtype, unit_interval=True)
    if h.shape[1] != W.shape[1]:
        raise ValueError(
            f"{name} must have shape (n_samples, n_hidden) with n_hidden = "
            f"{W.shape[1]} to match W {W.shape}, got {h.shape}"
        )
    return h


def check_positive_int(value, name: str, minimum: int = 1) -> int:
    """Raise unless ``value`` is an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def as_rng(rng) -> np.random.Generator:
    """Turn an int seed, a Generator or None into a ``numpy.random.Generator``."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or (isinstance(rng, numbers.Integral) and not isinstance(rng, bool)):
        return np.random.default_rng(rng)
    raise TypeError(
        f"rng must be an int seed, a numpy.random.Generator or None, got {type(rng).__name__}"
    )


def generator_from_random_state(random_state) -> np.random.Generator:
    """A Generator from an int, None, a Generator (itself) or a RandomState (seeded from it)."""
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(np.iinfo(np.int64).max, dtype=np.int64))
    return as_rng(random_state)


def clip_unit_interval(X, name="X"):
    """Clip entries within :data:`UNIT_TOLERANCE` of [0, 1] into it; refuse the others.

    One integer pass when every entry is already in [0, 1] (the usual case); a
    sparse matrix is checked on its stored values. Returns ``X`` itself or a
    clipped copy; the caller's array is never changed.
    """
    values = X.data if sp.issparse(X) else X
    if values.size == 0 or _bits_in_unit_interval(values):
        return X
    low, high = float(values.min()), float(values.max())
    if low < -UNIT_TOLERANCE or high > 1 + UNIT_TOLERANCE:
        if low < -UNIT_TOLERANCE:
            found = f"Negative values in data: the minimum is {low!r}"
        else:
            found = f"Values above 1 in data: the maximum is {high!r}"
        raise ValueError(
            f"{name} must hold values in [0, 1] (binary states or probabilities, up to a "
            f"rounding tolerance of {UNIT_TOLERANCE:g}). {found}. Map the data into [0, 1] "
            "first, e.g. with sklearn.preprocessing.MinMaxScaler(clip=True), which also "
            "clips test rows outside the training range."
        )
    X = X.copy()
    values = X.data if sp.issparse(X) else X
    np.clip(values, 0, 1, out=values)
    return X
