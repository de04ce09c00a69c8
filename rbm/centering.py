r"""Centred binary RBMs (Montavon & Müller 2012; Melchior, Fischer & Wiskott 2016).

A centred RBM subtracts offsets from both layers inside the energy,

.. math::

    E_\text{c}(\mathbf v, \mathbf h)
        = -(\mathbf v - \boldsymbol\mu)^\top W (\mathbf h - \boldsymbol\lambda)
        - \mathbf b^\top (\mathbf v - \boldsymbol\mu)
        - \mathbf c^\top (\mathbf h - \boldsymbol\lambda),

with :math:`\boldsymbol\mu` of shape (n_visible,) (the data mean) and
:math:`\boldsymbol\lambda` of shape (n_hidden,) (a running mean of
:math:`P(\mathbf h \mid \mathbf v)` on the data). Expanding the products shows it is an
ordinary RBM up to a constant,

.. math::

    W' = W, \qquad \mathbf b' = \mathbf b - W\boldsymbol\lambda, \qquad
    \mathbf c' = \mathbf c - W^\top\boldsymbol\mu,

so centring changes the *parametrisation*, hence the gradient steps, but
not the family of distributions. :func:`to_ordinary` converts, after which every
``rbm`` function (exact ``log_partition``, ``log_likelihood``, sampling) applies.

The parameters ``(W, b, c)`` taken by the functions of this module are the
*centred* ones, unless a name says otherwise.
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
from .core import _h_given_v, _softplus, _v_given_h
from .sampling import _gibbs
from .training import init_params, train

__all__ = [
    "centered_free_energy",
    "centered_gradient",
    "from_ordinary",
    "to_ordinary",
    "train_centered",
    "update_offsets",
]


def _check_offsets(mu, lam, W):
    mu = check_unit_interval(as_float_array(mu, "mu", ndim=1, dtype=W.dtype), "mu")
    lam = check_unit_interval(as_float_array(lam, "lam", ndim=1, dtype=W.dtype), "lam")
    if mu.shape != (W.shape[0],):
        raise ValueError(
            f"mu must have shape (n_visible,) = ({W.shape[0]},) to match W {W.shape}, "
            f"got {mu.shape}"
        )
    if lam.shape != (W.shape[1],):
        raise ValueError(
            f"lam must have shape (n_hidden,) = ({W.shape[1]},) to match W {W.shape}, "
            f"got {lam.shape}"
        )
    return mu, lam


def _check_rate(rate, name):
    rate = float(rate)
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"{name} must lie in [0, 1], got {rate!r}")
    return rate


def to_ordinary(W, b, c, mu, lam):
    r"""Convert centred parameters to the ordinary RBM with the same distribution.

    .. math::

        W' = W, \qquad \mathbf b' = \mathbf b - W\boldsymbol\lambda, \qquad
        \mathbf c' = \mathbf c - W^\top\boldsymbol\mu .

    Then :math:`E_\text{c}(\mathbf v, \mathbf h) = E'(\mathbf v, \mathbf h) + \text{const}`,
    with const :math:`= -\boldsymbol\mu^\top W\boldsymbol\lambda + \mathbf b^\top\boldsymbol\mu
    + \mathbf c^\top\boldsymbol\lambda`, so :math:`p(\mathbf v, \mathbf h)` is unchanged.

    Parameters
    ----------
    W : array_like, shape (n_visible, n_hidden)
    b : array_like, shape (n_visible,)
        Centred visible bias.
    c : array_like, shape (n_hidden,)
        Centred hidden bias.
    mu : array_like, shape (n_visible,)
        Visible offsets, in [0, 1].
    lam : array_like, shape (n_hidden,)
        Hidden offsets, in [0, 1].

    Returns
    -------
    W, b_ordinary, c_ordinary : ndarrays with the shapes of W, b, c
    """
    W, b, c = check_params(W, b, c)
    mu, lam = _check_offsets(mu, lam, W)
    return W.copy(), b - W @ lam, c - W.T @ mu


def from_ordinary(W, b, c, mu, lam):
    r"""Inverse of :func:`to_ordinary`: centred parameters for an ordinary RBM and given offsets.

    .. math::

        \mathbf b_\text{c} = \mathbf b + W\boldsymbol\lambda, \qquad
        \mathbf c_\text{c} = \mathbf c + W^\top\boldsymbol\mu .

    Parameters
    ----------
    W : array_like, shape (n_visible, n_hidden)
    b : array_like, shape (n_visible,)
        Ordinary visible bias.
    c : array_like, shape (n_hidden,)
        Ordinary hidden bias.
    mu : array_like, shape (n_visible,)
    lam : array_like, shape (n_hidden,)

    Returns
    -------
    W, b_centred, c_centred : ndarrays with the shapes of W, b, c
    """
    W, b, c = check_params(W, b, c)
    mu, lam = _check_offsets(mu, lam, W)
    return W.copy(), b + W @ lam, c + W.T @ mu


def centered_free_energy(v, W, b, c, mu, lam):
    r"""Free energy of a centred RBM, computed in the centred form.

    Summing out each :math:`h_j \in \{0, 1\}` with
    :math:`a_j = (\mathbf v - \boldsymbol\mu)^\top W_{\cdot j} + c_j`:

    .. math::

        F_\text{c}(\mathbf v) = -\mathbf b^\top(\mathbf v - \boldsymbol\mu)
            + \sum_j \big(\lambda_j a_j - \operatorname{softplus}(a_j)\big).

    It equals the ordinary free energy of :func:`to_ordinary`'s parameters up
    to an additive constant.

    Parameters
    ----------
    v : array_like, shape (n_samples, n_visible)
    W, b, c : centred parameters, shapes (n_visible, n_hidden), (n_visible,), (n_hidden,)
    mu : array_like, shape (n_visible,)
    lam : array_like, shape (n_hidden,)

    Returns
    -------
    ndarray, shape (n_samples,)
    """
    W, b, c = check_params(W, b, c)
    mu, lam = _check_offsets(mu, lam, W)
    v = check_visible(v, W)
    a = (v - mu) @ W + c
    return -(v - mu) @ b + (a @ lam) - _softplus(a).sum(axis=1)


def _centered_phase_difference(v_pos, ph_pos, v_neg, ph_neg, mu, lam):
    dv_pos, dv_neg = v_pos - mu, v_neg - mu
    dW = dv_pos.T @ (ph_pos - lam) / len(v_pos) - dv_neg.T @ (ph_neg - lam) / len(v_neg)
    db = v_pos.mean(axis=0) - v_neg.mean(axis=0)
    dc = ph_pos.mean(axis=0) - ph_neg.mean(axis=0)
    return dW, db, dc


def centered_gradient(v, W, b, c, mu, lam, k=1, rng=None, chain=None):
    r"""Centred CD-k / PCD-k estimate of the log-likelihood gradient in the centred parameters.

    .. math::

        \Delta W = \big\langle (\mathbf v - \boldsymbol\mu)
                   (P(\mathbf h\mid\mathbf v) - \boldsymbol\lambda)^\top\big\rangle_\text{data}
                 - \big\langle (\tilde{\mathbf v} - \boldsymbol\mu)
                   (P(\mathbf h\mid\tilde{\mathbf v}) - \boldsymbol\lambda)^\top\big\rangle,

    :math:`\Delta\mathbf b = \langle\mathbf v\rangle - \langle\tilde{\mathbf v}\rangle`,
    :math:`\Delta\mathbf c = \langle P(\mathbf h\mid\mathbf v)\rangle
    - \langle P(\mathbf h\mid\tilde{\mathbf v})\rangle`,
    where :math:`\tilde{\mathbf v}` is reached by ``k`` block-Gibbs steps from the
    data (CD-k, ``chain=None``) or from the persistent ``chain`` (PCD-k).
    The conditionals of the centred model are those of :func:`to_ordinary`'s
    model, e.g.
    :math:`P(h_j=1\mid\mathbf v) = \sigma((\mathbf v-\boldsymbol\mu)^\top W_{\cdot j} + c_j)`.

    In terms of the ordinary gradient :math:`(g_W, g_b, g_c)` of the same model
    (the same samples),
    :math:`\Delta W = g_W - g_b\boldsymbol\lambda^\top - \boldsymbol\mu g_c^\top`,
    :math:`\Delta\mathbf b = g_b`, :math:`\Delta\mathbf c = g_c`.

    Parameters
    ----------
    v : array_like, shape (n_samples, n_visible)
        A batch of training data in [0, 1].
    W, b, c : centred parameters, shapes (n_visible, n_hidden), (n_visible,), (n_hidden,)
    mu : array_like, shape (n_visible,)
    lam : array_like, shape (n_hidden,)
    k : int, default 1
    rng : int, numpy.random.Generator or None
    chain : array_like, shape (n_chains, n_visible), optional
        Persistent chains (PCD-k); CD-k when omitted.

    Returns
    -------
    (dW, db, dc) : tuple of ndarrays with the shapes of W, b, c
        Ascent direction for the *centred* parameters.
    new_chain : ndarray
        The negative-phase visible states (shape of ``chain``, or of ``v`` for CD-k):
        pass them back as ``chain`` for PCD.
    """
    W, b, c = check_params(W, b, c)
    mu, lam = _check_offsets(mu, lam, W)
    v = check_visible(v, W)
    start = v if chain is None else check_visible(chain, W, name="chain")
    k = check_positive_int(k, "k")
    return _centered_step(v, start, W, b, c, mu, lam, k, as_rng(rng))


def _centered_step(v, start, W, b, c, mu, lam, k, rng):
    b_o, c_o = b - W @ lam, c - W.T @ mu
    ph = _h_given_v(v, W, c_o)
    v_neg = _gibbs(start, W, b_o, c_o, k, rng)
    ph_neg = _h_given_v(v_neg, W, c_o)
    return _centered_phase_difference(v, ph, v_neg, ph_neg, mu, lam), v_neg


def update_offsets(W, b, c, mu, lam, new_mu, new_lam, rate=0.01):
    r"""Move the offsets towards new values by a sliding average, keeping the distribution.

    .. math::

        \boldsymbol\mu \leftarrow (1 - \nu_\mu)\,\boldsymbol\mu
            + \nu_\mu\,\boldsymbol\mu_\text{new},
        \qquad
        \boldsymbol\lambda \leftarrow (1 - \nu_\lambda)\,\boldsymbol\lambda
            + \nu_\lambda\,\boldsymbol\lambda_\text{new},

    then re-parametrise the biases so that the ordinary model (:func:`to_ordinary`)
    is unchanged: :math:`\mathbf b \leftarrow \mathbf b + W\,\Delta\boldsymbol\lambda`,
    :math:`\mathbf c \leftarrow \mathbf c + W^\top\Delta\boldsymbol\mu`.

    Parameters
    ----------
    W, b, c : centred parameters
    mu, lam : current offsets, shapes (n_visible,), (n_hidden,)
    new_mu, new_lam : targets, same shapes (e.g. batch means of ``v`` and of P(h | v))
    rate : float or (float, float), default 0.01
        Sliding factor :math:`\nu` in [0, 1], one for both layers or
        ``(nu_mu, nu_lambda)``. 0 keeps the offsets.

    Returns
    -------
    b, c, mu, lam : the new centred biases and offsets
    """
    W, b, c = check_params(W, b, c)
    mu, lam = _check_offsets(mu, lam, W)
    new_mu, new_lam = _check_offsets(new_mu, new_lam, W)
    nu_mu, nu_lam = (rate, rate) if np.ndim(rate) == 0 else tuple(rate)
    nu_mu, nu_lam = _check_rate(nu_mu, "rate"), _check_rate(nu_lam, "rate")
    return _update_offsets(W, b, c, mu, lam, new_mu, new_lam, nu_mu, nu_lam)


def _update_offsets(W, b, c, mu, lam, new_mu, new_lam, nu_mu, nu_lam):
    d_mu = nu_mu * (new_mu - mu)
    d_lam = nu_lam * (new_lam - lam)
    return b + W @ d_lam, c + W.T @ d_mu, mu + d_mu, lam + d_lam


def train_centered(
    X,
    n_hidden=16,
    learning_rate=0.01,
    batch_size=100,
    n_epochs=10,
    k=1,
    persistent=True,
    centered=True,
    offset_rate=0.01,
    init="xavier",
    visible_bias_init="zeros",
    shuffle=True,
    params=None,
    chains=None,
    offsets_first=False,
    random_state=None,
    callback=None,
):
    r"""Train a (centred) binary RBM with CD-k or PCD-k and plain gradient ascent.

    The loop is :func:`rbm.training.train` on the *centred* parameters, with
    the centring plugged in as its gradient: each mini-batch takes the centred
    gradient (:func:`centered_gradient`) from the current offsets, the loop
    steps :math:`\theta \leftarrow \theta + \eta\,\Delta\theta`, then
    :func:`update_offsets` moves the offsets towards the batch's data means
    :math:`\langle\mathbf v\rangle` and
    :math:`\langle P(\mathbf h\mid\mathbf v)\rangle` (before the step) with
    sliding factor ``offset_rate``. The offsets start at
    :math:`\boldsymbol\mu` = mean of ``X`` and :math:`\boldsymbol\lambda = 0.5`.

    With ``centered=False`` the offsets are fixed at zero and this is ordinary
    CD-k / PCD-k with the same initialisation and batches, for comparisons.

    With ``offsets_first=True`` the order within a mini-batch is that of PyDeep
    (Melchior 2017, ``trainer.CD._train`` with ``use_centered_gradient=False``):
    the offsets move first (the same targets, the biases re-parametrised with
    the weights before the step), and the gradient is then centred on the
    *moved* offsets. The samples are the same either way, since moving the
    offsets leaves the distribution unchanged; only the offsets that centre
    the gradient differ, by a fraction ``offset_rate`` of their distance to
    the batch means.

    Parameters
    ----------
    X : array_like, shape (n_samples, n_visible)
        Training data in [0, 1].
    n_hidden, learning_rate, batch_size, n_epochs, k, persistent, init,
    visible_bias_init, shuffle, random_state
        As in :class:`rbm.RBM`. ``persistent=True`` keeps ``batch_size`` chains
        (PCD), started at Bernoulli(1/2) states; the initial model is ordinary
        (:func:`rbm.training.init_params`), converted to centred form, so both
        variants start from the same distribution.
    centered : bool, default True
    params : (W, b, c), optional
        Initial *centred* parameters, with respect to the initial offsets,
        instead of :func:`rbm.training.init_params`'s model; copied. With
        ``centered=True`` the two variants then start from different
        distributions (PyDeep's protocol: the same ``(W, b, c)`` for both).
    chains : ndarray, shape (n_chains, n_visible), optional
        Initial persistent chains (copied) instead of ``batch_size``
        Bernoulli(1/2) states; ``persistent=True`` only.
    offsets_first : bool, default False
        Move the offsets before the gradient instead of after the step (see above).
    offset_rate : float in [0, 1], default 0.01
        Sliding factor :math:`\nu` of the offsets.
    callback : callable, optional
        ``callback(epoch, W, b, c)`` after each epoch, with the *ordinary*
        parameters; its return value (any JSON-able value) is stored in
        ``history["callback"]``.

    Returns
    -------
    W, b, c : ndarrays, the learned model in ordinary form
    history : dict of equal-length lists: "epoch", "reconstruction_error",
        "time", "callback"; and "mu", "lam" (final offsets).
    """
    X = as_float_array(X, "X", ndim=2)
    check_unit_interval(X, "X")
    n_hidden = check_positive_int(n_hidden, "n_hidden")
    batch_size = check_positive_int(batch_size, "batch_size")
    n_epochs = check_positive_int(n_epochs, "n_epochs", minimum=0)
    k = check_positive_int(k, "k")
    if not float(learning_rate) > 0:
        raise ValueError(f"learning_rate must be > 0, got {learning_rate!r}")
    nu = _check_rate(offset_rate, "offset_rate") if centered else 0.0
    if chains is not None and not persistent:
        raise ValueError("chains needs persistent=True")
    rng = as_rng(random_state)
    dtype = X.dtype
    if params is None:
        W, b_o, c_o = init_params(X, n_hidden, init, visible_bias_init, rng)
    else:
        W, _, _ = check_params(*params)
        if W.shape != (X.shape[1], n_hidden):
            raise ValueError(
                f"params must have W of shape (n_visible, n_hidden) = "
                f"({X.shape[1]}, {n_hidden}), got {W.shape}"
            )
    if chains is not None:
        chains = check_visible(chains, W, name="chains")
    if centered:
        mu = X.mean(axis=0).astype(dtype)
        lam = np.full(n_hidden, 0.5, dtype=dtype)
    else:
        mu = np.zeros(X.shape[1], dtype=dtype)
        lam = np.zeros(n_hidden, dtype=dtype)
    if params is None:  # the ordinary initial model, in centred form
        params = (W, b_o + W @ lam, c_o + W.T @ mu)
    offsets = {"mu": mu, "lam": lam}
    targets = {}

    def gradient(v, chain, W, b, c, k, rng):
        if nu > 0:  # the offsets' targets: this batch's data means, before the step
            targets["mu"] = v.mean(axis=0)
            targets["lam"] = _h_given_v(v, W, c - W.T @ offsets["mu"]).mean(axis=0)
            if offsets_first:
                b[...], c[...], offsets["mu"], offsets["lam"] = _update_offsets(
                    W, b, c, offsets["mu"], offsets["lam"], targets["mu"], targets["lam"], nu, nu
                )
        start = v if chain is None else chain
        grads, v_neg = _centered_step(v, start, W, b, c, offsets["mu"], offsets["lam"], k, rng)
        return grads, (None if chain is None else v_neg)

    def move_offsets(step, W, b, c):
        if nu > 0 and not offsets_first:
            b[...], c[...], offsets["mu"], offsets["lam"] = _update_offsets(
                W, b, c, offsets["mu"], offsets["lam"], targets["mu"], targets["lam"], nu, nu
            )

    def ordinary(W, b, c):
        return W, b - W @ offsets["lam"], c - W.T @ offsets["mu"]

    def monitor(epoch, W, b, c):
        W_o, b_o, c_o = ordinary(W, b, c)
        # mean-field reconstruction error on (at most) the first 1000 rows
        x = X[:1000]
        err = float(((x - _v_given_h(_h_given_v(x, W_o, c_o), W_o, b_o)) ** 2).sum(axis=1).mean())
        return err, None if callback is None else callback(epoch, W_o, b_o, c_o)

    W, b, c, trained = train(
        X,
        n_hidden,
        n_epochs=n_epochs,
        k=k,
        persistent=persistent,
        n_chains=min(batch_size, len(X)),
        chain_start="uniform",
        learning_rate=learning_rate,
        batch_size=batch_size,
        shuffle=shuffle,
        params=params,
        chains=chains,
        gradient=gradient,
        on_update=move_offsets,
        callback=monitor,
        rng=rng,
    )
    history = {
        "epoch": trained["epoch"],
        "reconstruction_error": [err for err, _ in trained["callback"]],
        "time": trained["time"],
        "callback": [value for _, value in trained["callback"]],
        "mu": offsets["mu"].tolist(),
        "lam": offsets["lam"].tolist(),
    }
    return (*ordinary(W, b, c), history)
