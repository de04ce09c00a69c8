"""The mathematics of a binary RBM: energy, free energy and the two conditionals.

Notation (the same in the book and the code):

- ``v`` visible states, shape (n_samples, n_visible); ``h`` hidden states,
  shape (n_samples, n_hidden);
- ``W`` weights, shape (n_visible, n_hidden); ``b`` visible bias, shape
  (n_visible,); ``c`` hidden bias, shape (n_hidden,).

The public functions check their inputs; the private ``_``-prefixed kernels
assume checked arrays and are what the sampling and training code calls in
its inner loops.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from ._validation import (
    as_float_array,
    check_bias,
    check_hidden,
    check_params,
    check_visible,
    check_weights,
)

__all__ = ["energy", "free_energy", "h_given_v", "sigmoid", "softplus", "v_given_h"]


def _sigmoid(x):
    # expit never overflows: it switches formula on the sign of x.
    return expit(x)


def _softplus(x):
    # log(1 + e^x) = logaddexp(0, x), which never overflows.
    return np.logaddexp(0, x)


def _free_energy(v, W, b, c):
    return -(v @ b) - _softplus(v @ W + c).sum(axis=1)


def _h_given_v(v, W, c):
    return _sigmoid(v @ W + c)


def _v_given_h(h, W, b):
    return _sigmoid(h @ W.T + b)


def sigmoid(x):
    r"""Logistic sigmoid :math:`\sigma(x) = 1 / (1 + e^{-x})`, computed stably.

    The naive formula overflows in ``exp(-x)`` for large negative ``x``; this
    one never does, and stays finite for any finite input.

    Parameters
    ----------
    x : array_like
        Any shape; float32 is kept, other types become float64.

    Returns
    -------
    ndarray, same shape as ``x``, values in [0, 1].
    """
    return _sigmoid(as_float_array(x, "x"))


def softplus(x):
    r"""Softplus :math:`\log(1 + e^{x})`, computed stably as ``logaddexp(0, x)``.

    Parameters
    ----------
    x : array_like
        Any shape; float32 is kept, other types become float64.

    Returns
    -------
    ndarray, same shape as ``x``, values >= 0 (and ~ ``x`` for large ``x``).
    """
    return _softplus(as_float_array(x, "x"))


def energy(v, h, W, b, c):
    r"""Joint energy of visible and hidden states.

    .. math::

        E(\mathbf v, \mathbf h) = -\mathbf v^\top W \mathbf h
            - \mathbf b^\top \mathbf v - \mathbf c^\top \mathbf h

    Parameters
    ----------
    v : array_like, shape (n_samples, n_visible)
    h : array_like, shape (n_samples, n_hidden)
    W : array_like, shape (n_visible, n_hidden)
    b : array_like, shape (n_visible,)
    c : array_like, shape (n_hidden,)

    Returns
    -------
    ndarray, shape (n_samples,)
    """
    W, b, c = check_params(W, b, c)
    v = check_visible(v, W)
    h = check_hidden(h, W)
    if v.shape[0] != h.shape[0]:
        raise ValueError(
            f"v and h must have the same number of samples, got {v.shape[0]} and {h.shape[0]}"
        )
    return -np.einsum("ij,ij->i", v @ W, h) - v @ b - h @ c


def free_energy(v, W, b, c):
    r"""Free energy :math:`F(\mathbf v) = -\log \sum_{\mathbf h} e^{-E(\mathbf v, \mathbf h)}`.

    Summing out the binary hidden units one at a time gives the closed form

    .. math::

        F(\mathbf v) = -\mathbf b^\top \mathbf v
            - \sum_{j=1}^{n_\text{hidden}} \operatorname{softplus}
              \big(\mathbf v^\top W_{\cdot j} + c_j\big),

    so that :math:`p(\mathbf v) = e^{-F(\mathbf v)} / Z`.

    Parameters
    ----------
    v : array_like, shape (n_samples, n_visible)
    W : array_like, shape (n_visible, n_hidden)
    b : array_like, shape (n_visible,)
    c : array_like, shape (n_hidden,)

    Returns
    -------
    ndarray, shape (n_samples,)
    """
    W, b, c = check_params(W, b, c)
    return _free_energy(check_visible(v, W), W, b, c)


def h_given_v(v, W, c):
    r"""Hidden activation probabilities, one per hidden unit and sample.

    .. math::

        p(h_j = 1 \mid \mathbf v) = \sigma\Big(c_j + \sum_i v_i w_{ij}\Big),

    or ``sigmoid(v @ W + c)`` for a whole batch. These are probabilities, not
    samples: draw binary states from them with :func:`rbm.sample_bernoulli`.

    Parameters
    ----------
    v : array_like, shape (n_samples, n_visible)
    W : array_like, shape (n_visible, n_hidden)
    c : array_like, shape (n_hidden,)

    Returns
    -------
    ndarray, shape (n_samples, n_hidden)
    """
    W = check_weights(W)
    c = check_bias(c, W, "c")
    return _h_given_v(check_visible(v, W), W, c)


def v_given_h(h, W, b):
    r"""Visible activation probabilities, one per visible unit and sample.

    .. math::

        p(v_i = 1 \mid \mathbf h) = \sigma\Big(b_i + \sum_j w_{ij} h_j\Big),

    or ``sigmoid(h @ W.T + b)`` for a whole batch. These are probabilities, not
    samples: draw binary states from them with :func:`rbm.sample_bernoulli`.

    Parameters
    ----------
    h : array_like, shape (n_samples, n_hidden)
    W : array_like, shape (n_visible, n_hidden)
    b : array_like, shape (n_visible,)

    Returns
    -------
    ndarray, shape (n_samples, n_visible)
    """
    W = check_weights(W)
    b = check_bias(b, W, "b")
    return _v_given_h(check_hidden(h, W), W, b)
