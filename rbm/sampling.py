"""Block Gibbs sampling and the contrastive-divergence gradient estimates."""

from __future__ import annotations

from ._random import _draw_key, _uniforms
from ._validation import (
    as_float_array,
    as_rng,
    check_params,
    check_positive_int,
    check_unit_interval,
    check_visible,
)
from .core import _h_given_v, _v_given_h

__all__ = ["cd_k", "gibbs", "pcd_k", "phase_difference", "sample_bernoulli"]


def _sample_bernoulli(p, rng):
    # One key from rng, then one counter-based uniform per unit in p's dtype:
    # cheap to draw (a few integer operations), and a compiled kernel
    # (rbm._fast) reproduces it exactly, fused with the sigmoid.
    return (_uniforms(_draw_key(rng), p.shape, p.dtype) < p).astype(p.dtype)


def _gibbs_chain(v, W, b, c, k, rng):
    """Run k block-Gibbs steps v -> h -> v from ``v``.

    Returns the last visible sample and E[h | v] at that sample, which is
    what the negative phase of CD-k and PCD-k needs.
    """
    for _ in range(k):
        h = _sample_bernoulli(_h_given_v(v, W, c), rng)
        v = _sample_bernoulli(_v_given_h(h, W, b), rng)
    return v, _h_given_v(v, W, c)


def _gibbs(v, W, b, c, k, rng):
    """:func:`gibbs` for checked arrays: the visible states after ``k`` steps."""
    return _gibbs_chain(v, W, b, c, k, rng)[0]


def _phase_difference(v_pos, ph_pos, v_neg, ph_neg):
    """Batch means of v h^T, v and h: positive statistics minus negative ones."""
    dW = v_pos.T @ ph_pos / len(v_pos) - v_neg.T @ ph_neg / len(v_neg)
    db = v_pos.mean(axis=0) - v_neg.mean(axis=0)
    dc = ph_pos.mean(axis=0) - ph_neg.mean(axis=0)
    return dW, db, dc


def phase_difference(v_pos, ph_pos, v_neg, ph_neg):
    r"""Positive statistics minus negative ones: the body of every CD-style estimate.

    .. math::

        \Delta W = \langle \mathbf v\, \mathbb E[\mathbf h \mid \mathbf v]^\top \rangle_\text{pos}
                 - \langle \mathbf v\, \mathbb E[\mathbf h \mid \mathbf v]^\top \rangle_\text{neg},
        \quad
        \Delta \mathbf b = \langle \mathbf v \rangle_\text{pos}
                         - \langle \mathbf v \rangle_\text{neg},
        \quad
        \Delta \mathbf c = \langle \mathbb E[\mathbf h \mid \mathbf v] \rangle_\text{pos}
                         - \langle \mathbb E[\mathbf h \mid \mathbf v] \rangle_\text{neg},

    each :math:`\langle\cdot\rangle` a mean over its rows. :func:`cd_k` and
    :func:`pcd_k` (and :func:`rbm.pt_gradient`) differ only in where the
    negative states come from.

    Parameters
    ----------
    v_pos : array_like, shape (n_pos, n_visible)
        The data.
    ph_pos : array_like, shape (n_pos, n_hidden)
        E[h | v_pos].
    v_neg : array_like, shape (n_neg, n_visible)
        The chains' visible states.
    ph_neg : array_like, shape (n_neg, n_hidden)
        E[h | v_neg].

    Returns
    -------
    dW : ndarray, shape (n_visible, n_hidden)
    db : ndarray, shape (n_visible,)
    dc : ndarray, shape (n_hidden,)
    """
    arrays = []
    for name, x in (("v_pos", v_pos), ("ph_pos", ph_pos), ("v_neg", v_neg), ("ph_neg", ph_neg)):
        arrays.append(check_unit_interval(as_float_array(x, name, ndim=2), name))
    v_pos, ph_pos, v_neg, ph_neg = arrays
    for (a, b), (na, nb) in (
        ((v_pos, ph_pos), ("v_pos", "ph_pos")),
        ((v_neg, ph_neg), ("v_neg", "ph_neg")),
    ):
        if len(a) != len(b):
            raise ValueError(f"{na} and {nb} must have as many rows, got {len(a)} and {len(b)}")
    if v_pos.shape[1] != v_neg.shape[1] or ph_pos.shape[1] != ph_neg.shape[1]:
        raise ValueError(
            "the positive and negative arrays must have the same widths, got "
            f"{v_pos.shape[1]}/{v_neg.shape[1]} visible and {ph_pos.shape[1]}/{ph_neg.shape[1]} "
            "hidden units"
        )
    return _phase_difference(v_pos, ph_pos, v_neg, ph_neg)


def sample_bernoulli(p, rng=None):
    r"""Draw independent binary samples :math:`x \sim \text{Bernoulli}(p)`, elementwise.

    Each :math:`x_i` is 1 when :math:`u_i < p_i` for a uniform :math:`u_i` on
    [0, 1). The uniforms are counter-based: one 64-bit key is drawn from
    ``rng``, and :math:`u_i` is the top 24 (float32) or 53 (float64) bits of
    SplitMix64's output :math:`i + 1` from that key. So a whole batch costs one
    draw from ``rng`` and a few integer operations per unit, and a compiled
    loop can compute any :math:`u_i` on its own (see ``rbm/_random.py``).

    Parameters
    ----------
    p : array_like
        Probabilities in [0, 1], any shape. float32 is kept, other types become float64.
    rng : int, numpy.random.Generator or None
        Source of randomness: one raw 64-bit output is taken from it per call.

    Returns
    -------
    ndarray of 0.0 and 1.0, same shape and dtype as ``p``.
    """
    p = check_unit_interval(as_float_array(p, "p"), "p")
    return _sample_bernoulli(p, as_rng(rng))


