r"""Parallel tempering (replica exchange) for a binary RBM.

The tempered model at inverse temperature :math:`\beta` is the RBM with its
energy scaled by :math:`\beta`,

.. math::

    p_\beta(\mathbf v, \mathbf h) \propto e^{-\beta E(\mathbf v, \mathbf h)},

which is itself an ordinary RBM with parameters :math:`(\beta W, \beta\mathbf b,
\beta\mathbf c)`. At :math:`\beta = 1` it is the model; as :math:`\beta \to 0` it
flattens towards the uniform distribution, where block Gibbs mixes at once.
(Desjardins et al. 2010 use this form too; a "base-rate" variant interpolates
towards independent visible units instead, which we do not use here.)

Summing out ``h`` gives the tempered free energy

.. math::

    F_\beta(\mathbf v) = -\beta\,\mathbf b^\top\mathbf v
        - \sum_j \operatorname{softplus}\big(\beta(\mathbf v^\top W_{\cdot j} + c_j)\big),
    \qquad p_\beta(\mathbf v) = e^{-F_\beta(\mathbf v)} / Z_\beta .

Order of the temperatures: ``betas`` is **strictly decreasing from 1**,
``betas[0] == 1`` is the model, and ``chains[0]`` holds its replicas.
"""

from __future__ import annotations

import numpy as np

from ._validation import (
    as_float_array,
    as_rng,
    check_params,
    check_positive_int,
    check_unit_interval,
    check_visible,
)
from .core import _h_given_v, _sigmoid, _softplus
from .sampling import _phase_difference, _sample_bernoulli

__all__ = ["pt_gradient", "pt_step", "temperature_ladder"]


def check_betas(betas) -> np.ndarray:
    """Check an inverse-temperature ladder: 1-d, betas[0] == 1, strictly decreasing, > 0."""
    betas = as_float_array(betas, "betas", ndim=1, dtype=np.float64)
    if betas[0] != 1.0:
        raise ValueError(f"betas[0] must be 1 (the model itself), got {betas[0]!r}")
    if np.any(betas <= 0) or np.any(betas > 1):
        raise ValueError("betas must lie in (0, 1]")
    if np.any(np.diff(betas) >= 0):
        raise ValueError(
            f"betas must be strictly decreasing from 1 (betas[0] = 1 is the model), got {betas}"
        )
    return betas


def check_chains(chains, W, betas, name="chains") -> np.ndarray:
    """Check replicas: shape (n_temperatures, n_chains, n_visible), values in [0, 1]."""
    chains = as_float_array(chains, name, ndim=3, dtype=W.dtype)
    if chains.shape[0] != len(betas) or chains.shape[2] != W.shape[0]:
        raise ValueError(
            f"{name} must have shape (n_temperatures, n_chains, n_visible) = "
            f"({len(betas)}, n_chains, {W.shape[0]}) to match betas and W, got {chains.shape}"
        )
    return check_unit_interval(chains, name)


def temperature_ladder(n_temperatures, beta_min=0.1):
    r"""Inverse temperatures spaced evenly from 1 down to ``beta_min``.

    .. math:: \beta_r = 1 - \frac{r}{R - 1}(1 - \beta_\text{min}), \quad r = 0, \dots, R - 1.

    Parameters
    ----------
    n_temperatures : int, >= 2
    beta_min : float in (0, 1)

    Returns
    -------
    ndarray, shape (n_temperatures,), strictly decreasing, ``[0] == 1``.
    """
    n = check_positive_int(n_temperatures, "n_temperatures", minimum=2)
    if not (0 < float(beta_min) < 1):
        raise ValueError(f"beta_min must lie in (0, 1), got {beta_min!r}")
    return np.linspace(1.0, float(beta_min), n)


def _tempered_free_energy(v, W, b, c, beta):
    """F_beta(v) for one beta (scalar) or one beta per row (shape (n, 1))."""
    return -beta * (v @ b)[..., None] - _softplus(beta * (v @ W + c)).sum(axis=-1, keepdims=True)


def _swap_log_acceptance(v_r, v_s, W, b, c, beta_r, beta_s):
    r"""log of the Metropolis ratio for exchanging the states of replicas r and s.

    With the product target p_{beta_r}(v_r) p_{beta_s}(v_s), proposing the swap
    (v_r, v_s) -> (v_s, v_r) is accepted with probability min(1, exp(a)),

        a = F_r(v_r) + F_s(v_s) - F_r(v_s) - F_s(v_r),

    the partition functions cancelling. Returns a, shape (n_chains,).
    """
    a = (
        _tempered_free_energy(v_r, W, b, c, beta_r)
        + _tempered_free_energy(v_s, W, b, c, beta_s)
        - _tempered_free_energy(v_s, W, b, c, beta_r)
        - _tempered_free_energy(v_r, W, b, c, beta_s)
    )
    return a[:, 0]


def _gibbs_all(chains, W, b, c, betas, rng):
    """One block-Gibbs step v -> h -> v for every replica at its own temperature."""
    beta = betas.astype(W.dtype)[:, None, None]
    h = _sample_bernoulli(_sigmoid(beta * (chains @ W + c)), rng)
    return _sample_bernoulli(_sigmoid(beta * (h @ W.T + b)), rng)


def _swap_sweep(chains, W, b, c, betas, rng, accepted):
    """Metropolis swaps between neighbours: pairs (0,1), (2,3), ..., then (1,2), (3,4), ...

    Each proposed swap leaves the product distribution invariant (detailed
    balance), so their composition does too. ``accepted[r]`` is increased by the
    number of chains whose pair (r, r+1) swapped.
    """
    n_temps = len(betas)
    for first in (0, 1):
        for r in range(first, n_temps - 1, 2):
            log_a = _swap_log_acceptance(chains[r], chains[r + 1], W, b, c, betas[r], betas[r + 1])
            swap = np.log(rng.random(len(log_a))) < log_a
            if swap.any():
                upper = chains[r, swap].copy()
                chains[r, swap] = chains[r + 1, swap]
                chains[r + 1, swap] = upper
            accepted[r] += swap.sum()
    return chains


