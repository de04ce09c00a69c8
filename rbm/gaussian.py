r"""The Gaussian–Bernoulli RBM: real-valued visible units, binary hidden units.

Energy (the form of Cho, Ilin & Raiko 2011), with per-unit variances
:math:`\sigma_i^2 = e^{z_i}` learned through :math:`z_i = \log\sigma_i^2`:

.. math::

    E(\mathbf v, \mathbf h) = \sum_i \frac{(v_i - b_i)^2}{2\sigma_i^2}
        - \mathbf c^\top \mathbf h - \sum_{i,j} \frac{v_i}{\sigma_i^2} w_{ij} h_j .

Given the hidden layer the visible units are independent Gaussians,
:math:`v_i \mid \mathbf h \sim \mathcal N(b_i + (W\mathbf h)_i, \sigma_i^2)`; given
the visible layer the hidden units are independent Bernoullis,
:math:`p(h_j = 1 \mid \mathbf v) = \sigma(c_j + \sum_i w_{ij} v_i / \sigma_i^2)`.
The integral over :math:`\mathbf v` is Gaussian, so the model is a mixture of
:math:`2^{n_\text{hidden}}` Gaussians with one diagonal covariance, and for a
small hidden layer its partition function is exact.

Shapes as in :mod:`rbm.core`: ``v`` (n_samples, n_visible), ``h`` (n_samples,
n_hidden), ``W`` (n_visible, n_hidden), ``b`` (n_visible,), ``c`` (n_hidden,),
and ``log_var`` (n_visible,). Everything is computed in float64.
"""

from __future__ import annotations

import itertools
import math
import numbers
import time

import numpy as np
from scipy.special import logsumexp
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted, validate_data

from ._validation import as_float_array, as_rng, check_params, check_positive_int
from .ais import AISResult, _mean_weight_bounds, default_betas
from .core import _sigmoid, _softplus
from .evaluation import MAX_EXACT_UNITS
from .io import load_gaussian_rbm, save_gaussian_rbm
from .sampling import _sample_bernoulli
from .training import batch_slices

__all__ = [
    "MAX_ABS_LOG_VAR",
    "GaussianBernoulliRBM",
    "gb_ais_log_partition",
    "gb_cd_k",
    "gb_energy",
    "gb_free_energy",
    "gb_gibbs",
    "gb_h_given_v",
    "gb_log_likelihood",
    "gb_log_likelihood_gradient",
    "gb_log_partition",
    "gb_mixture",
    "gb_pcd_k",
    "gb_train",
    "gb_train_epoch",
    "gb_v_given_h",
]

#: Largest accepted :math:`|\log\sigma_i^2|`: variances between e^-50 and e^50. Within
#: it, every function stays finite for weights and biases up to 1e4 in absolute value.
MAX_ABS_LOG_VAR = 50.0

_CHUNK_ROWS = 4096  # hidden states per chunk when enumerating


# ----------------------------------------------------------------------------- checks


def _check_model(W, b, c, log_var):
    """W, b, c, log_var as float64 arrays of matching shapes, or an error naming the argument."""
    W, b, c = (x.astype(np.float64) for x in check_params(W, b, c))
    log_var = as_float_array(log_var, "log_var", ndim=1, dtype=np.float64)
    if log_var.shape != (W.shape[0],):
        raise ValueError(
            f"log_var must have shape (n_visible,) = ({W.shape[0]},) to match W "
            f"{W.shape}, got {log_var.shape}"
        )
    if np.abs(log_var).max() > MAX_ABS_LOG_VAR:
        raise ValueError(
            f"log_var must lie in [-{MAX_ABS_LOG_VAR:g}, {MAX_ABS_LOG_VAR:g}] (variances "
            f"e^-50 to e^50), got values in [{log_var.min():.4g}, {log_var.max():.4g}]"
        )
    return W, b, c, log_var


def _check_real(x, n, name, axis_name):
    """A finite 2-D float64 array with ``n`` columns (real values, any range)."""
    x = as_float_array(x, name, ndim=2, dtype=np.float64)
    if x.shape[1] != n:
        raise ValueError(
            f"{name} must have shape (n_samples, {axis_name}) with {axis_name} = {n}, "
            f"got {x.shape}"
        )
    return x


def _check_hidden(h, W):
    h = _check_real(h, W.shape[1], "h", "n_hidden")
    if h.min() < 0 or h.max() > 1:
        raise ValueError("h must hold values in [0, 1] (binary states or probabilities)")
    return h


def _check_exact(W):
    if W.shape[1] > MAX_EXACT_UNITS:
        raise ValueError(
            f"exact enumeration needs 2^n_hidden = 2^{W.shape[1]} terms; the limit is "
            f"n_hidden <= {MAX_EXACT_UNITS}. Use rbm.gaussian.gb_ais_log_partition."
        )


# ----------------------------------------------------------------------------- kernels


