"""The source article's training algorithm, as it describes it, in plain numpy.

This is the baseline of the benchmark: our own code, written from the article's
description (``/work/shared/seed/000_966830cea8051c42.txt``), keeping every
choice that matters for speed or for the numbers it prints:

- parameters in float64 (``W`` uniform in +-sqrt(6 / (n_visible + n_hidden)),
  biases zero); the data stay float32, as the article's ``pixels / 255`` are,
  so every product mixes the two and numpy works in float64;
- the naive sigmoid ``1 / (1 + exp(-x))`` and softplus ``log(1 + exp(x))``,
  which overflow for large ``|x|``. Their overflow warnings are silenced with
  ``np.errstate`` and counted, so the benchmark can report how many there were;
- Bernoulli samples as ``floor(p + u)`` with float64 uniforms ``u``;
- ``np.array_split`` into ``ceil(n / batch_size)`` batches, in file order;
- CD-k with the *sampled* hidden states in the hidden-bias update (the
  derivation uses probabilities there), and the per-example bias differences
  summed after the fact;
- a stochastic pseudo-likelihood per batch, one random bit flipped per row,
  computed from two full free energies and multiplied by the *batch size*
  (the estimator needs ``n_visible``).

Randomness comes from a generator passed in, so that runs are seeded. The
benchmark passes a ``numpy.random.RandomState`` (MT19937, float64 uniforms):
the generator behind the ``np.random.uniform`` and ``np.random.randint`` calls
of the article, whose global state it replaces. A ``numpy.random.Generator``
works too.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "OverflowCounter",
    "bernoulli",
    "cd_k",
    "free_energy",
    "h_given_v",
    "init_params",
    "pseudo_likelihood",
    "sigmoid",
    "softplus",
    "train_epoch",
    "v_given_h",
]


class OverflowCounter:
    """Counts the floating-point overflows numpy reports while it is active.

    Used as ``with np.errstate(over="call", call=counter):``: numpy calls the
    counter once per ufunc call that overflowed (not once per element), instead
    of printing a ``RuntimeWarning``.
    """

    def __init__(self):
        self.count = 0

    def __call__(self, kind, flag):
        self.count += 1


def sigmoid(x):
    """Naive logistic sigmoid, 1 / (1 + exp(-x)): exp overflows for x < -709 (float64)."""
    return 1 / (1 + np.exp(-x))


def softplus(x):
    """Naive softplus, log(1 + exp(x)): exp overflows for x > 709 (float64)."""
    return np.log(1 + np.exp(x))


def init_params(n_visible, n_hidden, rng):
    """Xavier-uniform float64 W (n_visible, n_hidden); zero biases as row vectors."""
    limit = math.sqrt(6.0 / (n_visible + n_hidden))
    W = rng.uniform(-limit, limit, (n_visible, n_hidden))
    return W, np.zeros((1, n_visible)), np.zeros((1, n_hidden))


def free_energy(v, W, b, c):
    """F(v) = -v b^T - sum_j log(1 + exp(v W_j + c_j)), shape (n_samples, 1)."""
    return -(v @ b.T) - softplus(v @ W + c).sum(axis=1, keepdims=True)


def h_given_v(v, W, c):
    """P(h = 1 | v) = sigmoid(v W + c), shape (n_samples, n_hidden)."""
    return sigmoid(v @ W + c)


def v_given_h(h, W, b):
    """P(v = 1 | h) = sigmoid(h W^T + b), shape (n_samples, n_visible)."""
    return sigmoid(h @ W.T + b)


def bernoulli(p, rng):
    """Binary samples floor(p + u), u ~ U[0, 1) in float64."""
    return np.floor(p + rng.uniform(size=p.shape))


def cd_k(v, W, b, c, k, rng):
    """CD-k sums over the batch, as the article computes them.

    Returns ``dW`` (n_visible, n_hidden), summed over the batch with hidden
    probabilities; ``db`` (n_samples, n_visible) and ``dc`` (n_samples, n_hidden),
    per-example differences of visible and *sampled* hidden states.
    """
    h_p = h_given_v(v, W, c)
    h = bernoulli(h_p, rng)
    neg_v = bernoulli(v_given_h(h, W, b), rng)
    neg_h_p = h_given_v(neg_v, W, c)
    neg_h = bernoulli(neg_h_p, rng)
    for _ in range(k - 1):
        neg_v = bernoulli(v_given_h(neg_h, W, b), rng)
        neg_h_p = h_given_v(neg_v, W, c)
        neg_h = bernoulli(neg_h_p, rng)
    dW = v.T @ h_p - neg_v.T @ neg_h_p
    return dW, v - neg_v, h - neg_h


def _random_indices(rng, high, size):
    """Uniform integers in [0, high): ``randint`` of a RandomState, ``integers`` of a Generator."""
    draw = rng.integers if hasattr(rng, "integers") else rng.randint
    return draw(0, high, size)


def pseudo_likelihood(v, W, b, c, rng):
    """Mean over the batch of batch_size * log sigmoid(F(v~) - F(v)), one bit flipped per row."""
    rows = np.arange(v.shape[0])
    cols = _random_indices(rng, v.shape[1], v.shape[0])
    v_flipped = v.copy()
    v_flipped[rows, cols] = 1 - v_flipped[rows, cols]
    fe = free_energy(v, W, b, c)
    fe_flipped = free_energy(v_flipped, W, b, c)
    return float((v.shape[0] * np.log(sigmoid(fe_flipped - fe))).mean())


def train_epoch(X, W, b, c, rng, learning_rate=0.1, batch_size=64, k=1, counter=None):
    """One epoch of the article's training loop, updating ``W``, ``b``, ``c`` in place.

    Parameters
    ----------
    X : ndarray, shape (n_samples, n_visible)
        Data in [0, 1] (the article's float32 pixels / 255).
    W, b, c : float64 ndarrays of shapes (n_visible, n_hidden), (1, n_visible), (1, n_hidden)
    rng : numpy.random.RandomState or numpy.random.Generator
    learning_rate, batch_size, k : the article's 0.1, 64 and 1 by default.
    counter : OverflowCounter, optional
        Receives the overflows of the naive sigmoid and softplus.

    Returns
    -------
    list of float
        The pseudo-likelihood of each batch (the article prints their mean).
    """
    counter = OverflowCounter() if counter is None else counter
    n_batches = -(-X.shape[0] // batch_size)
    costs = []
    with np.errstate(over="call", call=counter):
        for v in np.array_split(X, n_batches):
            dW, db, dc = cd_k(v, W, b, c, k, rng)
            step = learning_rate / v.shape[0]
            W += step * dW
            b += step * db.sum(axis=0)
            c += step * dc.sum(axis=0)
            costs.append(pseudo_likelihood(v, W, b, c, rng))
    return costs
