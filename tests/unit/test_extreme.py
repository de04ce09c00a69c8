"""Extreme parameters: weights and biases of +-1e3 and +-1e4 saturate every unit.

Every public function must then return finite values, raise no floating-point
error and emit no warning (checked with ``warnings.simplefilter("error")`` and
``np.errstate(over="raise", invalid="raise", divide="raise")``), in float32 and
float64. Where an exact value is known (brute force in float64, the limits of
sigmoid and softplus), it is compared too.
"""

from __future__ import annotations

import contextlib
import warnings

import numpy as np
import pytest

import rbm
import rbm.evaluation


@contextlib.contextmanager
def strict_numerics():
    """Make every warning, overflow, invalid operation and division by zero an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            yield


def _extreme_model(scale, dtype, shape, pattern, seed=0):
    rng = np.random.default_rng(seed)
    n_visible, n_hidden = shape

    def draw(size):
        if pattern == "random_signs":
            return scale * rng.choice([-1.0, 1.0], size=size)
        if pattern == "mixed_magnitudes":  # -scale .. scale, most units saturated
            return scale * rng.uniform(-1, 1, size=size)
        return (1.0 if pattern == "all_positive" else -1.0) * scale * np.ones(size)

    return tuple(draw(s).astype(dtype) for s in ((n_visible, n_hidden), n_visible, n_hidden))


def _outputs(W, b, c, dtype):
    """Run every public function on the extreme model; a dict name -> tuple of outputs."""
    n_visible, n_hidden = W.shape
    rng = np.random.default_rng(1)
    v = rng.integers(0, 2, (6, n_visible)).astype(dtype)
    v[0], v[1] = 0, 1  # the all-off and all-on states
    h = rng.integers(0, 2, (6, n_hidden)).astype(dtype)
    p = rbm.h_given_v(v, W, c)
    return {
        "sigmoid": (rbm.sigmoid(W),),
        "softplus": (rbm.softplus(W),),
        "energy": (rbm.energy(v, h, W, b, c),),
        "free_energy": (rbm.free_energy(v, W, b, c),),
        "h_given_v": (p,),
        "v_given_h": (rbm.v_given_h(h, W, b),),
        "sample_bernoulli": (rbm.sample_bernoulli(p, 2),),
        "gibbs": (rbm.gibbs(v, W, b, c, 5, 3),),
        "cd_k": rbm.cd_k(v, W, b, c, 5, 4),
        "pcd_k": (*rbm.pcd_k(v, v[::-1], W, b, c, 5, 5)[0],),
        "log_partition": (np.float64(rbm.log_partition(W, b, c)),),
        "log_likelihood": (rbm.log_likelihood(v, W, b, c),),
        "log_likelihood_gradient": rbm.log_likelihood_gradient(v, W, b, c),
        "pseudo_likelihood": (rbm.pseudo_likelihood(v, W, b, c, 6),),
        "exact_pseudo_likelihood": (rbm.exact_pseudo_likelihood(v, W, b, c),),
    }


SCALES = [1e3, 1e4]
DTYPES = [np.float32, np.float64]
SHAPES = [(8, 6), (6, 8)]  # hidden layer enumerated / visible layer enumerated
PATTERNS = ["random_signs", "all_positive", "all_negative", "mixed_magnitudes"]


@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize("shape", SHAPES, ids=["8x6", "6x8"])
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("scale", SCALES, ids=["1e3", "1e4"])
def test_every_function_is_finite_and_silent(scale, dtype, shape, pattern):
    W, b, c = _extreme_model(scale, dtype, shape, pattern)
    with strict_numerics():
        outputs = _outputs(W, b, c, dtype)
    for name, arrays in outputs.items():
        for out in arrays:
            assert np.all(np.isfinite(out)), f"{name} is not finite"
    for name in ("sigmoid", "h_given_v", "v_given_h"):
        assert np.all((outputs[name][0] >= 0) & (outputs[name][0] <= 1)), name
    for name in ("sample_bernoulli", "gibbs"):
        assert set(np.unique(outputs[name][0])) <= {0.0, 1.0}, name
    # Gradient estimates are differences of means of numbers in [0, 1].
    for name in ("cd_k", "pcd_k", "log_likelihood_gradient"):
        for g in outputs[name]:
            assert np.all(np.abs(g) <= 1 + 1e-6), name
    # Log-probabilities are <= 0: allow the float rounding of -F(v) - log Z, each of
    # size up to (n_visible * n_hidden + n_visible + n_hidden) * scale.
    slack = 4 * np.finfo(dtype).eps * scale * (shape[0] * shape[1] + sum(shape))
    for name in ("log_likelihood", "pseudo_likelihood", "exact_pseudo_likelihood"):
        assert np.all(outputs[name][0] <= slack), name


@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize("shape", SHAPES, ids=["8x6", "6x8"])
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("scale", SCALES, ids=["1e3", "1e4"])
def test_exact_quantities_stay_exact(scale, dtype, shape, pattern, brute):
    W, b, c = _extreme_model(scale, dtype, shape, pattern)
    ref = brute(W, b, c)  # float64 enumeration of the same (possibly float32) numbers
    with strict_numerics():
        log_z = rbm.log_partition(W, b, c)
        free = rbm.free_energy(ref.V, W, b, c)
        log_p = rbm.log_likelihood(ref.V, W, b, c)
    # log Z is computed in float64 whatever the input: relative error ~1e-15.
    assert log_z == pytest.approx(ref.log_z, rel=1e-12, abs=1e-9)
    # F(v) in the input's dtype: its rounding is a few eps times the largest term sum.
    bound = 4 * np.finfo(dtype).eps * scale * (shape[0] * shape[1] + sum(shape))
    np.testing.assert_allclose(free, ref.free_energy_all, rtol=0, atol=bound)
    # p(v) still sums to one (mass may sit on a single state, p = 1 exactly).
    total = np.exp(log_p.astype(np.float64)).sum()
    assert total == pytest.approx(1.0, abs=1e-9 if dtype == np.float64 else 1e-5)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_sigmoid_and_softplus_at_the_ends_of_the_float_range(dtype):
    big = np.finfo(dtype).max
    x = np.array([-big, -1e4, -1e3, 0.0, 1e3, 1e4, big], dtype=dtype)
    with strict_numerics():
        s, sp = rbm.sigmoid(x), rbm.softplus(x)
    assert s.dtype == dtype and sp.dtype == dtype
    np.testing.assert_array_equal(s, np.array([0, 0, 0, 0.5, 1, 1, 1], dtype=dtype))
    np.testing.assert_array_equal(sp[[0, 1, 2]], 0)
    assert sp[3] == pytest.approx(np.log(2), rel=1e-6)
    np.testing.assert_array_equal(sp[4:], x[4:])  # softplus(x) = x once e^-x underflows


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_mnist_sized_free_energy_with_huge_weights(dtype):
    # 784 x 500 with weights of +-1e4: pre-activations up to 7.8e6 and F(v) up to ~1e9,
    # still far inside float32's range; the result must be finite and close to float64's.
    rng = np.random.default_rng(8)
    W = 1e4 * rng.choice([-1.0, 1.0], size=(784, 500))
    b, c = 1e4 * rng.choice([-1.0, 1.0], size=784), 1e4 * rng.choice([-1.0, 1.0], size=500)
    v = (rng.random((4, 784)) < 0.5).astype(float)
    with strict_numerics():
        free = rbm.free_energy(v.astype(dtype), W.astype(dtype), b.astype(dtype), c.astype(dtype))
        p_h = rbm.h_given_v(v.astype(dtype), W.astype(dtype), c.astype(dtype))
        pl = rbm.exact_pseudo_likelihood(v[:1], W.astype(dtype), b.astype(dtype), c.astype(dtype))
    reference = rbm.free_energy(v, W, b, c)
    assert free.dtype == dtype and np.all(np.isfinite(free)) and np.all(np.isfinite(pl))
    # Integer-valued sums below 2^24 * 1e4 are exact in float32 up to its rounding: 1e-6 rel.
    np.testing.assert_allclose(free, reference, rtol=1e-6)
    assert np.all((p_h >= 0) & (p_h <= 1))


def test_log_partition_fast_path_with_huge_weights(monkeypatch):
    # The float32 fast path loses absolute precision ~ eps32 * |pre-activation| per unit,
    # but stays finite and within a relative 1e-6 of the float64 path.
    W, b, c = _extreme_model(1e3, np.float64, (40, 8), "mixed_magnitudes", seed=9)
    with strict_numerics():
        monkeypatch.setattr(rbm.evaluation, "_FLOAT64_WORK_LIMIT", 0)
        fast = rbm.log_partition(W, b, c)
        monkeypatch.setattr(rbm.evaluation, "_FLOAT64_WORK_LIMIT", 2**62)
        slow = rbm.log_partition(W, b, c)
    assert np.isfinite(fast)
    assert fast == pytest.approx(slow, rel=1e-6)