def _gb_pre(v, W, c, log_var):
    """Hidden pre-activations a(v) = c + (v / sigma^2) W, shape (n_samples, n_hidden)."""
    return (v * np.exp(-log_var)) @ W + c


def _gb_energy(v, h, W, b, c, log_var):
    inv = np.exp(-log_var)
    quad = 0.5 * ((v - b) ** 2 * inv).sum(axis=1)
    return quad - h @ c - np.einsum("ij,ij->i", (v * inv) @ W, h)


def _gb_free_energy(v, W, b, c, log_var):
    quad = 0.5 * ((v - b) ** 2 * np.exp(-log_var)).sum(axis=1)
    return quad - _softplus(_gb_pre(v, W, c, log_var)).sum(axis=1)


def _gb_h_given_v(v, W, c, log_var):
    return _sigmoid(_gb_pre(v, W, c, log_var))


def _gb_v_given_h(h, W, b):
    return h @ W.T + b


def _gb_sample_v(h, W, b, log_var, rng):
    mean = _gb_v_given_h(h, W, b)
    return mean + np.exp(0.5 * log_var) * rng.standard_normal(mean.shape)


def _gb_gibbs(v, W, b, c, log_var, k, rng):
    for _ in range(k):
        h = _sample_bernoulli(_gb_h_given_v(v, W, c, log_var), rng)
        v = _gb_sample_v(h, W, b, log_var, rng)
    return v


def _gb_statistics(v, W, b, c, log_var):
    """The batch means of -dF(v)/d(theta), theta = (W, b, c, log_var), in that order."""
    inv = np.exp(-log_var)
    ph = _gb_h_given_v(v, W, c, log_var)
    n = len(v)
    scaled = v * inv
    g_W = scaled.T @ ph / n
    g_b = ((v - b) * inv).mean(axis=0)
    g_c = ph.mean(axis=0)
    g_z = (inv * (0.5 * (v - b) ** 2 - v * (ph @ W.T))).mean(axis=0)
    return g_W, g_b, g_c, g_z


def _hidden_states(start, stop, n_hidden):
    """Rows start..stop-1 of the table of all binary hidden vectors (bit j of the row index)."""
    idx = np.arange(start, stop, dtype=np.int64)[:, None]
    return ((idx >> np.arange(n_hidden)) & 1).astype(np.float64)


def _log_mixture_weights(H, W, b, c, log_var):
    """Unnormalised log weights: log of the integral of exp(-E(v, h)) over v, one per row of H."""
    m = H @ W.T  # (n_states, n_visible): the shift of the mean, W h
    quad = 0.5 * ((m * m + 2 * m * b) * np.exp(-log_var)).sum(axis=1)
    return H @ c + quad + 0.5 * (np.log(2 * np.pi) + log_var).sum()


def _gb_log_partition(W, b, c, log_var):
    n_hidden = W.shape[1]
    parts = []
    for start in range(0, 2**n_hidden, _CHUNK_ROWS):
        H = _hidden_states(start, min(start + _CHUNK_ROWS, 2**n_hidden), n_hidden)
        parts.append(logsumexp(_log_mixture_weights(H, W, b, c, log_var)))
    return float(logsumexp(parts))


# ----------------------------------------------------------------------------- the model


def gb_energy(v, h, W, b, c, log_var):
    r"""Joint energy of real visible and binary hidden states.

    .. math::

        E(\mathbf v, \mathbf h) = \sum_i \frac{(v_i - b_i)^2}{2\sigma_i^2}
            - \mathbf c^\top \mathbf h
            - \sum_{i,j} \frac{v_i}{\sigma_i^2} w_{ij} h_j,
        \qquad \sigma_i^2 = e^{z_i},\ z = \texttt{log\_var}

    Parameters
    ----------
    v : array_like, shape (n_samples, n_visible)
        Real values.
    h : array_like, shape (n_samples, n_hidden)
        Values in [0, 1].
    W, b, c, log_var : array_like, shapes (n_visible, n_hidden), (n_visible,),
        (n_hidden,), (n_visible,)

    Returns
    -------
    ndarray of float64, shape (n_samples,)
    """
    W, b, c, log_var = _check_model(W, b, c, log_var)
    v = _check_real(v, W.shape[0], "v", "n_visible")
    h = _check_hidden(h, W)
    if len(v) != len(h):
        raise ValueError(
            f"v and h must have the same number of samples, got {len(v)} and {len(h)}"
        )
    return _gb_energy(v, h, W, b, c, log_var)


def gb_free_energy(v, W, b, c, log_var):
    r"""Free energy :math:`F(\mathbf v) = -\log \sum_{\mathbf h} e^{-E(\mathbf v, \mathbf h)}`.

    .. math::

        F(\mathbf v) = \sum_i \frac{(v_i - b_i)^2}{2\sigma_i^2}
            - \sum_j \operatorname{softplus}\Big(c_j
              + \sum_i \frac{v_i}{\sigma_i^2} w_{ij}\Big),

    so that the density is :math:`p(\mathbf v) = e^{-F(\mathbf v)} / Z`.

    Parameters
    ----------
    v : array_like, shape (n_samples, n_visible)
    W, b, c, log_var : array_like

    Returns
    -------
    ndarray of float64, shape (n_samples,)
    """
    W, b, c, log_var = _check_model(W, b, c, log_var)
    return _gb_free_energy(_check_real(v, W.shape[0], "v", "n_visible"), W, b, c, log_var)


