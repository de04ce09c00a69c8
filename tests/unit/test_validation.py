"""Input validation of every public math function: each bad input fails early, with the
right exception type and a message that names the offending argument.

Each case calls the function with valid arguments except one (see ``call``).
"""

from __future__ import annotations

import inspect
import re

import numpy as np
import pytest

import rbm

N_SAMPLES, N_VISIBLE, N_HIDDEN, N_CHAINS = 5, 4, 3, 7


def _valid():
    rng = np.random.default_rng(0)
    return {
        "v": rng.integers(0, 2, (N_SAMPLES, N_VISIBLE)).astype(float),
        "h": rng.integers(0, 2, (N_SAMPLES, N_HIDDEN)).astype(float),
        "W": rng.standard_normal((N_VISIBLE, N_HIDDEN)),
        "b": rng.standard_normal(N_VISIBLE),
        "c": rng.standard_normal(N_HIDDEN),
        "chain": rng.integers(0, 2, (N_CHAINS, N_VISIBLE)).astype(float),
        "p": rng.random((N_SAMPLES, N_VISIBLE)),
        "x": rng.standard_normal((N_SAMPLES, N_VISIBLE)),
        "k": 2,
        "rng": 0,
    }


FUNCTIONS = [
    "sigmoid",
    "softplus",
    "energy",
    "free_energy",
    "h_given_v",
    "v_given_h",
    "sample_bernoulli",
    "gibbs",
    "cd_k",
    "pcd_k",
    "log_partition",
    "log_likelihood",
    "log_likelihood_gradient",
    "pseudo_likelihood",
    "exact_pseudo_likelihood",
]


def _params(name):
    return list(inspect.signature(getattr(rbm, name)).parameters)


def call(name, **override):
    """Call rbm.<name> with valid arguments, except those given in ``override``."""
    valid = _valid()
    kwargs = {
        p: override.get(p, valid.get(p)) for p in _params(name) if p in valid or p in override
    }
    return getattr(rbm, name)(**kwargs)


def _cases(args, functions=FUNCTIONS):
    """(function, argument) pairs for every function that takes one of ``args``."""
    return [(f, a) for f in functions for a in _params(f) if a in args]


def _ids(cases):
    return [f"{f}-{a}" for f, a in cases]


def assert_names(excinfo, arg):
    """The message starts with the argument's name, as every check in rbm._validation does."""
    message = str(excinfo.value)
    assert re.match(rf"{re.escape(arg)}\b", message), f"message does not name {arg!r}: {message}"


ARRAYS = ("v", "h", "W", "b", "c", "chain", "p", "x")
SHAPED = ("v", "h", "W", "b", "c", "chain")  # arrays with a required number of dimensions
BOUNDED = ("v", "h", "chain", "p")  # states or probabilities: values in [0, 1]


def test_valid_arguments_pass():
    for name in FUNCTIONS:
        call(name)


def test_nested_lists_are_accepted():
    valid = _valid()
    as_lists = {k: valid[k].tolist() for k in ("v", "W", "b", "c")}
    np.testing.assert_array_equal(
        rbm.free_energy(**as_lists), rbm.free_energy(*(valid[k] for k in ("v", "W", "b", "c")))
    )


# -- number of dimensions ----------------------------------------------------------------------

NDIM_CASES = _cases(SHAPED)


@pytest.mark.parametrize(("name", "arg"), NDIM_CASES, ids=_ids(NDIM_CASES))
def test_too_many_dimensions(name, arg):
    with pytest.raises(ValueError, match="dimensional") as excinfo:
        call(name, **{arg: _valid()[arg][None]})
    assert_names(excinfo, arg)


@pytest.mark.parametrize(("name", "arg"), NDIM_CASES, ids=_ids(NDIM_CASES))
def test_too_few_dimensions(name, arg):
    with pytest.raises(ValueError, match="dimensional") as excinfo:
        call(name, **{arg: _valid()[arg][0]})  # a row of a matrix, an entry of a vector
    assert_names(excinfo, arg)


# -- shapes that do not agree ------------------------------------------------------------------

LAYER_SIZE_CASES = _cases(("v", "h", "b", "c", "chain"))


@pytest.mark.parametrize(("name", "arg"), LAYER_SIZE_CASES, ids=_ids(LAYER_SIZE_CASES))
def test_layer_size_disagrees_with_W(name, arg):
    # One unit too many along the axis that must match W.
    bad = _valid()[arg]
    bad = np.concatenate([bad, bad[..., :1]], axis=-1)
    with pytest.raises(ValueError, match="match W") as excinfo:
        call(name, **{arg: bad})
    assert_names(excinfo, arg)