def gibbs(v, W, b, c, k=1, rng=None):
    r"""Run ``k`` full steps of block Gibbs sampling.

    One step is :math:`\mathbf h \sim p(\mathbf h \mid \mathbf v)`, then
    :math:`\mathbf v \sim p(\mathbf v \mid \mathbf h)`, with
    :math:`p(h_j = 1 \mid \mathbf v) = \sigma(c_j + \sum_i v_i w_{ij})` and
    :math:`p(v_i = 1 \mid \mathbf h) = \sigma(b_i + \sum_j w_{ij} h_j)`.

    Within a step all hidden units are sampled at once (they are independent
    given :math:`\mathbf v`), then all visible units (independent given
    :math:`\mathbf h`). Every state the chain visits is a binary sample.

    Parameters
    ----------
    v : array_like, shape (n_samples, n_visible)
        Start states, one chain per row (binary, or probabilities in [0, 1]).
    W : array_like, shape (n_visible, n_hidden)
    b : array_like, shape (n_visible,)
    c : array_like, shape (n_hidden,)
    k : int, default 1
        Number of full steps.
    rng : int, numpy.random.Generator or None

    Returns
    -------
    ndarray, shape (n_samples, n_visible)
        Binary visible states after ``k`` steps.
    """
    W, b, c = check_params(W, b, c)
    v = check_visible(v, W)
    k = check_positive_int(k, "k")
    return _gibbs(v, W, b, c, k, as_rng(rng))


def cd_k(v, W, b, c, k=1, rng=None):
    r"""Contrastive divergence CD-k: an estimate of the log-likelihood's ascent direction.

    .. math::

        \Delta W = \langle \mathbf v\, \mathbb E[\mathbf h \mid \mathbf v]^\top \rangle_\text{data}
                 - \langle \mathbf v^{(k)} \mathbb E[\mathbf h \mid \mathbf v^{(k)}]^\top \rangle,
        \quad
        \Delta \mathbf b = \langle \mathbf v \rangle - \langle \mathbf v^{(k)} \rangle,
        \quad
        \Delta \mathbf c = \langle \mathbb E[\mathbf h \mid \mathbf v] \rangle
                         - \langle \mathbb E[\mathbf h \mid \mathbf v^{(k)}] \rangle,

    where :math:`\langle\cdot\rangle` is the mean over the batch and
    :math:`\mathbf v^{(k)}` is reached by ``k`` Gibbs steps (:func:`gibbs`) started
    at the data, one chain per row.

    For finite ``k`` this is a biased estimate of the gradient of the mean
    log-likelihood (:func:`rbm.log_likelihood_gradient`): the chains start at the
    data and have not yet reached the model's distribution. The bias shrinks as
    ``k`` grows, slowly when the chain mixes slowly (e.g. between well separated modes).

    Which quantities are samples and which are probabilities:

    - positive phase: the data ``v`` as given, and the *probabilities* E[h | v];
    - the chain itself is driven by *sampled* binary h and v;
    - negative phase: the *sampled* visible state v^(k), and the *probabilities*
      E[h | v^(k)] (using probabilities there lowers the variance at no cost).

    Parameters
    ----------
    v : array_like, shape (n_samples, n_visible)
        A batch of training data in [0, 1].
    W : array_like, shape (n_visible, n_hidden)
    b : array_like, shape (n_visible,)
    c : array_like, shape (n_hidden,)
    k : int, default 1
        Number of Gibbs steps in the negative phase.
    rng : int, numpy.random.Generator or None

    Returns
    -------
    dW : ndarray, shape (n_visible, n_hidden)
    db : ndarray, shape (n_visible,)
    dc : ndarray, shape (n_hidden,)
        Add ``learning_rate * (dW, db, dc)`` to ``(W, b, c)`` to climb the likelihood.
    """
    W, b, c = check_params(W, b, c)
    v = check_visible(v, W)
    k = check_positive_int(k, "k")
    ph = _h_given_v(v, W, c)
    v_neg, ph_neg = _gibbs_chain(v, W, b, c, k, as_rng(rng))
    return _phase_difference(v, ph, v_neg, ph_neg)


def pcd_k(v, chain, W, b, c, k=1, rng=None):
    r"""Persistent contrastive divergence PCD-k (Tieleman 2008).

    The positive phase is that of :func:`cd_k`. The negative phase does not
    restart at the data: it advances ``chain``, a set of persistent Gibbs chains
    carried over from the previous update, by ``k`` steps, and uses their new
    visible states (sampled) and E[h | chain] (probabilities).

    Parameters
    ----------
    v : array_like, shape (n_samples, n_visible)
        A batch of training data in [0, 1].
    chain : array_like, shape (n_chains, n_visible)
        Visible states of the persistent chains; ``n_chains`` may differ from ``n_samples``.
    W : array_like, shape (n_visible, n_hidden)
    b : array_like, shape (n_visible,)
    c : array_like, shape (n_hidden,)
    k : int, default 1
        Gibbs steps each chain advances per call.
    rng : int, numpy.random.Generator or None

    Returns
    -------
    (dW, db, dc) : tuple of ndarrays with the shapes of W, b, c
        The PCD-k estimate of the ascent direction.
    new_chain : ndarray, shape (n_chains, n_visible)
        The chains' visible states after ``k`` steps: pass them to the next call.
    """
    W, b, c = check_params(W, b, c)
    v = check_visible(v, W)
    chain = check_visible(chain, W, name="chain")
    k = check_positive_int(k, "k")
    ph = _h_given_v(v, W, c)
    new_chain, ph_neg = _gibbs_chain(chain, W, b, c, k, as_rng(rng))
    return _phase_difference(v, ph, new_chain, ph_neg), new_chain