def gb_h_given_v(v, W, c, log_var):
    r"""Hidden probabilities, one per hidden unit and sample.

    .. math::

        p(h_j = 1 \mid \mathbf v) = \sigma\Big(c_j + \sum_i w_{ij} v_i / \sigma_i^2\Big)

    Parameters
    ----------
    v : array_like, shape (n_samples, n_visible)
    W : array_like, shape (n_visible, n_hidden)
    c : array_like, shape (n_hidden,)
    log_var : array_like, shape (n_visible,)

    Returns
    -------
    ndarray of float64, shape (n_samples, n_hidden): probabilities, not samples.
    """
    W, _, c, log_var = _check_model(W, np.zeros(np.shape(W)[0]), c, log_var)
    return _gb_h_given_v(_check_real(v, W.shape[0], "v", "n_visible"), W, c, log_var)


def gb_v_given_h(h, W, b):
    r"""Mean of the Gaussian visible conditional, one row per hidden state.

    .. math::

        p(\mathbf v \mid \mathbf h) = \mathcal N\big(\mathbf b + W\mathbf h,\
            \operatorname{diag}\boldsymbol\sigma^2\big)

    The variance does not depend on :math:`\mathbf h`: it is
    ``exp(log_var)`` for every row.

    Parameters
    ----------
    h : array_like, shape (n_samples, n_hidden)
    W : array_like, shape (n_visible, n_hidden)
    b : array_like, shape (n_visible,)

    Returns
    -------
    ndarray of float64, shape (n_samples, n_visible): the means :math:`\mathbf b + W\mathbf h`.
    """
    W, b, _ = (x.astype(np.float64) for x in check_params(W, b, np.zeros(np.shape(W)[1])))
    return _gb_v_given_h(_check_hidden(h, W), W, b)


def gb_gibbs(v, W, b, c, log_var, k=1, rng=None):
    r"""``k`` block-Gibbs steps: binary h given v, then Gaussian v given h.

    :math:`\mathbf h \sim p(\mathbf h \mid \mathbf v)`, then
    :math:`\mathbf v \sim \mathcal N(\mathbf b + W\mathbf h, \boldsymbol\sigma^2)`.

    Parameters
    ----------
    v : array_like, shape (n_samples, n_visible)
        Starting states.
    W, b, c, log_var : array_like
    k : int, default 1
    rng : int, numpy.random.Generator or None
        Per step, one key for the Bernoulli draws and ``v.size`` standard normals.

    Returns
    -------
    ndarray of float64, shape (n_samples, n_visible): the visible states after ``k`` steps.
    """
    W, b, c, log_var = _check_model(W, b, c, log_var)
    v = _check_real(v, W.shape[0], "v", "n_visible")
    return _gb_gibbs(v, W, b, c, log_var, check_positive_int(k, "k"), as_rng(rng))


def gb_cd_k(v, W, b, c, log_var, k=1, rng=None):
    r"""CD-k estimate of the gradient of the mean log-likelihood, log-variances included.

    With :math:`g(\mathbf v) = -\partial F(\mathbf v)/\partial\theta` and
    :math:`p_j = p(h_j = 1 \mid \mathbf v)`:

    .. math::

        g_W = \frac{\mathbf v}{\boldsymbol\sigma^2}\,\mathbf p^\top, \quad
        g_{\mathbf b} = \frac{\mathbf v - \mathbf b}{\boldsymbol\sigma^2}, \quad
        g_{\mathbf c} = \mathbf p, \quad
        g_{z_i} = \frac{(v_i - b_i)^2/2 - v_i (W\mathbf p)_i}{\sigma_i^2},

    averaged over the batch :math:`\mathbf v` minus averaged over
    :math:`\tilde{\mathbf v}`, the states after ``k`` Gibbs steps started at it.

    Parameters
    ----------
    v : array_like, shape (n_samples, n_visible)
    W, b, c, log_var : array_like
    k : int, default 1
    rng : int, numpy.random.Generator or None

    Returns
    -------
    (dW, db, dc, dlog_var) : ndarrays shaped like W, b, c, log_var
    """
    W, b, c, log_var = _check_model(W, b, c, log_var)
    v = _check_real(v, W.shape[0], "v", "n_visible")
    v_neg = _gb_gibbs(v, W, b, c, log_var, check_positive_int(k, "k"), as_rng(rng))
    pos = _gb_statistics(v, W, b, c, log_var)
    neg = _gb_statistics(v_neg, W, b, c, log_var)
    return tuple(p - q for p, q in zip(pos, neg, strict=True))


