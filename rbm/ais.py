"""Annealed importance sampling (AIS) for the partition function of a binary RBM.

Exact log Z (:func:`rbm.log_partition`) needs 2^min(n_visible, n_hidden) terms,
so it stops at a couple of dozen hidden units. AIS (Neal 2001), as used for
RBMs by Salakhutdinov & Murray (2008), estimates Z for any size:

- start from a *base-rate* model A whose visible units are independent, with
  biases ``base`` (usually the logits of the training data's pixel means, see
  :func:`base_rate_bias`) and no weights, so that Z_A is known in closed form;
- move through intermediate distributions p_beta, beta = 0 < ... < 1, from A to
  the RBM B, with the hidden units summed out:

  .. math::

      p^*_\\beta(\\mathbf v) = \\exp\\big((1-\\beta)\\, \\mathbf b_A^\\top \\mathbf v
          + \\beta\\, \\mathbf b^\\top \\mathbf v\\big)
          \\prod_j \\big(1 + e^{\\beta(\\mathbf v^\\top W_{\\cdot j} + c_j)}\\big),

  the geometric average of the two *joint* distributions,
  :math:`e^{-(1-\\beta) E_A(\\mathbf v, \\mathbf h) - \\beta E_B(\\mathbf v, \\mathbf h)}`,
  with h summed out (model A keeps the hidden units, with zero weights and
  zero biases). Each p_beta is then an RBM with scaled parameters. (The
  geometric average of the *marginals*, exp(-(1-beta) F_A - beta F_B), would be
  a different path, and block Gibbs steps of a scaled RBM would not leave it
  invariant.)
- at each beta, one block-Gibbs step of the beta-scaled RBM (sample h, then v)
  leaves p_beta invariant; the log importance weight accumulates
  :math:`\\log p^*_{\\beta_k}(\\mathbf v_k) - \\log p^*_{\\beta_{k-1}}(\\mathbf v_k)`.

The mean of the weights is an unbiased estimate of Z_B / Z_A. Its logarithm is
therefore biased *low* (Jensen), and when the chains do not mix it can be far
too low. Reverse AIS (:func:`reverse_ais_log_partition`) errs the other way.

How far to trust a run: :func:`effective_sample_size` and :func:`max_weight_share`
of its weights (also ``AISResult.ess`` and ``AISResult.max_weight_share``), and
the spread of log Z over independent runs (:func:`ais_runs_summary`). RAISE
(:func:`raise_log_likelihood`) anneals backwards from each test vector and
gives a per-example log-likelihood that is, in expectation, below that of the
annealing model (Burda, Grosse & Salakhutdinov 2015).

With float32 weights the annealing runs in the compiled engine
:func:`rbm._fast.anneal`; with float64 weights in the numpy loop :func:`_anneal`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.special import logsumexp

from . import _fast
from ._validation import (
    as_float_array,
    as_rng,
    check_params,
    check_positive_int,
    check_visible,
)
from .core import _free_energy, _sigmoid, _softplus

__all__ = [
    "AISLogLikelihood",
    "AISResult",
    "AISRunsSummary",
    "RAISEResult",
    "ais_log_partition",
    "ais_runs_summary",
    "base_rate_bias",
    "default_betas",
    "effective_sample_size",
    "log_likelihood_ais",
    "max_weight_share",
    "mean_weight_bounds",
    "raise_log_likelihood",
    "reverse_ais_log_partition",
]

# Salakhutdinov & Murray (2008): beta in [0, 0.5) step 1e-3, [0.5, 0.9) step 1e-4,
# [0.9, 1] step 1e-5. These are the numbers of steps in each segment.
_SEGMENTS = ((0.0, 0.5, 500), (0.5, 0.9, 4000), (0.9, 1.0, 10000))


def _check_log_weights(log_weights, name="log_weights"):
    lw = np.asarray(log_weights, dtype=np.float64)
    if lw.ndim != 1 or lw.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-dimensional array, got shape {lw.shape}")
    if np.isnan(lw).any() or np.isposinf(lw).any() or not np.isfinite(lw).any():
        raise ValueError(f"{name} must hold no NaN or +inf and at least one finite value")
    return lw


def effective_sample_size(log_weights):
    r"""Effective sample size of importance weights given by their logarithms.

    .. math::

        \mathrm{ESS} = \frac{\big(\sum_m w_m\big)^2}{\sum_m w_m^2}
            = \exp\big(2 \operatorname{logsumexp}(\log w)
                - \operatorname{logsumexp}(2 \log w)\big),

    computed in log space, so that weights of e^700 or e^-700 are no problem.
    It lies between 1 (one chain carries all the weight) and M (all equal).

    Parameters
    ----------
    log_weights : array_like, shape (M,)
        Log importance weights (``-inf`` allowed for a zero weight).

    Returns
    -------
    float
    """
    lw = _check_log_weights(log_weights)
    return float(np.exp(2 * logsumexp(lw) - logsumexp(2 * lw)))


def max_weight_share(log_weights):
    r"""Share of the largest importance weight in their sum, :math:`\max_m w_m / \sum_m w_m`.

    Between 1/M (all equal) and 1 (one chain carries the estimate); computed in
    log space as :math:`\exp(\max_m \log w_m - \operatorname{logsumexp}(\log w))`.

    Parameters
    ----------
    log_weights : array_like, shape (M,)

    Returns
    -------
    float
    """
    lw = _check_log_weights(log_weights)
    return float(np.exp(lw.max() - logsumexp(lw)))


class AISResult(NamedTuple):
    """What an AIS run returns.

    Attributes
    ----------
    log_z : float
        The estimate of log Z.
    log_z_low, log_z_high : float
        log of (mean weight -/+ 3 standard errors of the mean weight), turned into
        bounds on log Z; ``-inf`` (or ``+inf``) when mean - 3 s.e. <= 0, i.e. the
        weights are too spread out to bound that side at all. This interval
        reflects the spread of the weights only: it does *not* cover the bias
        of chains that failed to mix.
    log_weights : ndarray, shape (n_chains,)
        The log importance weights (forward: of Z_B / Z_A; reverse: of Z_A / Z_B).
    log_z_base : float
        log Z_A of the base-rate model.
    """

    log_z: float
    log_z_low: float
    log_z_high: float
    log_weights: np.ndarray
    log_z_base: float

    @property
    def ess(self):
        """Effective sample size of the weights: :func:`effective_sample_size`."""
        return effective_sample_size(self.log_weights)

    @property
    def max_weight_share(self):
        """Share of the largest weight in their sum: :func:`max_weight_share`."""
        return max_weight_share(self.log_weights)


class AISRunsSummary(NamedTuple):
    """Independent forward AIS runs of one model, side by side.

    Attributes
    ----------
    n_runs : int
    mean_log_z, sd_log_z : float
        Mean and standard deviation (ddof=1) of the runs' log Z estimates: the
        spread is the honest error bar of one run (it includes how far chains
        that miss a mode move it), as far as the runs see the same modes.
    pooled_log_z : float
        log Z_A + log of the mean weight over all the runs' chains together:
        one estimate from all the chains (unbiased for Z, biased low for log Z).
    pooled_ess : float
        The effective sample size of all the chains together.
    """

    n_runs: int
    mean_log_z: float
    sd_log_z: float
    pooled_log_z: float
    pooled_ess: float


def ais_runs_summary(results):
    """Mean, standard deviation and pooled estimate of log Z over independent AIS runs.

    Parameters
    ----------
    results : sequence of AISResult
        At least two *forward* runs (:func:`ais_log_partition`) of the same model
        and base-rate model, with independent random numbers.

    Returns
    -------
    AISRunsSummary
    """
    results = list(results)
    if len(results) < 2 or not all(isinstance(r, AISResult) for r in results):
        raise ValueError("results must be a sequence of at least 2 AISResult")
    log_za = results[0].log_z_base
    if not all(np.isclose(r.log_z_base, log_za, rtol=0, atol=1e-9) for r in results):
        raise ValueError("results must share one base-rate model (their log_z_base differ)")
    log_z = np.array([r.log_z for r in results])
    pooled = np.concatenate([_check_log_weights(r.log_weights) for r in results])
    return AISRunsSummary(
        n_runs=len(results),
        mean_log_z=float(log_z.mean()),
        sd_log_z=float(log_z.std(ddof=1)),
        pooled_log_z=float(log_za + logsumexp(pooled) - np.log(len(pooled))),
        pooled_ess=effective_sample_size(pooled),
    )


class AISLogLikelihood(NamedTuple):
    """Mean log-likelihood of a data set with log Z from AIS.

    ``log_likelihood_low`` uses ``ais.log_z_high`` and ``log_likelihood_high`` uses
    ``ais.log_z_low``: the interval from the spread of the AIS weights.
    """

    log_likelihood: float
    log_likelihood_low: float
    log_likelihood_high: float
    ais: AISResult


def default_betas(n_steps=None):
    """Inverse temperatures of Salakhutdinov & Murray (2008), or a shorter schedule of that shape.

    With ``n_steps=None``: 0 to 0.5 in steps of 1e-3, 0.5 to 0.9 in steps of
    1e-4, 0.9 to 1 in steps of 1e-5, that is 14,500 steps and 14,501 values.
    With ``n_steps``, the same three linear segments, each given the same share
    of the steps as in theirs (1/29, 8/29 and 20/29), at least one step each.

    Parameters
    ----------
    n_steps : int >= 3, optional
        Number of annealing steps (the schedule has ``n_steps + 1`` values).

    Returns
    -------
    ndarray of float64, shape (n_steps + 1,)
        Strictly increasing from exactly 0.0 to exactly 1.0.
    """
    counts = [n for _, _, n in _SEGMENTS]
    if n_steps is not None:
        n_steps = check_positive_int(n_steps, "n_steps", minimum=3)
        total = sum(counts)
        counts = [max(1, round(n_steps * n / total)) for n in counts[:2]]
        counts.append(n_steps - sum(counts))
    parts = [
        np.linspace(lo, hi, n + 1)[:-1] for (lo, hi, _), n in zip(_SEGMENTS, counts, strict=True)
    ]
    return np.concatenate([*parts, [1.0]])


def base_rate_bias(X, eps=1e-3):
    r"""Visible biases of the base-rate model: the logits of the data's pixel means.

    .. math::

        b_{A,i} = \log \frac{\bar p_i}{1 - \bar p_i}, \qquad
        \bar p_i = \operatorname{clip}\Big(\frac1n \sum_t v_{ti},\ \epsilon,\ 1 - \epsilon\Big).

    The independent-pixel model with these biases matches the data's marginals,
    which makes it a good start for AIS. The clipping keeps pixels that are
    always 0 (the border of MNIST) or always 1 finite.

    Parameters
    ----------
    X : array_like, shape (n_samples, n_visible)
        Data in [0, 1] (binary or grey levels).
    eps : float in (0, 0.5), default 1e-3

    Returns
    -------
    ndarray of float64, shape (n_visible,)
    """
    X = as_float_array(X, "X", ndim=2)
    if X.min() < 0 or X.max() > 1:
        raise ValueError("X must hold values in [0, 1]")
    if not (isinstance(eps, (int, float)) and 0 < eps < 0.5):
        raise ValueError(f"eps must be a number in (0, 0.5), got {eps!r}")
    p = np.clip(X.mean(axis=0, dtype=np.float64), eps, 1 - eps)
    return np.log(p) - np.log1p(-p)


def _check_betas(betas):
    if betas is None:
        return default_betas()
    betas = as_float_array(betas, "betas", ndim=1, dtype=np.float64)
    if len(betas) < 2:
        raise ValueError(f"betas must have at least 2 values (0 and 1), got {len(betas)}")
    if betas[0] != 0.0 or betas[-1] != 1.0:
        raise ValueError(f"betas must start at 0 and end at 1, got {betas[0]!r} ... {betas[-1]!r}")
    if np.any(np.diff(betas) <= 0):
        raise ValueError("betas must be strictly increasing")
    return betas


def _check_base(base, n_visible):
    if base is None:
        return np.zeros(n_visible)
    base = as_float_array(base, "base", ndim=1, dtype=np.float64)
    if base.shape != (n_visible,):
        raise ValueError(f"base must have shape (n_visible,) = ({n_visible},), got {base.shape}")
    return base


def _log_z_base(base, n_hidden):
    """log Z_A = sum_i softplus(b_A,i) + n_hidden log 2 (hidden units with no weights, no bias)."""
    return float(_softplus(base).sum() + n_hidden * np.log(2.0))


def _anneal(v, betas, W, b, c, base, rng):
    """Run AIS from p_{betas[0]} to p_{betas[-1]}, starting from the chains ``v``.

    Returns the log weights sum_k [log p*_{beta_k}(v_k) - log p*_{beta_{k-1}}(v_k)],
    where v_k is the state after the transition at beta_{k-1}. Works in either
    direction (``betas`` increasing or decreasing). All arrays are float64.
    """
    log_w = np.zeros(len(v))
    db = b - base
    v = v.astype(W.dtype)
    W_t = np.ascontiguousarray(W.T)
    n_steps = len(betas) - 1
    for k in range(1, n_steps + 1):
        beta_prev, beta = betas[k - 1], betas[k]
        a = (v @ W).astype(np.float64)
        a += c
        # log p*_beta(v) - log p*_beta_prev(v): the visible term and the hidden softplus terms.
        log_w += (beta - beta_prev) * (v @ db)
        log_w += _softplus(beta * a).sum(axis=1)
        log_w -= _softplus(beta_prev * a).sum(axis=1)
        if k == n_steps:
            break
        # One block-Gibbs step that leaves p_beta invariant: h ~ P_beta(h | v), v ~ P_beta(v | h).
        a *= beta
        h = (rng.random(a.shape) < _sigmoid(a)).astype(W.dtype)
        pv = (h @ W_t).astype(np.float64)
        pv *= beta
        pv += base + beta * db
        v = (rng.random(pv.shape) < _sigmoid(pv)).astype(W.dtype)
    return log_w


def _run_anneal(v, betas, W, b, c, base, rng):
    """:func:`_anneal` with float64 weights; with float32 ones, its fast engine.

    :func:`rbm._fast.anneal` runs the same chains with the same weights, in
    float32 products with float64 sums, and compiled kernels; its Bernoulli
    draws come from counter-based uniforms instead of ``rng.random``, so the
    two make different draws from the same distribution.
    """
    if W.dtype == np.float32:
        return _fast.anneal(v, betas, W, b, c, base, rng)
    return _anneal(v, betas, W, b, c, base, rng)


def _gibbs_step(v, W, b, c, rng):
    """One block-Gibbs step of the RBM (beta = 1) in the dtype of W: h ~ P(h|v), v ~ P(v|h)."""
    h = (rng.random((len(v), W.shape[1])) < _sigmoid(v @ W + c)).astype(W.dtype)
    return (rng.random(v.shape) < _sigmoid(h @ W.T + b)).astype(W.dtype)


def _mean_weight_bounds(log_w, n_sd=3.0):
    """log of the mean weight, and of mean -/+ n_sd standard errors (computed in log space)."""
    m = float(np.max(log_w))
    r = np.exp(log_w - m)
    mean = r.mean()
    se = r.std(ddof=1) / np.sqrt(len(r)) if len(r) > 1 else np.inf
    log_mean = m + float(np.log(mean))
    low = mean - n_sd * se
    log_low = m + float(np.log(low)) if low > 0 else -np.inf
    log_high = m + float(np.log(mean + n_sd * se)) if np.isfinite(se) else np.inf
    return log_mean, log_low, log_high


def mean_weight_bounds(log_w, n_sd=3.0):
    r"""log of the mean importance weight, and of the mean -/+ ``n_sd`` standard errors.

    .. math::

        \log \bar w = \log \frac1M \sum_m e^{\log w_m},
        \qquad \log\big(\bar w \mp n_\text{sd}\, \mathrm{se}(\bar w)\big),

    computed in log space (shifted by the largest log weight); the low side is
    ``-inf`` when the mean minus ``n_sd`` standard errors is not positive.

    Parameters
    ----------
    log_w : array_like, shape (M,)
        Log importance weights.
    n_sd : float, default 3.0

    Returns
    -------
    (float, float, float)
        log mean, log low, log high.
    """
    log_w = as_float_array(log_w, "log_w", ndim=1, dtype=np.float64)
    return _mean_weight_bounds(log_w, float(n_sd))


def _prepare(W, b, c, n_chains, betas, base):
    # W keeps its float dtype (the matrix products run in it); everything else is float64.
    W, b, c = check_params(W, b, c)
    b, c = b.astype(np.float64), c.astype(np.float64)
    n_chains = check_positive_int(n_chains, "n_chains")
    return W, b, c, n_chains, _check_betas(betas), _check_base(base, W.shape[0])


def ais_log_partition(W, b, c, n_chains=100, betas=None, base=None, rng=None):
    r"""Estimate log Z of a binary RBM by annealed importance sampling.

    The importance weight of one chain (Neal 2001; Salakhutdinov & Murray 2008) is

    .. math::

        w = \prod_{k=1}^{K} \frac{p^*_{\beta_k}(\mathbf v_k)}{p^*_{\beta_{k-1}}(\mathbf v_k)},
        \qquad
        \log p^*_\beta(\mathbf v) = \big((1-\beta)\mathbf b_A + \beta \mathbf b\big)^\top \mathbf v
            + \sum_j \operatorname{softplus}\big(\beta(\mathbf v^\top W_{\cdot j} + c_j)\big),

    with :math:`\mathbf v_1 \sim p_A` drawn exactly and :math:`\mathbf v_{k+1}`
    drawn from :math:`\mathbf v_k` by one block-Gibbs step that leaves
    :math:`p_{\beta_k}` invariant. :math:`\mathbb E[w] = Z_B / Z_A`, so

    .. math::

        \log \hat Z_B = \log Z_A + \log \frac1M \sum_{m=1}^M w^{(m)},
        \qquad \log Z_A = \sum_i \operatorname{softplus}(b_{A,i}) + n_\text{hidden} \log 2 .

    Because :math:`\hat Z_B` is unbiased, :math:`\log \hat Z_B` is biased low
    (Jensen's inequality) and, in expectation, a stochastic *lower* bound on log Z:
    a schedule too short for the chains to follow the model leaves log Z too low,
    so log-likelihoods computed with it come out too *high*.

    Parameters
    ----------
    W : array_like, shape (n_visible, n_hidden)
    b : array_like, shape (n_visible,)
    c : array_like, shape (n_hidden,)
    n_chains : int, default 100
        Number of independent AIS runs M (vectorised: one matrix per step).
    betas : array_like, shape (K + 1,), optional
        Strictly increasing from 0 to 1. Default: :func:`default_betas` (14,501 values).
    base : array_like, shape (n_visible,), optional
        Visible biases b_A of the base-rate model, e.g. ``base_rate_bias(X_train)``.
        Default zeros (the uniform distribution), which is a much worse start on
        real data.
    rng : int, numpy.random.Generator or None

    Returns
    -------
    AISResult
        ``log_z``, ``log_z_low`` and ``log_z_high`` (log of mean weight -/+ 3
        standard errors; ``log_z_low`` is ``-inf`` when mean - 3 s.e. <= 0),
        ``log_weights`` of shape (n_chains,), and ``log_z_base``.

    Notes
    -----
    Each step costs two (n_chains x n_visible x n_hidden) matrix products: for
    784 x 500, 100 chains and 14,500 steps about 2.3 TFLOP. They run in the
    dtype of ``W`` (float32 weights: float32 products, about twice as fast);
    the biases, the log weights and everything summed run in float64. The
    rounding of a float32 product, about 1e-6 relative, moves log Z by at most
    sum_k |beta_k - beta_(k-1)| * n_hidden * 1e-6 * max|v W|, a few 1e-3 nats for MNIST models.
    With float32 weights the chains run in the compiled engine
    :func:`rbm._fast.anneal` (same chains and weights, other random draws; about
    1.1 to 1.5 times the time of the matrix products alone, ``benchmarks/ais.py``);
    with float64 weights, in the numpy loop :func:`_anneal`.
    """
    W, b, c, n_chains, betas, base = _prepare(W, b, c, n_chains, betas, base)
    rng = as_rng(rng)
    v0 = (rng.random((n_chains, W.shape[0])) < _sigmoid(base)).astype(np.float64)
    log_w = _run_anneal(v0, betas, W, b, c, base, rng)
    log_za = _log_z_base(base, W.shape[1])
    log_mean, log_low, log_high = _mean_weight_bounds(log_w)
    return AISResult(log_za + log_mean, log_za + log_low, log_za + log_high, log_w, log_za)


def reverse_ais_log_partition(W, b, c, v_init, betas=None, base=None, n_gibbs=0, rng=None):
    r"""Estimate log Z by reverse AIS: anneal from the RBM down to the base-rate model.

    The chains start at ``v_init`` (after ``n_gibbs`` more block-Gibbs steps of
    the RBM) and run the schedule backwards, :math:`\beta = 1 \to 0`. The weight

    .. math::

        w_\text{rev} = \prod_{k=K}^{1}
            \frac{p^*_{\beta_{k-1}}(\mathbf v_k)}{p^*_{\beta_k}(\mathbf v_k)}

    has :math:`\mathbb E[w_\text{rev}] = Z_A / Z_B` **if the starting states are
    exact samples of the RBM** (Burda, Grosse & Salakhutdinov 2015), and then

    .. math::

        \log \hat Z_B = \log Z_A - \log \frac1M \sum_m w_\text{rev}^{(m)}

    is, by Jensen's inequality, biased *high*: in expectation a stochastic upper
    bound on log Z, hence a conservative (too low) log-likelihood. With forward
    AIS (:func:`ais_log_partition`) it brackets log Z.

    The assumption matters. Chains started at the data and run for a finite
    ``n_gibbs`` are only approximately model samples; if they have not reached
    the model's modes (or sit in modes the model gives little mass), the bound
    can fail in either direction. The gap between forward and reverse estimates
    is then a diagnostic, not a guarantee.

    Parameters
    ----------
    W : array_like, shape (n_visible, n_hidden)
    b : array_like, shape (n_visible,)
    c : array_like, shape (n_hidden,)
    v_init : array_like, shape (n_chains, n_visible)
        Starting states in [0, 1], ideally samples from the RBM (e.g. long Gibbs
        chains started at data). Probabilities are first sampled to binary states.
    betas : array_like, optional
        The *forward* schedule (strictly increasing from 0 to 1), run backwards.
        Default :func:`default_betas`.
    base : array_like, shape (n_visible,), optional
        Base-rate visible biases; default zeros.
    n_gibbs : int >= 0, default 0
        Block-Gibbs steps of the RBM applied to ``v_init`` before annealing.
    rng : int, numpy.random.Generator or None

    Returns
    -------
    AISResult
        ``log_weights`` are the reverse weights (of Z_A / Z_B); ``log_z_low`` and
        ``log_z_high`` come from log(mean -/+ 3 s.e.) of those weights, so
        ``log_z_high`` is ``+inf`` when mean - 3 s.e. <= 0.
    """
    W, b, c = check_params(W, b, c)
    v = check_visible(v_init, W, name="v_init")
    n_gibbs = check_positive_int(n_gibbs, "n_gibbs", minimum=0)
    W, b, c, _, betas, base = _prepare(W, b, c, len(v), betas, base)
    rng = as_rng(rng)
    v = (rng.random(v.shape) < v).astype(W.dtype)  # binary states, even from probabilities
    for _ in range(n_gibbs):
        v = _gibbs_step(v, W, b, c, rng)
    log_w = _run_anneal(v, betas[::-1], W, b, c, base, rng)
    log_za = _log_z_base(base, W.shape[1])
    log_mean, log_low, log_high = _mean_weight_bounds(log_w)
    # log Z = log Z_A - log(mean reverse weight): the bounds swap sides.
    return AISResult(log_za - log_mean, log_za - log_high, log_za - log_low, log_w, log_za)


def log_likelihood_ais(X, W, b, c, n_chains=100, betas=None, base=None, rng=None, ais_result=None):
    r"""Mean log-likelihood of ``X`` with log Z estimated by AIS.

    .. math::

        \frac1n \sum_t \log p(\mathbf v_t) = -\frac1n \sum_t F(\mathbf v_t) - \log \hat Z .

    Because :math:`\log \hat Z` from AIS tends to be too low, this estimate tends
    to be too *high*; see :func:`reverse_ais_log_partition` for the other side.

    Parameters
    ----------
    X : array_like, shape (n_samples, n_visible)
        Data in [0, 1]; binary data for a proper log-probability.
    W : array_like, shape (n_visible, n_hidden)
    b : array_like, shape (n_visible,)
    c : array_like, shape (n_hidden,)
    n_chains, betas, base, rng
        As in :func:`ais_log_partition`. ``base`` should come from the
        *training* data (:func:`base_rate_bias`); default zeros.
    ais_result : AISResult, optional
        Reuse a previous AIS run for this model instead of running one.

    Returns
    -------
    AISLogLikelihood
        ``log_likelihood``, its low/high values from the AIS interval, and the
        :class:`AISResult`.
    """
    W, b, c = check_params(W, b, c)
    X = check_visible(X, W, name="X")
    if ais_result is None:
        ais_result = ais_log_partition(W, b, c, n_chains, betas, base, rng)
    elif not isinstance(ais_result, AISResult):
        raise TypeError(f"ais_result must be an AISResult, got {type(ais_result).__name__}")
    W64, b64, c64 = (x.astype(np.float64) for x in (W, b, c))
    mean_neg_f = float(-_free_energy(X.astype(np.float64), W64, b64, c64).mean())
    return AISLogLikelihood(
        mean_neg_f - ais_result.log_z,
        mean_neg_f - ais_result.log_z_high,
        mean_neg_f - ais_result.log_z_low,
        ais_result,
    )


class RAISEResult(NamedTuple):
    """What :func:`raise_log_likelihood` returns.

    Attributes
    ----------
    log_p : ndarray, shape (n_samples,)
        Per example, :math:`\\log \\frac1M \\sum_m w^{(m)}`: an estimate of
        log p_ann(v), biased low (see :func:`raise_log_likelihood`).
    log_weights : ndarray, shape (n_samples, n_chains)
        The log weights :math:`\\log w^{(m)}`, each an unbiased estimate of
        p_ann(v) once exponentiated.
    log_z_base : float
        log Z_A of the base-rate model.
    """

    log_p: np.ndarray
    log_weights: np.ndarray
    log_z_base: float

    @property
    def mean_log_p(self):
        """The mean of ``log_p`` over the examples (the data set's estimate)."""
        return float(np.mean(self.log_p))


def raise_log_likelihood(X, W, b, c, betas=None, base=None, n_chains=1, rng=None):
    r"""RAISE: a conservative estimate of log p(v) for each row of ``X``, by reverse annealing.

    Burda, Grosse & Salakhutdinov (2015). Forward AIS, seen as a *generative*
    procedure, defines the **annealing model** p_ann: draw
    :math:`\mathbf x_0 \sim p_A`, then :math:`\mathbf x_k \sim T_k(\cdot \mid
    \mathbf x_{k-1})` for :math:`k = 1, \dots, K`, where :math:`T_k` is the
    block-Gibbs step (v -> h -> v) of :math:`p_{\beta_k}`, the last one
    (:math:`\beta_K = 1`) of the RBM itself, and output :math:`\mathbf v =
    \mathbf x_K`. Its probability of a test vector is a sum over all the paths,
    and importance sampling with the reverse chain as proposal estimates it:
    start at :math:`\mathbf x_K = \mathbf v`, draw :math:`\mathbf x_{k-1} \sim
    T_k(\cdot \mid \mathbf x_k)` for :math:`k = K, \dots, 1` (each
    :math:`T_k` is reversible with respect to :math:`p_{\beta_k}`, h being
    summed out), and weigh the path by

    .. math::

        w = \frac{p^*_{\beta_K}(\mathbf v)}{Z_A}
            \prod_{k=0}^{K-1}
            \frac{p^*_{\beta_k}(\mathbf x_k)}{p^*_{\beta_{k+1}}(\mathbf x_k)},
        \qquad \mathbb E[w] = p_\text{ann}(\mathbf v),

    with :math:`p^*_\beta` the unnormalised path of :func:`ais_log_partition`
    and :math:`p^*_{\beta_K}(\mathbf v) = e^{-F(\mathbf v)}`. (Writing out the
    ratio of the forward path's probability to the reverse one's, the
    transition probabilities cancel by reversibility and leave w.) The result
    per example is :math:`\log \frac1M \sum_m w^{(m)}` over ``n_chains`` = M
    reverse chains. It is the reverse AIS of
    :func:`reverse_ais_log_partition` started at the test vector after one
    Gibbs step of the RBM, scored by :math:`-F(\mathbf v)`. The construction
    is the paper's; the transitions are this module's (block-Gibbs steps with
    h summed out, so that the chain lives on v), and the weight above is
    derived here and tested against p_ann enumerated on small models
    (``tests/unit/test_ais_diagnostics.py``), not against the authors' code.

    What is guaranteed, and what is not:

    - :math:`\mathbb E[w] = p_\text{ann}(\mathbf v)` exactly, for any schedule,
      so (Jensen) :math:`\mathbb E[\log \hat p] \le \log p_\text{ann}(\mathbf v)`,
      and :math:`P(\log \hat p > \log p_\text{ann}(\mathbf v) + t) \le e^{-t}`
      (Markov): a stochastic *lower* bound on the annealing model's
      log-likelihood, however badly the chains mix. This is the paper's
      "conservative".
    - p_ann is not the RBM: :math:`p_\text{ann} \to p` as the schedule gets
      longer and the chains mix, but for a finite schedule
      :math:`p_\text{ann}(\mathbf v)` can be above or below :math:`p(\mathbf v)`
      for a given v. Only on average over the RBM's own samples is it below
      (:math:`\mathbb E_p[\log p_\text{ann}] \le \mathbb E_p[\log p]`, as a KL
      divergence is >= 0); for test data it is typically below (the paper's
      observation), not certainly. RAISE is therefore **not** a hard bound on
      the RBM's log p(v).

    Parameters
    ----------
    X : array_like, shape (n_samples, n_visible)
        Binary test vectors (0 and 1 only).
    W : array_like, shape (n_visible, n_hidden)
    b : array_like, shape (n_visible,)
    c : array_like, shape (n_hidden,)
    betas : array_like, shape (K + 1,), optional
        The forward schedule (strictly increasing from 0 to 1); it defines
        p_ann. Default :func:`default_betas` (14,501 values).
    base : array_like, shape (n_visible,), optional
        Base-rate visible biases b_A, e.g. ``base_rate_bias(X_train)``; default zeros.
    n_chains : int, default 1
        Reverse chains M per example.
    rng : int, numpy.random.Generator or None

    Returns
    -------
    RAISEResult
        ``log_p`` (n_samples,), ``log_weights`` (n_samples, n_chains),
        ``log_z_base``, and the property ``mean_log_p``.

    Notes
    -----
    The cost is that of forward AIS with ``n_samples * n_chains`` chains. With
    float32 weights the annealing runs in :func:`rbm._fast.anneal`.
    """
    W, b, c = check_params(W, b, c)
    X = check_visible(X, W, name="X")
    if not np.all((X == 0) | (X == 1)):
        raise ValueError("X must be binary (0 and 1 only): RAISE estimates probabilities")
    W, b, c, n_chains, betas, base = _prepare(W, b, c, n_chains, betas, base)
    rng = as_rng(rng)
    X64 = X.astype(np.float64)
    W64 = W.astype(np.float64)
    log_f = -_free_energy(X64, W64, b, c)  # log p*_{beta_K}(v), beta_K = 1
    log_za = _log_z_base(base, W.shape[1])
    v = np.repeat(X.astype(W.dtype), n_chains, axis=0)  # row t * M + m: chain m of example t
    v = _gibbs_step(v, W, b, c, rng)  # x_{K-1} ~ T_K(. | v), the RBM's own step
    log_rev = _run_anneal(v, betas[::-1], W, b, c, base, rng).reshape(len(X), n_chains)
    log_w = log_f[:, None] - log_za + log_rev
    log_p = logsumexp(log_w, axis=1) - np.log(n_chains)
    return RAISEResult(log_p, log_w, log_za)