def test_energy_v_and_h_sample_counts_disagree():
    with pytest.raises(ValueError, match="same number of samples") as excinfo:
        call("energy", h=_valid()["h"][:-1])
    assert_names(excinfo, "v")
    assert "h" in str(excinfo.value)


def test_pcd_chain_count_may_differ_from_batch_size():
    (dW, _, _), new_chain = call("pcd_k")
    assert new_chain.shape == (N_CHAINS, N_VISIBLE) and dW.shape == (N_VISIBLE, N_HIDDEN)


# -- NaN and infinity --------------------------------------------------------------------------

FINITE_CASES = _cases(ARRAYS)


@pytest.mark.parametrize("bad_value", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize(("name", "arg"), FINITE_CASES, ids=_ids(FINITE_CASES))
def test_nan_and_inf_are_rejected(name, arg, bad_value):
    bad = _valid()[arg].copy()
    bad.flat[-1] = bad_value
    with pytest.raises(ValueError, match="NaN or infinite") as excinfo:
        call(name, **{arg: bad})
    assert_names(excinfo, arg)


# -- values outside [0, 1] ---------------------------------------------------------------------

BOUNDED_CASES = _cases(BOUNDED)


@pytest.mark.parametrize("bad_value", [-1e-9, 1.5])
@pytest.mark.parametrize(("name", "arg"), BOUNDED_CASES, ids=_ids(BOUNDED_CASES))
def test_values_outside_unit_interval_are_rejected(name, arg, bad_value):
    bad = _valid()[arg].copy()
    bad.flat[0] = bad_value
    with pytest.raises(ValueError, match=r"\[0, 1\]") as excinfo:
        call(name, **{arg: bad})
    assert_names(excinfo, arg)


# -- types -------------------------------------------------------------------------------------


NON_REAL = {
    "str": lambda x: np.full(np.shape(x), "a"),
    "bytes": lambda x: np.full(np.shape(x), b"1"),
    "object": lambda x: np.asarray(x).astype(object),  # even when the objects are numbers
    "complex": lambda x: np.asarray(x) + 0.5j,
    "timedelta": lambda x: np.zeros(np.shape(x), dtype="m8[s]"),
    "datetime": lambda x: np.zeros(np.shape(x), dtype="M8[s]"),
}


@pytest.mark.parametrize("kind", list(NON_REAL))
@pytest.mark.parametrize(("name", "arg"), FINITE_CASES, ids=_ids(FINITE_CASES))
def test_non_real_dtypes_are_rejected(name, arg, kind):
    with pytest.raises(TypeError) as excinfo:
        call(name, **{arg: NON_REAL[kind](_valid()[arg])})
    assert_names(excinfo, arg)


@pytest.mark.parametrize(("name", "arg"), FINITE_CASES, ids=_ids(FINITE_CASES))
def test_ragged_sequences_are_rejected(name, arg):
    with pytest.raises(TypeError) as excinfo:
        call(name, **{arg: [[0.0, 1.0], [1.0]]})
    assert_names(excinfo, arg)


# -- empty arrays ------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "arg"), FINITE_CASES, ids=_ids(FINITE_CASES))
def test_empty_arrays_are_rejected(name, arg):
    shape = (0, *_valid()[arg].shape[1:])  # no samples (or no units, for a bias)
    with pytest.raises(ValueError, match="empty") as excinfo:
        call(name, **{arg: np.empty(shape)})
    assert_names(excinfo, arg)


@pytest.mark.parametrize("name", ["energy", "free_energy", "log_partition"])
def test_model_without_hidden_units_is_rejected(name):
    with pytest.raises(ValueError, match="empty") as excinfo:
        call(name, W=np.empty((N_VISIBLE, 0)), c=np.empty(0), h=np.empty((N_SAMPLES, 0)))
    assert_names(excinfo, "W")


# -- k -----------------------------------------------------------------------------------------

K_FUNCTIONS = [f for f in FUNCTIONS if "k" in _params(f)]


@pytest.mark.parametrize("k", [0, -1, -100])
@pytest.mark.parametrize("name", K_FUNCTIONS)
def test_k_below_one_is_rejected(name, k):
    with pytest.raises(ValueError, match=">= 1") as excinfo:
        call(name, k=k)
    assert_names(excinfo, "k")


@pytest.mark.parametrize("k", [1.5, 2.0, "2", None, True, np.float64(2.0), [2]])
@pytest.mark.parametrize("name", K_FUNCTIONS)
def test_non_integer_k_is_rejected(name, k):
    with pytest.raises(TypeError, match="integer") as excinfo:
        call(name, k=k)
    assert_names(excinfo, "k")


@pytest.mark.parametrize("name", K_FUNCTIONS)
def test_numpy_integer_k_is_accepted(name):
    np.testing.assert_array_equal(
        np.concatenate([np.ravel(x) for x in _flatten(call(name, k=np.int64(3)))]),
        np.concatenate([np.ravel(x) for x in _flatten(call(name, k=3))]),
    )


def _flatten(result):
    if isinstance(result, tuple):
        return [a for part in result for a in _flatten(part)]
    return [result]


# -- rng ---------------------------------------------------------------------------------------

RNG_FUNCTIONS = [f for f in FUNCTIONS if "rng" in _params(f)]


@pytest.mark.parametrize(
    "rng",
    ["0", 1.5, True, [1, 2], np.random.RandomState(0), object()],
    ids=["str", "float", "bool", "list", "RandomState", "object"],
)
@pytest.mark.parametrize("name", RNG_FUNCTIONS)
def test_bad_rng_is_rejected(name, rng):
    with pytest.raises(TypeError, match="Generator") as excinfo:
        call(name, rng=rng)
    assert_names(excinfo, "rng")


@pytest.mark.parametrize("name", RNG_FUNCTIONS)
def test_rng_none_int_and_generator_are_accepted(name):
    for rng in (None, 3, np.int64(3), np.random.default_rng(3)):
        call(name, rng=rng)


# -- models too large to enumerate -------------------------------------------------------------

TOO_LARGE = rbm.MAX_EXACT_UNITS + 1


@pytest.mark.parametrize("name", ["log_partition", "log_likelihood", "log_likelihood_gradient"])
def test_too_large_model_is_rejected_with_the_limit(name):
    n_visible, n_hidden = TOO_LARGE + 3, TOO_LARGE
    W = np.zeros((n_visible, n_hidden))
    with pytest.raises(ValueError, match="limit") as excinfo:
        call(
            name,
            W=W,
            b=np.zeros(n_visible),
            c=np.zeros(n_hidden),
            v=np.zeros((2, n_visible)),
        )
    message = str(excinfo.value)
    assert f"<= {rbm.MAX_EXACT_UNITS}" in message, message  # the allowed size
    assert str(W.shape) in message, message  # and the model's size


def test_the_limit_is_on_the_smaller_layer():
    # 2 hidden units: 4 terms, however many visible units there are.
    n_visible = 10 * rbm.MAX_EXACT_UNITS
    log_z = rbm.log_partition(np.zeros((n_visible, 2)), np.zeros(n_visible), np.zeros(2))
    assert log_z == pytest.approx((n_visible + 2) * np.log(2))


# -- log_z -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("log_z", "error"),
    [
        (np.nan, ValueError),
        (np.inf, ValueError),
        (-np.inf, ValueError),
        ("1.0", TypeError),
        (np.array([1.0, 2.0]), TypeError),
        ([1.0], TypeError),
        (1 + 2j, TypeError),
        (object(), TypeError),
    ],
    ids=["nan", "inf", "-inf", "str", "array", "list", "complex", "object"],
)
def test_bad_log_z_is_rejected(log_z, error):
    with pytest.raises(error) as excinfo:
        call("log_likelihood", log_z=log_z)
    assert_names(excinfo, "log_z")