def gb_pcd_k(v, chain, W, b, c, log_var, k=1, rng=None):
    """PCD-k: like :func:`gb_cd_k`, but the negative phase advances persistent ``chain``.

    Returns
    -------
    (dW, db, dc, dlog_var), new_chain : the gradient estimate, and the chains
    after ``k`` more Gibbs steps, shape (n_chains, n_visible).
    """
    W, b, c, log_var = _check_model(W, b, c, log_var)
    v = _check_real(v, W.shape[0], "v", "n_visible")
    chain = _check_real(chain, W.shape[0], "chain", "n_visible")
    chain = _gb_gibbs(chain, W, b, c, log_var, check_positive_int(k, "k"), as_rng(rng))
    pos = _gb_statistics(v, W, b, c, log_var)
    neg = _gb_statistics(chain, W, b, c, log_var)
    return tuple(p - q for p, q in zip(pos, neg, strict=True)), chain


# ----------------------------------------------------------------------------- exact quantities


def gb_log_partition(W, b, c, log_var):
    r"""Exact :math:`\log Z = \log \sum_{\mathbf h} \int e^{-E(\mathbf v, \mathbf h)} d\mathbf v`.

    For each hidden state the integral is Gaussian: with
    :math:`\mathbf m = W\mathbf h`,

    .. math::

        \log \int e^{-E(\mathbf v, \mathbf h)} d\mathbf v
          = \mathbf c^\top \mathbf h
          + \sum_i \frac{m_i^2 + 2 b_i m_i}{2\sigma_i^2}
          + \frac12 \sum_i \log(2\pi\sigma_i^2),

    and log Z is the log-sum-exp of these over the :math:`2^{n_\text{hidden}}`
    hidden states (in chunks of 4,096).

    Parameters
    ----------
    W, b, c, log_var : array_like

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If n_hidden exceeds :data:`rbm.MAX_EXACT_UNITS`.
    """
    W, b, c, log_var = _check_model(W, b, c, log_var)
    _check_exact(W)
    return _gb_log_partition(W, b, c, log_var)


def gb_log_likelihood(v, W, b, c, log_var, log_z=None):
    r"""Exact log-density :math:`\log p(\mathbf v) = -F(\mathbf v) - \log Z` of each row.

    Parameters
    ----------
    v : array_like, shape (n_samples, n_visible)
    W, b, c, log_var : array_like
    log_z : float, optional
        A log Z computed before (e.g. by :func:`gb_log_partition` or AIS).

    Returns
    -------
    ndarray of float64, shape (n_samples,): log-densities (nats), which may be positive.
    """
    W, b, c, log_var = _check_model(W, b, c, log_var)
    v = _check_real(v, W.shape[0], "v", "n_visible")
    if log_z is None:
        _check_exact(W)
        log_z = _gb_log_partition(W, b, c, log_var)
    return -_gb_free_energy(v, W, b, c, log_var) - float(log_z)


def gb_mixture(W, b, c, log_var):
    r"""The model as the mixture of Gaussians it is: weights, means and the shared variances.

    .. math::

        p(\mathbf v) = \sum_{\mathbf h} \pi_{\mathbf h}\,
            \mathcal N\big(\mathbf v;\ \mathbf b + W\mathbf h,\
                \operatorname{diag}\boldsymbol\sigma^2\big),
        \qquad \log \pi_{\mathbf h} = \log \int e^{-E(\mathbf v, \mathbf h)} d\mathbf v - \log Z .

    Component ``r`` is the hidden state whose bit ``j`` is bit ``j`` of ``r``.

    Parameters
    ----------
    W, b, c, log_var : array_like

    Returns
    -------
    log_weights : ndarray, shape (2**n_hidden,)
        :math:`\log \pi_{\mathbf h}`, whose log-sum-exp is 0.
    means : ndarray, shape (2**n_hidden, n_visible)
    variances : ndarray, shape (n_visible,)
    """
    W, b, c, log_var = _check_model(W, b, c, log_var)
    _check_exact(W)
    H = _hidden_states(0, 2 ** W.shape[1], W.shape[1])
    log_w = _log_mixture_weights(H, W, b, c, log_var)
    return log_w - logsumexp(log_w), _gb_v_given_h(H, W, b), np.exp(log_var)


