"""The counter-based random numbers behind every Bernoulli draw (package-private).

A batch of draws takes one 64-bit key from the caller's generator
(:func:`_draw_key`); uniform ``i`` of the batch is then a hash of the key and
``i`` (SplitMix64, :func:`_splitmix64`), so that numpy (:func:`_uniforms`,
:func:`_units_from_key`) and the compiled kernels of :mod:`rbm._fast`
compute the *same* numbers from the same key, in any order.
"""

from __future__ import annotations

import math

import numpy as np

#: SplitMix64 (Steele, Lea and Flood 2014): the counter's step, 2^64 over the golden
#: ratio, and the two multipliers of its output mix (Stafford's "variant 13").
_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)

#: Bits kept of each 64-bit output: as many as the dtype's significand holds, so
#: that the uniform is exact in it (float32: 24 bits, float64: 53 bits).
_UNIFORM_BITS = {np.dtype(np.float32): 24, np.dtype(np.float64): 53}


def _draw_key(rng):
    """One 64-bit key from ``rng``: the only draw a batch of uniforms takes from it.

    The bit generator's next raw output: the same number as
    ``rng.integers(0, 2**64, dtype=np.uint64)``, at a tenth of the cost.
    """
    return np.uint64(rng.bit_generator.random_raw())


def _splitmix64(key, n):
    """SplitMix64's first ``n`` outputs from seed ``key``: mix(key + i gamma), i = 1..n.

    Output i depends on ``key`` and ``i`` alone (a counter-based generator), so
    any block of it can be computed independently, in any order, and in a
    compiled loop with no state to carry (:mod:`rbm._fast` does).
    """
    z = np.arange(1, n + 1, dtype=np.uint64)
    z *= _GAMMA  # uint64 arrays wrap around modulo 2^64, as the algorithm wants
    z += key
    z ^= z >> np.uint64(30)
    z *= _MIX1
    z ^= z >> np.uint64(27)
    z *= _MIX2
    z ^= z >> np.uint64(31)
    return z


def _uniforms(key, shape, dtype):
    """Uniforms on [0, 1) from key: the top 24 (float32) or 53 (float64) bits of SplitMix64."""
    dtype = np.dtype(dtype)
    bits = _UNIFORM_BITS[dtype]
    z = _splitmix64(key, math.prod(shape)) >> np.uint64(64 - bits)
    return (z.astype(dtype) * dtype.type(2.0**-bits)).reshape(shape)


def _random_units(rng, n_units, size):
    """``size`` unit indices in 0 .. n_units - 1, from one key of ``rng``."""
    return _units_from_key(_draw_key(rng), n_units, size)


def _units_from_key(key, n_units, size):
    """Unit indices from ``key`` by Lemire's multiply-shift of SplitMix64's outputs.

    Index r is floor(z_r n / 2^32) with z_r the top 32 bits of output r + 1:
    each unit comes up with probability within n_units / 2^32 of 1 / n_units
    (2e-7 for 784).
    """
    z = _splitmix64(key, size) >> np.uint64(32)
    return ((z * np.uint64(n_units)) >> np.uint64(32)).astype(np.intp)