@pytest.mark.parametrize("log_z", [3, 3.0, np.float32(3.0), np.int64(3), np.array(3.0)])
def test_real_scalar_log_z_is_accepted(log_z):
    np.testing.assert_allclose(
        call("log_likelihood", log_z=log_z), call("log_likelihood", log_z=3.0), rtol=0
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_one_pass_unit_interval_check_agrees_with_min_and_max(dtype):
    from rbm._validation import _bits_in_unit_interval, as_float_array

    rng = np.random.default_rng(0)
    good = rng.random((50, 7)).astype(dtype)
    good[0, 0], good[1, 1] = 0.0, 1.0
    assert _bits_in_unit_interval(good)
    just_above_one = np.nextafter(dtype(1), dtype(2))
    for bad_value in (-1e-30, -0.0, np.nan, np.inf, -np.inf, just_above_one, 2.0):
        bad = good.copy()
        bad[3, 4] = bad_value
        assert not _bits_in_unit_interval(bad), bad_value
    # -0.0 is a zero: the slower checks accept it; NaN is named as such
    signed_zero = good.copy()
    signed_zero[2, 2] = -0.0
    assert as_float_array(signed_zero, "X", unit_interval=True) is signed_zero
    with_nan = good.copy()
    with_nan[2, 2] = np.nan
    with pytest.raises(ValueError, match="X contains NaN"):
        as_float_array(with_nan, "X", unit_interval=True)
    above = good.copy()
    above[2, 2] = 1.5
    with pytest.raises(ValueError, match=r"X must hold values in \[0, 1\]"):
        as_float_array(above, "X", unit_interval=True)