def gb_log_likelihood_gradient(v, W, b, c, log_var):
    r"""Exact gradient of the mean log-likelihood of ``v``, log-variances included.

    Data term minus model term; the model term is the expectation of
    :math:`-\partial E/\partial\theta` under the joint, in closed form from the
    mixture (:math:`\mathbf h \sim \pi`, :math:`\mathbf m = W\mathbf h`):

    .. math::

        \mathbb E[v_i h_j]/\sigma_i^2,\quad \mathbb E[m_i]/\sigma_i^2,\quad
        \mathbb E[h_j],\quad
        \tfrac12 - \mathbb E\big[m_i^2/2 + b_i m_i\big]/\sigma_i^2 .

    Returns
    -------
    (dW, db, dc, dlog_var) : ndarrays shaped like W, b, c, log_var
    """
    W, b, c, log_var = _check_model(W, b, c, log_var)
    v = _check_real(v, W.shape[0], "v", "n_visible")
    _check_exact(W)
    H = _hidden_states(0, 2 ** W.shape[1], W.shape[1])
    log_w = _log_mixture_weights(H, W, b, c, log_var)
    pi = np.exp(log_w - logsumexp(log_w))
    inv = np.exp(-log_var)
    m = H @ W.T
    model = (
        ((m + b) * pi[:, None]).T @ H * inv[:, None],
        pi @ m * inv,
        pi @ H,
        0.5 - pi @ (0.5 * m * m + b * m) * inv,
    )
    data = _gb_statistics(v, W, b, c, log_var)
    return tuple(p - q for p, q in zip(data, model, strict=True))


# ----------------------------------------------------------------------------- AIS


def gb_ais_log_partition(
    W, b, c, log_var, n_chains=100, betas=None, base_mean=None, base_log_var=None, rng=None
):
    r"""Estimate log Z of a GB-RBM by annealed importance sampling (for large hidden layers).

    The path joins a base model A, independent Gaussians
    :math:`\mathcal N(\mathbf m_A, \boldsymbol\sigma_A^2)` with free hidden units
    (:math:`\log Z_A = \frac12\sum_i \log(2\pi\sigma_{A,i}^2) + n_\text{hidden}\log 2`),
    to the model B through the joints :math:`e^{-(1-\beta)E_A - \beta E_B}`:

    .. math::

        \log p^*_\beta(\mathbf v) = -(1-\beta)\sum_i \frac{(v_i - m_{A,i})^2}{2\sigma_{A,i}^2}
            - \beta\sum_i \frac{(v_i - b_i)^2}{2\sigma_i^2}
            + \sum_j \operatorname{softplus}\big(\beta a_j(\mathbf v)\big).

    Each intermediate model is Gibbs-sampled exactly: :math:`h_j \sim
    \sigma(\beta a_j(\mathbf v))`, then :math:`v_i` Gaussian with precision
    :math:`\lambda_i = (1-\beta)/\sigma_{A,i}^2 + \beta/\sigma_i^2` and mean
    :math:`\big((1-\beta) m_{A,i}/\sigma_{A,i}^2
    + \beta (b_i + (W\mathbf h)_i)/\sigma_i^2\big)/\lambda_i`.

    Parameters
    ----------
    W, b, c, log_var : array_like
    n_chains : int, default 100
    betas : array_like, optional
        Strictly increasing from 0 to 1; default :func:`rbm.ais.default_betas`.
    base_mean, base_log_var : array_like, shape (n_visible,), optional
        The base model; default the model's own ``b`` and ``log_var``.
    rng : int, numpy.random.Generator or None

    Returns
    -------
    rbm.ais.AISResult
        As for binary RBMs: the estimate is biased low (Jensen), and the interval
        reflects the spread of the weights only.
    """
    W, b, c, log_var = _check_model(W, b, c, log_var)
    n_chains = check_positive_int(n_chains, "n_chains")
    betas = default_betas() if betas is None else as_float_array(betas, "betas", ndim=1)
    if betas[0] != 0 or betas[-1] != 1 or np.any(np.diff(betas) <= 0):
        raise ValueError("betas must increase strictly from 0 to 1")
    m_a = b if base_mean is None else _check_model(W, base_mean, c, log_var)[1]
    z_a = log_var if base_log_var is None else _check_model(W, b, c, base_log_var)[3]
    rng = as_rng(rng)
    inv, inv_a = np.exp(-log_var), np.exp(-z_a)
    v = m_a + np.exp(0.5 * z_a) * rng.standard_normal((n_chains, W.shape[0]))

    def log_p_star(v, beta):
        quad_a = 0.5 * ((v - m_a) ** 2 * inv_a).sum(axis=1)
        quad_b = 0.5 * ((v - b) ** 2 * inv).sum(axis=1)
        return -(1 - beta) * quad_a - beta * quad_b + _softplus(beta * ((v * inv) @ W + c)).sum(1)

    log_w = np.zeros(n_chains)
    for prev, beta in itertools.pairwise(betas):
        log_w += log_p_star(v, beta) - log_p_star(v, prev)
        if beta == 1:
            break
        h = _sample_bernoulli(_sigmoid(beta * ((v * inv) @ W + c)), rng)
        precision = (1 - beta) * inv_a + beta * inv
        mean = ((1 - beta) * m_a * inv_a + beta * (b + h @ W.T) * inv) / precision
        v = mean + rng.standard_normal(v.shape) / np.sqrt(precision)
    log_za = 0.5 * (np.log(2 * np.pi) + z_a).sum() + W.shape[1] * math.log(2)
    log_mean, low, high = _mean_weight_bounds(log_w)
    return AISResult(log_za + log_mean, log_za + low, log_za + high, log_w, float(log_za))


# ----------------------------------------------------------------------------- training


