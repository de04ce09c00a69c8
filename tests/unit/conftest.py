"""Shared fixtures for the unit tests of the package's mathematics.

The brute-force reference here is written from the definitions alone and never
calls into :mod:`rbm`: a tiny binary RBM has at most 2^(8 + 6) joint states
(v, h), so every exact quantity (log Z, p(v), the conditionals, the model's
moments, one Gibbs step's transition matrix) is a direct sum over a table of
-E(v, h).

Fixtures return functions or classes (session-scoped, so hypothesis can use them):

- ``make_model(seed, n_visible, n_hidden, scale, dtype)`` -> ``(W, b, c)``;
- ``brute``: the :class:`BruteForce` class, ``brute(W, b, c)``;
- ``chi_square(counts, probs)`` -> ``(statistic, df)``.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest


def _make_model(seed, n_visible, n_hidden, scale, dtype=np.float64):
    """Random parameters: every entry of W, b and c is ``scale`` times a standard normal."""
    rng = np.random.default_rng(seed)
    W = scale * rng.standard_normal((n_visible, n_hidden))
    b = scale * rng.standard_normal(n_visible)
    c = scale * rng.standard_normal(n_hidden)
    return W.astype(dtype), b.astype(dtype), c.astype(dtype)


def all_binary_states(n):
    """All 2^n binary vectors of length n as rows of a float64 array, in lexicographic order."""
    return np.array(list(itertools.product((0.0, 1.0), repeat=n)), dtype=np.float64).reshape(
        2**n, n
    )


def logsumexp(x, axis=None, keepdims=False):
    """log sum exp(x), shifted by the maximum so that it never overflows."""
    x = np.asarray(x, dtype=np.float64)
    m = np.max(x, axis=axis, keepdims=True)
    out = m + np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))
    return out if keepdims else np.squeeze(out, axis=axis)


class BruteForce:
    """Exact quantities of a tiny binary RBM by enumerating every joint state.

    ``self.V`` (2^n_visible, n_visible) and ``self.H`` (2^n_hidden, n_hidden) list
    all states; ``self.neg_energy[a, s]`` is -E(V[a], H[s]) in float64.
    """

    def __init__(self, W, b, c):
        self.W, self.b, self.c = (np.asarray(x, dtype=np.float64) for x in (W, b, c))
        n_visible, n_hidden = self.W.shape
        self.V = all_binary_states(n_visible)
        self.H = all_binary_states(n_hidden)
        # -E(v, h) = sum_ij v_i W_ij h_j + sum_i b_i v_i + sum_j c_j h_j, for every pair.
        self.neg_energy = (
            (self.V @ self.W) @ self.H.T + (self.V @ self.b)[:, None] + (self.H @ self.c)[None, :]
        )
        self.log_z = float(logsumexp(self.neg_energy))
        self.log_p_joint = self.neg_energy - self.log_z  # log p(v, h)
        self.free_energy_all = -logsumexp(self.neg_energy, axis=1)  # F(v) for every v
        self.log_p_v_all = logsumexp(self.log_p_joint, axis=1)  # log p(v)
        self.log_p_h_all = logsumexp(self.log_p_joint, axis=0)  # log p(h)

    @staticmethod
    def energy_index_form(v, h, W, b, c):
        """E(v, h) = -sum_ij v_i W_ij h_j - sum_i b_i v_i - sum_j c_j h_j, with plain loops."""
        n_visible, n_hidden = len(b), len(c)
        total = 0.0
        for i in range(n_visible):
            for j in range(n_hidden):
                total -= float(v[i]) * float(W[i][j]) * float(h[j])
        for i in range(n_visible):
            total -= float(b[i]) * float(v[i])
        for j in range(n_hidden):
            total -= float(c[j]) * float(h[j])
        return total

    @staticmethod
    def index_of(states):
        """Row indices into ``V`` (or ``H``) of binary rows: the bits read as a binary number."""
        states = np.asarray(states)
        n = states.shape[1]
        return (np.rint(states).astype(np.int64) @ (2 ** np.arange(n - 1, -1, -1))).astype(
            np.int64
        )

    def log_p(self, v):
        """Exact log p(v) of binary rows ``v``."""
        return self.log_p_v_all[self.index_of(v)]

    def hidden_marginals(self, v):
        """P(h_j = 1 | v) from p(h | v) proportional to exp(-E(v, h)), for binary rows ``v``."""
        rows = self.neg_energy[self.index_of(v)]
        p_h_given_v = np.exp(rows - logsumexp(rows, axis=1, keepdims=True))
        return p_h_given_v @ self.H

    def visible_marginals(self, h):
        """P(v_i = 1 | h) from p(v | h) proportional to exp(-E(v, h)), for binary rows ``h``."""
        cols = self.neg_energy[:, self.index_of(h)].T
        p_v_given_h = np.exp(cols - logsumexp(cols, axis=1, keepdims=True))
        return p_v_given_h @ self.V

    def model_moments(self):
        """E[v h^T], E[v], E[h] under the model's joint distribution."""
        p = np.exp(self.log_p_joint)
        return self.V.T @ p @ self.H, p.sum(axis=1) @ self.V, p.sum(axis=0) @ self.H

    def mean_log_likelihood(self, v):
        """Mean exact log p(v) over binary rows ``v``."""
        return float(np.mean(self.log_p(v)))

    def log_conditionals(self, v):
        """sum_i log P(v_i | v_-i) of each binary row, from the enumerated p(v)."""
        v = np.rint(np.asarray(v, dtype=np.float64))
        total = np.zeros(len(v))
        log_pv = self.log_p(v)
        for i in range(v.shape[1]):
            flipped = v.copy()
            flipped[:, i] = 1 - flipped[:, i]
            total += log_pv - np.logaddexp(log_pv, self.log_p(flipped))
        return total

    def transition_matrix(self):
        """T[a, a'] = P(v' = V[a'] | v = V[a]) for one block-Gibbs step v -> h -> v'."""
        p_h_given_v = np.exp(self.neg_energy - logsumexp(self.neg_energy, axis=1, keepdims=True))
        p_v_given_h = np.exp(self.neg_energy - logsumexp(self.neg_energy, axis=0, keepdims=True))
        return p_h_given_v @ p_v_given_h.T


def _chi_square_gof(counts, probs, min_expected=5.0):
    """Pearson's chi-square goodness-of-fit statistic and its degrees of freedom.

    Bins whose expected count is below ``min_expected`` are pooled into one bin,
    so that the chi-square approximation of the statistic's null distribution holds.
    """
    counts = np.asarray(counts, dtype=np.float64)
    expected = np.asarray(probs, dtype=np.float64) * counts.sum()
    small = expected < min_expected
    if small.any():
        counts = np.append(counts[~small], counts[small].sum())
        expected = np.append(expected[~small], expected[small].sum())
    statistic = float(np.sum((counts - expected) ** 2 / expected))
    return statistic, len(counts) - 1


@pytest.fixture(scope="session")
def make_model():
    return _make_model


@pytest.fixture(scope="session")
def brute():
    return BruteForce


@pytest.fixture(scope="session")
def chi_square():
    return _chi_square_gof