def _pt_chain(chains, W, b, c, betas, k, rng):
    chains = chains.copy()
    accepted = np.zeros(len(betas) - 1, dtype=np.int64)
    for _ in range(k):
        chains = _gibbs_all(chains, W, b, c, betas, rng)
        chains = _swap_sweep(chains, W, b, c, betas, rng, accepted)
    return chains, accepted / (k * chains.shape[1])


def pt_step(chains, W, b, c, betas, k=1, rng=None):
    r"""Advance parallel-tempering replicas by ``k`` rounds of Gibbs steps and swaps.

    Each round:

    1. one block-Gibbs step :math:`\mathbf v \to \mathbf h \to \mathbf v` for every
       replica at its own temperature, i.e. with
       :math:`P_\beta(h_j = 1 \mid \mathbf v) = \sigma(\beta(\mathbf v^\top W_{\cdot j} + c_j))`
       and :math:`P_\beta(v_i = 1 \mid \mathbf h) = \sigma(\beta(W_{i\cdot}\mathbf h + b_i))`;
    2. Metropolis swaps between neighbouring temperatures, first the pairs
       (0, 1), (2, 3), ..., then (1, 2), (3, 4), ...; the states of replicas
       :math:`r` and :math:`r+1` are exchanged with probability

       .. math::

           \min\Big(1, \exp\big(F_{\beta_r}(\mathbf v_r) + F_{\beta_{r+1}}(\mathbf v_{r+1})
               - F_{\beta_r}(\mathbf v_{r+1}) - F_{\beta_{r+1}}(\mathbf v_r)\big)\Big),

       where :math:`F_\beta` is the tempered free energy (see the module
       docstring). This is the Metropolis ratio for the product target
       :math:`\prod_r p_{\beta_r}(\mathbf v_r)`; the :math:`Z_\beta` cancel.

    Both moves leave :math:`\prod_r p_{\beta_r}(\mathbf v_r)` invariant, so
    ``chains[0]`` samples the model :math:`p(\mathbf v)`.

    Parameters
    ----------
    chains : array_like, shape (n_temperatures, n_chains, n_visible)
        ``chains[r, m]`` is the visible state of the replica of chain group
        ``m`` at inverse temperature ``betas[r]``.
    W : array_like, shape (n_visible, n_hidden)
    b : array_like, shape (n_visible,)
    c : array_like, shape (n_hidden,)
    betas : array_like, shape (n_temperatures,)
        Inverse temperatures, strictly decreasing from ``betas[0] = 1`` (the
        model), all in (0, 1]. :func:`temperature_ladder` makes one.
    k : int, default 1
        Number of rounds (Gibbs step + swap sweep).
    rng : int, numpy.random.Generator or None

    Returns
    -------
    new_chains : ndarray, shape (n_temperatures, n_chains, n_visible)
        Binary states after ``k`` rounds.
    acceptance : ndarray, shape (n_temperatures - 1,)
        Fraction of the proposed swaps between ``betas[r]`` and ``betas[r+1]``
        that were accepted, over all chains and rounds.
    """
    W, b, c = check_params(W, b, c)
    betas = check_betas(betas)
    chains = check_chains(chains, W, betas)
    k = check_positive_int(k, "k")
    return _pt_chain(chains, W, b, c, betas, k, as_rng(rng))


def pt_gradient(v, chains, W, b, c, betas, k=1, rng=None):
    r"""Log-likelihood gradient estimate with a parallel-tempering negative phase.

    As :func:`rbm.pcd_k`, with the persistent chains replaced by PT replicas
    (Desjardins et al. 2010):

    .. math::

        \Delta W = \big\langle \mathbf v\, P(\mathbf h \mid \mathbf v)^\top \big\rangle_\text{data}
                 - \big\langle \tilde{\mathbf v}\,
                   P(\mathbf h \mid \tilde{\mathbf v})^\top \big\rangle,

    and likewise for ``b`` and ``c``, where :math:`\tilde{\mathbf v}` are the
    :math:`\beta = 1` replicas (``new_chains[0]``) after ``k`` rounds of
    :func:`pt_step`. Positive phase: data and probabilities; negative phase:
    sampled states and probabilities.

    Parameters
    ----------
    v : array_like, shape (n_samples, n_visible)
        A batch of training data in [0, 1].
    chains : array_like, shape (n_temperatures, n_chains, n_visible)
    W : array_like, shape (n_visible, n_hidden)
    b : array_like, shape (n_visible,)
    c : array_like, shape (n_hidden,)
    betas : array_like, shape (n_temperatures,)
        Strictly decreasing from ``betas[0] = 1``, in (0, 1].
    k : int, default 1
        PT rounds per call.
    rng : int, numpy.random.Generator or None

    Returns
    -------
    (dW, db, dc) : tuple of ndarrays with the shapes of W, b, c
    new_chains : ndarray, shape (n_temperatures, n_chains, n_visible)
        Pass them to the next call.
    """
    W, b, c = check_params(W, b, c)
    v = check_visible(v, W)
    betas = check_betas(betas)
    chains = check_chains(chains, W, betas)
    k = check_positive_int(k, "k")
    new_chains, _ = _pt_chain(chains, W, b, c, betas, k, as_rng(rng))
    ph = _h_given_v(v, W, c)
    v_neg = new_chains[0]
    return _phase_difference(v, ph, v_neg, _h_given_v(v_neg, W, c)), new_chains