def gb_init_params(X, n_hidden, rng=None, weight_scale=0.01):
    r"""Initial parameters of a GB-RBM for the data ``X``.

    :math:`w_{ij} \sim \mathcal N(0, \texttt{weight\_scale}^2)`, :math:`\mathbf b` the data
    mean, :math:`\mathbf c = 0`, :math:`\log\sigma_i^2` the log of the data variance
    (at least e^-8).

    Returns
    -------
    W, b, c, log_var : ndarrays of float64
    """
    X = as_float_array(X, "X", ndim=2, dtype=np.float64)
    W = as_rng(rng).normal(0.0, weight_scale, size=(X.shape[1], n_hidden))
    log_var = np.log(np.maximum(X.var(axis=0), np.exp(-8.0)))
    return W, X.mean(axis=0), np.zeros(n_hidden), log_var


def gb_train_epoch(
    X,
    params,
    *,
    k=1,
    learning_rate=1e-3,
    log_var_learning_rate=None,
    momentum=0.0,
    weight_decay=0.0,
    min_log_var=-8.0,
    velocity=None,
    chain=None,
    batch_size=64,
    rng=None,
):
    r"""One epoch of CD-k or PCD-k for a GB-RBM, updating ``params`` in place.

    For each shuffled mini-batch, with :math:`(g_W, g_b, g_c, g_z)` from
    :func:`gb_cd_k` (or :func:`gb_pcd_k` when ``chain`` is given):

    .. math::

        \mathbf u \leftarrow \mu\,\mathbf u
            + \big(\eta(g_W - \lambda W),\ \eta g_b,\ \eta g_c,\ \eta_z g_z\big),
        \qquad \theta \mathrel{+}= \mathbf u,
        \qquad z \leftarrow \max(z, z_\text{min}).

    Parameters
    ----------
    X : ndarray, shape (n_samples, n_visible)
    params : list [W, b, c, log_var]
        Updated in place.
    k : int
    learning_rate : float
        :math:`\eta`, for W, b and c.
    log_var_learning_rate : float, optional
        :math:`\eta_z` (default ``learning_rate``); 0 keeps the variances fixed.
    momentum, weight_decay : float
    min_log_var : float
        Floor :math:`z_\text{min}` on every :math:`\log\sigma_i^2`.
    velocity : list of 4 ndarrays, optional
        Momentum's running steps, updated in place.
    chain : ndarray, shape (n_chains, n_visible), optional
        Persistent chains, advanced in place.
    batch_size : int
    rng : int, numpy.random.Generator or None

    Returns
    -------
    dict
        "reconstruction_error" (mean squared error of :math:`\mathbb E[\mathbf v \mid \mathbf h]`,
        :math:`\mathbf h \sim p(\mathbf h \mid \mathbf v)`, per unit), "time", and
        "diverged" (a parameter became non-finite; the epoch stops there).
    """
    rng = as_rng(rng)
    start = time.perf_counter()
    eta_z = learning_rate if log_var_learning_rate is None else log_var_learning_rate
    rates = (learning_rate, learning_rate, learning_rate, eta_z)
    order = rng.permutation(len(X))
    sq_err, diverged = 0.0, False
    with np.errstate(all="ignore"):  # divergence is detected below, not by warnings
        for a, z in batch_slices(len(X), batch_size):
            v = X[order[a:z]]
            W, b, c, log_var = params
            h = _sample_bernoulli(_gb_h_given_v(v, W, c, log_var), rng)
            sq_err += float(((_gb_v_given_h(h, W, b) - v) ** 2).sum())
            if chain is None:
                v_neg = _gb_gibbs(v, W, b, c, log_var, k, rng)
            else:
                v_neg = chain[...] = _gb_gibbs(chain, W, b, c, log_var, k, rng)
            pos = _gb_statistics(v, W, b, c, log_var)
            neg = _gb_statistics(v_neg, W, b, c, log_var)
            grads = [p - q for p, q in zip(pos, neg, strict=True)]
            grads[0] = grads[0] - weight_decay * W
            steps = [eta * g for eta, g in zip(rates, grads, strict=True)]
            if velocity is not None:
                for vel, step in zip(velocity, steps, strict=True):
                    vel *= momentum
                    vel += step
                steps = velocity
            for param, step in zip(params, steps, strict=True):
                param += step
            np.clip(log_var, min_log_var, MAX_ABS_LOG_VAR, out=log_var)
            if not all(np.isfinite(p).all() for p in params) or not math.isfinite(sq_err):
                diverged = True
                break
    return {
        "reconstruction_error": sq_err / X.size,
        "time": time.perf_counter() - start,
        "diverged": diverged,
    }


def gb_train(
    X,
    n_hidden,
    *,
    n_epochs=10,
    k=1,
    persistent=False,
    learning_rate=1e-3,
    log_var_learning_rate=None,
    momentum=0.0,
    weight_decay=0.0,
    min_log_var=-8.0,
    batch_size=64,
    params=None,
    callback=None,
    rng=None,
):
    """Train a GB-RBM for ``n_epochs`` epochs of :func:`gb_train_epoch`.

    Parameters
    ----------
    X : array_like, shape (n_samples, n_visible)
        Real-valued data (standardise it first: see the chapter).
    n_hidden : int
    params : (W, b, c, log_var), optional
        Start from these (copied) instead of :func:`gb_init_params`.
    callback : callable, optional
        ``callback(epoch, W, b, c, log_var)`` after each epoch; its results go
        to ``history["callback"]``.
    persistent : bool
        PCD-k with ``batch_size`` chains started at the first rows of ``X``.
    The others as in :func:`gb_train_epoch`.

    Returns
    -------
    W, b, c, log_var : ndarrays
    history : dict
        Per-epoch lists "epoch", "reconstruction_error", "time", "callback";
        "diverged" (bool): the run stopped at an epoch that diverged.
    """
    X = as_float_array(X, "X", ndim=2, dtype=np.float64)
    n_hidden = check_positive_int(n_hidden, "n_hidden")
    rng = as_rng(rng)
    if params is None:
        params = list(gb_init_params(X, n_hidden, rng))
    else:
        params = [np.array(p, dtype=np.float64) for p in params]
    velocity = [np.zeros_like(p) for p in params] if momentum else None
    chain = np.array(X[:batch_size]) if persistent else None
    history = {"epoch": [], "reconstruction_error": [], "time": [], "callback": []}
    history["diverged"] = False
    for epoch in range(check_positive_int(n_epochs, "n_epochs", minimum=0)):
        stats = gb_train_epoch(
            X,
            params,
            k=k,
            learning_rate=learning_rate,
            log_var_learning_rate=log_var_learning_rate,
            momentum=momentum,
            weight_decay=weight_decay,
            min_log_var=min_log_var,
            velocity=velocity,
            chain=chain,
            batch_size=batch_size,
            rng=rng,
        )
        history["epoch"].append(epoch)
        history["reconstruction_error"].append(stats["reconstruction_error"])
        history["time"].append(stats["time"])
        if stats["diverged"]:
            history["diverged"] = True
            break
        history["callback"].append(None if callback is None else callback(epoch, *params))
    return (*params, history)


# ----------------------------------------------------------------------------- estimator


class GaussianBernoulliRBM(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    r"""Gaussian–Bernoulli RBM with learned variances, trained by CD-k or PCD-k.

    The density is :math:`p(\mathbf v) = e^{-F(\mathbf v)} / Z` with
    :math:`F` of :func:`gb_free_energy`; :meth:`fit` runs :func:`gb_train`,
    :meth:`score_samples` returns exact log-densities (log Z by enumeration,
    :func:`gb_log_partition`, while n_hidden <= :data:`rbm.MAX_EXACT_UNITS`).

    Parameters
    ----------
    n_hidden : int, default 16
    learning_rate : float, default 1e-3
    log_var_learning_rate : float >= 0 or None, default None
        Step size of the log-variances (None: ``learning_rate``; 0: fixed at
        their initial values, the log of the data's variances).
    batch_size : int, default 64
    n_epochs : int, default 10
    k : int, default 1
    persistent : bool, default False
    momentum : float in [0, 1), default 0.0
    weight_decay : float >= 0, default 0.0
    min_log_var : float, default -8.0
        Floor on every :math:`\log\sigma_i^2`.
    random_state : int, numpy.random.Generator or None

    Attributes
    ----------
    W_, b_, c_, log_var_ : ndarrays, shapes (n_visible, n_hidden), (n_visible,),
        (n_hidden,), (n_visible,)
    history_ : dict of lists
        "epoch", "reconstruction_error", "time".
    n_features_in_ : int
    """

    _parameter_constraints: dict = {  # noqa: RUF012 (scikit-learn's convention)
        "n_hidden": [Interval(numbers.Integral, 1, None, closed="left")],
        "learning_rate": [Interval(numbers.Real, 0, np.inf, closed="neither")],
        "log_var_learning_rate": [Interval(numbers.Real, 0, np.inf, closed="left"), None],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "k": [Interval(numbers.Integral, 1, None, closed="left")],
        "persistent": ["boolean"],
        "momentum": [Interval(numbers.Real, 0, 1, closed="left")],
        "weight_decay": [Interval(numbers.Real, 0, np.inf, closed="left")],
        "min_log_var": [Interval(numbers.Real, -MAX_ABS_LOG_VAR, MAX_ABS_LOG_VAR, closed="both")],
        "random_state": ["random_state", np.random.Generator],
    }

    def __init__(
        self,
        n_hidden=16,
        learning_rate=1e-3,
        log_var_learning_rate=None,
        batch_size=64,
        n_epochs=10,
        k=1,
        persistent=False,
        momentum=0.0,
        weight_decay=0.0,
        min_log_var=-8.0,
        random_state=None,
    ):
        self.n_hidden = n_hidden
        self.learning_rate = learning_rate
        self.log_var_learning_rate = log_var_learning_rate
        self.batch_size = batch_size
        self.n_epochs = n_epochs
        self.k = k
        self.persistent = persistent
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.min_log_var = min_log_var
        self.random_state = random_state

    @property
    def _n_features_out(self):
        return self.W_.shape[1]

    def _check_X(self, X, reset=False):
        if not reset:
            check_is_fitted(self, "W_")
        return validate_data(self, X, reset=reset, dtype=np.float64)

    def _rng(self, rng):
        if rng is not None:
            return as_rng(rng)
        if isinstance(self.random_state, np.random.RandomState):
            return np.random.default_rng(self.random_state.randint(2**31))
        return as_rng(self.random_state)

    @property
    def params_(self):
        """The fitted ``(W_, b_, c_, log_var_)``."""
        check_is_fitted(self, "W_")
        return self.W_, self.b_, self.c_, self.log_var_

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Initialise (:func:`gb_init_params`) and train with :func:`gb_train`.

        Raises ``FloatingPointError`` (parameters left at the failing epoch's start
        are not kept: the model is not fitted) if training diverges.
        """
        X = self._check_X(X, reset=True)
        W, b, c, log_var, history = gb_train(
            X,
            self.n_hidden,
            n_epochs=self.n_epochs,
            k=self.k,
            persistent=self.persistent,
            learning_rate=self.learning_rate,
            log_var_learning_rate=self.log_var_learning_rate,
            momentum=self.momentum,
            weight_decay=self.weight_decay,
            min_log_var=self.min_log_var,
            batch_size=self.batch_size,
            rng=self._rng(None),
        )
        if history["diverged"]:
            raise FloatingPointError(
                f"training diverged in epoch {history['epoch'][-1]} (learning_rate="
                f"{self.learning_rate!r}): try a smaller learning_rate or log_var_learning_rate"
            )
        self.W_, self.b_, self.c_, self.log_var_ = W, b, c, log_var
        self.history_ = {key: history[key] for key in ("epoch", "reconstruction_error", "time")}
        return self

    def transform(self, X):
        r"""Hidden probabilities :math:`p(h_j = 1 \mid \mathbf v)`, shape (n_samples, n_hidden)."""
        return _gb_h_given_v(self._check_X(X), self.W_, self.c_, self.log_var_)

    def log_partition(self):
        """Exact log Z (:func:`gb_log_partition`)."""
        return gb_log_partition(*self.params_)

    def score_samples(self, X):
        r"""Exact log-density :math:`\log p(\mathbf v)` of each row, in nats.

        Computed by :func:`gb_log_likelihood` (log Z by enumeration).
        """
        return gb_log_likelihood(self._check_X(X), *self.params_)

    def score(self, X, y=None):
        """Mean exact log-density of the rows of ``X``."""
        return float(self.score_samples(X).mean())

    def sample(self, n_samples=1, n_steps=None, rng=None):
        r"""Samples from the model.

        With ``n_steps`` None, exact independent samples from the mixture
        (:func:`gb_mixture`): a hidden state :math:`\mathbf h \sim \pi`, then
        :math:`\mathbf v \sim \mathcal N(\mathbf b + W\mathbf h, \boldsymbol\sigma^2)`.
        Otherwise the ends of ``n_samples`` Gibbs chains of ``n_steps`` steps
        started at :math:`\mathcal N(\mathbf b, \boldsymbol\sigma^2)`.

        Returns
        -------
        ndarray of float64, shape (n_samples, n_visible)
        """
        n_samples = check_positive_int(n_samples, "n_samples")
        W, b, c, log_var = self.params_
        rng = self._rng(rng)
        if n_steps is None:
            log_w, means, variances = gb_mixture(W, b, c, log_var)
            comp = rng.choice(len(log_w), size=n_samples, p=np.exp(log_w) / np.exp(log_w).sum())
            return means[comp] + np.sqrt(variances) * rng.standard_normal((n_samples, len(b)))
        v = b + np.exp(0.5 * log_var) * rng.standard_normal((n_samples, len(b)))
        return _gb_gibbs(v, W, b, c, log_var, check_positive_int(n_steps, "n_steps"), rng)

    def save(self, path):
        """Save to an ``.npz`` file atomically, without pickle.

        The layout of :func:`rbm.io.save_gaussian_rbm`.
        """
        check_is_fitted(self, "W_")
        params = self.get_params()
        if not isinstance(params["random_state"], numbers.Integral):
            params["random_state"] = None
        save_gaussian_rbm(path, params, *self.params_, self.history_)

    @classmethod
    def load(cls, path):
        """Load a model written by :meth:`save`."""
        saved = load_gaussian_rbm(path, sorted(cls().get_params()))
        model = cls(**saved["params"])
        model.W_, model.b_, model.c_, model.log_var_ = saved["arrays"]
        model.n_features_in_ = int(model.W_.shape[0])
        model.history_ = saved["history"]
        return model
