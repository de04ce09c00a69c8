"""The :class:`RBM` estimator: a binary RBM trained by CD-k or PCD-k, a scikit-learn estimator.

It is built on scikit-learn's base classes (``BaseEstimator``,
``TransformerMixin``, ``ClassNamePrefixFeaturesOutMixin``): parameters are
declared in ``_parameter_constraints`` and checked in :meth:`RBM.fit`; input goes
through ``validate_data`` (dense or sparse, feature names, widths), and
``get_params``, ``set_params``, the repr, the HTML repr, ``set_output`` and
``get_feature_names_out`` are scikit-learn's. What is the model's own: the
[0, 1] check of the data (with a rounding tolerance, :data:`UNIT_TOLERANCE`),
training through :mod:`rbm._fast`, and sparse products.
"""

from __future__ import annotations

import numbers
import os
import sys

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _fast, _sparse
from ._random import _random_units
from ._validation import (
    UNIT_TOLERANCE,
    as_rng,
    check_positive_int,
    clip_unit_interval,
    generator_from_random_state,
)
from .core import _free_energy, _h_given_v, _sigmoid, _softplus, _v_given_h
from .io import HISTORY_KEYS, load_rbm, save_rbm
from .sampling import gibbs, sample_bernoulli
from .training import (
    INITS,
    MAX_ABS_WEIGHT,
    VISIBLE_BIAS_INITS,
    init_chains,
    init_params,
)

__all__ = ["RBM", "UNIT_TOLERANCE", "NotFittedError"]


def _progress_enabled(verbose) -> bool:
    """Show a progress bar only where someone watches it.

    ``RBM_PROGRESS=1`` forces it on and ``RBM_PROGRESS=0`` off. Otherwise it
    shows when ``verbose`` is true, ``CI`` is not set, and stderr is a terminal
    or the code runs in a Jupyter kernel.
    """
    if not verbose:
        return False
    forced = os.environ.get("RBM_PROGRESS")
    if forced is not None:
        return forced.strip() not in ("", "0", "false", "False")
    if os.environ.get("CI"):
        return False
    try:
        if sys.stderr is not None and sys.stderr.isatty():
            return True
    except (AttributeError, ValueError):
        pass
    return "ipykernel" in sys.modules


class RBM(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    r"""Binary restricted Boltzmann machine trained by contrastive divergence.

    The model is :math:`p(\mathbf v) = e^{-F(\mathbf v)} / Z` with free energy
    :math:`F(\mathbf v) = -\mathbf b^\top \mathbf v - \sum_j
    \operatorname{softplus}(\mathbf v^\top W_{\cdot j} + c_j)`. Each mini-batch
    moves the parameters along the CD-k estimate of the log-likelihood gradient
    (:func:`rbm.cd_k`), or PCD-k (:func:`rbm.pcd_k`) with ``persistent=True``:

    .. math::

        \Delta W = \eta\,\big(\langle \mathbf v P(\mathbf h\mid\mathbf v)^\top\rangle_\text{data}
            - \langle \mathbf v^{(k)} P(\mathbf h\mid\mathbf v^{(k)})^\top\rangle\big)
            - \eta\lambda W,

    with momentum :math:`\mu` applied to the update when it is non-zero.

    Parameters
    ----------
    n_hidden : int, default 64
        Number of hidden units.
    learning_rate : float, default 0.1
        Step size :math:`\eta` (the gradient is a mean over the batch).
    batch_size : int, default 64
    n_epochs : int, default 10
        Passes over the data made by :meth:`fit`.
    k : int, default 1
        Gibbs steps per update.
    persistent : bool, default False
        PCD-k (chains carried across updates, ``batch_size`` of them) instead of CD-k.
    momentum : float in [0, 1), default 0.0
    weight_decay : float >= 0, default 0.0
        L2 penalty :math:`\lambda` on ``W``.
    init : {"xavier", "normal"}, default "xavier"
        ``W`` uniform in :math:`\pm\sqrt{6 / (n_\text{visible} + n_\text{hidden})}`
        (the source article), or :math:`\mathcal N(0, 0.01^2)` (Hinton 2010).
    visible_bias_init : {"zeros", "marginals"}, default "zeros"
        ``b`` at 0, or at :math:`\log(p_i / (1 - p_i))` of the training marginals,
        :math:`p_i` clipped to [1e-3, 1 - 1e-3]. ``c`` always starts at 0.
    shuffle : bool, default True
        Visit the data in a new random order each epoch.
    batch_split : {"fixed", "array_split"}, default "fixed"
        "fixed": batches of ``batch_size`` rows, the last one smaller;
        "array_split": ``np.array_split(X, ceil(n / batch_size))``, as the
        source article did (70,000 rows give 1,094 batches of 64 or 63).
    dtype : {"float32", "float64"}, default "float32"
    random_state : int, numpy.random.RandomState, numpy.random.Generator or None
        Seeds training, and the methods that sample when not given an ``rng``;
        with an int, each such call starts afresh from it, so repeats exactly.
    verbose : bool, default False
        Show a progress bar (tqdm) over epochs, but only in a terminal or a
        Jupyter kernel and not when ``CI`` is set; ``RBM_PROGRESS=1`` or ``0``
        forces it on or off.

    Attributes
    ----------
    W_ : ndarray, shape (n_visible, n_hidden)
    b_ : ndarray, shape (n_visible,)
    c_ : ndarray, shape (n_hidden,)
    n_features_in_ : int
        n_visible.
    feature_names_in_ : ndarray of str
        Column names of a DataFrame given to ``fit``, checked by the other methods.
    history_ : dict of lists
        One entry per epoch: "epoch" (counted from 0), "pseudo_likelihood" (mean
        over the batches of n_visible times the batch's mean
        :math:`\log\sigma(F(\tilde{\mathbf v}) - F(\mathbf v))`, one random unit
        flipped per row, with the parameters as they were before the batch's
        update), "pseudo_likelihood_article_scale" (the same with the batch
        size in place of n_visible, as the source article computed it),
        "reconstruction_error" (mean squared error of :math:`P(\mathbf v \mid
        \mathbf h)`, :math:`\mathbf h \sim P(\mathbf h \mid \mathbf v)`), and
        "time" (seconds).
    chains_ : ndarray, shape (batch_size, n_visible), or None
        With ``persistent=True``: the persistent chains' visible states after
        the last update (they start at the first rows of the data).
    velocity_ : (ndarray, ndarray, ndarray) or None
        With ``momentum``: the last update of ``W_``, ``b_``, ``c_``.

    Raises
    ------
    FloatingPointError
        From :meth:`fit` and :meth:`partial_fit` when training diverges: a
        statistic or a parameter becomes non-finite, :math:`|w_{ij}|` exceeds
        1e4, or the epoch's pseudo-likelihood falls below
        :math:`n_\text{visible} \log(1/4)`, twice as bad per unit (on geometric
        average) as the coin flips of an untrained model, :math:`\log(1/2)`; this
        is what a too-large learning rate does, saturating every unit. The
        parameters are restored to the last good ones (those at the start of
        the failing epoch), and ``history_`` ends with the failing epoch,
        whose statistics show what happened.

    Notes
    -----
    Unlike scikit-learn's ``BernoulliRBM``, by design: data outside [0, 1] (beyond
    :data:`UNIT_TOLERANCE`, which is clipped) is refused, since it is no
    probability; the output's dtype is ``dtype``'s, not the input's; with an int
    ``random_state``, :meth:`gibbs` repeats on each call as :meth:`score_samples`
    does; ``verbose`` shows a progress bar. :meth:`score` is the mean pseudo-likelihood.
    """

    _parameter_constraints: dict = {  # noqa: RUF012 (scikit-learn's convention)
        "n_hidden": [Interval(numbers.Integral, 1, None, closed="left")],
        "learning_rate": [Interval(numbers.Real, 0, np.inf, closed="neither")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "k": [Interval(numbers.Integral, 1, None, closed="left")],
        "persistent": ["boolean"],
        "momentum": [Interval(numbers.Real, 0, 1, closed="left")],
        "weight_decay": [Interval(numbers.Real, 0, np.inf, closed="left")],
        "init": [StrOptions(set(INITS))],
        "visible_bias_init": [StrOptions(set(VISIBLE_BIAS_INITS))],
        "shuffle": ["boolean"],
        "batch_split": [StrOptions({"fixed", "array_split"})],
        "dtype": [StrOptions({"float32", "float64"})],
        "random_state": ["random_state", np.random.Generator],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        n_hidden=64,
        learning_rate=0.1,
        batch_size=64,
        n_epochs=10,
        k=1,
        persistent=False,
        momentum=0.0,
        weight_decay=0.0,
        init="xavier",
        visible_bias_init="zeros",
        shuffle=True,
        batch_split="fixed",
        dtype="float32",
        random_state=None,
        verbose=False,
    ):
        self.n_hidden = n_hidden
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.n_epochs = n_epochs
        self.k = k
        self.persistent = persistent
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.init = init
        self.visible_bias_init = visible_bias_init
        self.shuffle = shuffle
        self.batch_split = batch_split
        self.dtype = dtype
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.input_tags.positive_only = True
        # the output's dtype is the ``dtype`` parameter's, whatever the input's
        tags.transformer_tags.preserves_dtype = [self.dtype]
        # with an int seed, fit and every method that samples repeat exactly
        tags.non_deterministic = not isinstance(self.random_state, numbers.Integral)
        return tags

    @property
    def _n_features_out(self):
        """Number of transformed features (n_hidden), for ``get_feature_names_out``."""
        return self.W_.shape[1]

    def _check_X(self, X, name="X", reset=False):
        """``X`` as a float array (CSR if sparse) in [0, 1], its width checked against the fit."""
        if not reset:
            check_is_fitted(self, "W_")
        X = validate_data(
            self,
            X,
            reset=reset,
            accept_sparse="csr",
            dtype=np.dtype(self.dtype) if reset else self.W_.dtype,
        )
        return clip_unit_interval(X, name)

    def _method_rng(self, rng):
        """An explicit ``rng``; else from ``random_state`` afresh (an int repeats on each call)."""
        return as_rng(rng) if rng is not None else generator_from_random_state(self.random_state)

    def _check_state(self):
        """Fitted arrays must agree with the hyper-parameters (after set_params or load)."""
        if self.W_.shape[1] != self.n_hidden:
            raise ValueError(
                f"n_hidden = {self.n_hidden} but the fitted W_ has {self.W_.shape[1]} "
                "hidden units; call fit to start again"
            )

    # ------------------------------------------------------------------ training

    def _epoch(self, X, rng):
        # the momentum's velocity and the PCD chains start (again) with the
        # first epoch that needs them, and are dropped when the settings drop them
        if not self.momentum:
            self.velocity_ = None
        elif self.velocity_ is None:
            self.velocity_ = tuple(np.zeros_like(p) for p in (self.W_, self.b_, self.c_))
        if not self.persistent:
            self.chains_ = None
        elif self.chains_ is None:  # the chains start at the first rows of the data
            self.chains_ = init_chains(
                _sparse.dense(X[: self.batch_size]), self.batch_size, "data"
            )
        model = _fast.Model(self.W_, self.b_, self.c_, self.velocity_, self.chains_)
        # everything the epoch changes, to restore if it diverges
        state = [self.W_, self.b_, self.c_, *(model.velocity or ()), model.chain]
        saved = [None if p is None else p.copy() for p in state]
        update = _fast.Update(
            k=self.k,
            learning_rate=float(self.learning_rate),
            momentum=float(self.momentum),
            weight_decay=float(self.weight_decay),
        )
        stats = _fast.train_epoch(
            X,
            model,
            update,
            batch_size=self.batch_size,
            batch_split=self.batch_split,
            shuffle=bool(self.shuffle),
            rng=rng,
        )
        epoch = self.history_["epoch"][-1] + 1 if self.history_["epoch"] else 0
        self.history_["epoch"].append(epoch)
        for key in HISTORY_KEYS[1:]:
            self.history_[key].append(float(stats[key]))
        if stats["diverged"]:
            for p, s in zip(state, saved, strict=True):
                if p is not None:
                    p[...] = s
            raise FloatingPointError(
                f"training diverged in epoch {epoch} (learning_rate={self.learning_rate!r}): "
                "the weights, the pseudo-likelihood or the reconstruction error became "
                f"non-finite, |W| exceeded {MAX_ABS_WEIGHT:g}, or the pseudo-likelihood "
                f"({stats['pseudo_likelihood']:.4g}) fell below n_visible * log(1/4), far "
                "below the untrained model's n_visible * log(1/2). The parameters were restored "
                "to those at the start of that epoch, and history_ records the failing epoch. "
                "Try a smaller learning_rate (e.g. 10 times smaller)."
            )
        return stats

    def _start(self, X, rng):
        self.W_, self.b_, self.c_ = init_params(
            X, self.n_hidden, self.init, self.visible_bias_init, rng, dtype=self.dtype
        )
        self.history_ = {key: [] for key in HISTORY_KEYS}
        self.velocity_ = None
        self.chains_ = None

    def _validate_for_fit(self, X):
        """Check ``X`` for a new fit; on failure, the earlier fit (if any) is left as it was."""
        names = ("n_features_in_", "feature_names_in_")
        kept = {k: v for k, v in vars(self).items() if k in names}
        try:
            return self._check_X(X, reset=True)
        except Exception:
            for key in names:
                vars(self).pop(key, None)
            vars(self).update(kept)
            raise

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Initialise the parameters and train for ``n_epochs`` epochs on ``X``.

        ``X`` is checked before anything is changed: if it is refused, an
        earlier fit is left untouched.

        Parameters
        ----------
        X : {array-like, sparse matrix}, shape (n_samples, n_visible)
            Binary data or probabilities in [0, 1] (e.g. grey levels / 255). A
            sparse matrix is trained on one dense mini-batch at a time.
        y : ignored

        Returns
        -------
        self (``FloatingPointError`` if training diverges: see the class docstring)
        """
        X = self._validate_for_fit(X)
        rng = self._rng = generator_from_random_state(self.random_state)
        self._start(X, rng)
        progress = None
        if _progress_enabled(self.verbose):
            from tqdm.auto import tqdm

            progress = tqdm(total=self.n_epochs, desc="RBM", unit="epoch")
        try:
            for _ in range(self.n_epochs):
                stats = self._epoch(X, rng)
                if progress is not None:
                    progress.set_postfix(pl=f"{stats['pseudo_likelihood']:.2f}")
                    progress.update()
        finally:
            if progress is not None:
                progress.close()
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """One epoch over ``X`` (the parameters are initialised on the first call).

        Successive calls draw from one generator, seeded from ``random_state``
        at the first call (or at ``fit``).

        Parameters
        ----------
        X : {array-like, sparse matrix}, shape (n_samples, n_visible)
        y : ignored

        Returns
        -------
        self
        """
        first = not hasattr(self, "W_")
        X = self._validate_for_fit(X) if first else self._check_X(X)
        if getattr(self, "_rng", None) is None:
            self._rng = generator_from_random_state(self.random_state)
        if first:
            self._start(X, self._rng)
        else:
            self._check_state()
        self._epoch(X, self._rng)
        return self

    # ------------------------------------------------------------------ inference

    def transform(self, X):
        r"""Hidden probabilities, :math:`P(h_j = 1 \mid \mathbf v)`.

        .. math::

            P(h_j = 1 \mid \mathbf v) = \sigma(\mathbf v^\top W_{\cdot j} + c_j)

        Parameters
        ----------
        X : {array-like, sparse matrix}, shape (n_samples, n_visible)

        Returns
        -------
        ndarray, shape (n_samples, n_hidden)
        """
        return _h_given_v(self._check_X(X), self.W_, self.c_)

    def free_energy(self, X):
        r"""Free energy :math:`F(\mathbf v)` of each row (see :func:`rbm.free_energy`).

        Returns
        -------
        ndarray, shape (n_samples,)
        """
        return np.asarray(_free_energy(self._check_X(X), self.W_, self.b_, self.c_)).ravel()

    def log_likelihood(self, X, method="exact", **ais_kwargs):
        r"""Mean log-likelihood :math:`\frac1n \sum_t \log p(\mathbf v_t)`, in nats.

        :math:`\log p(\mathbf v) = -F(\mathbf v) - \log Z`, with log Z exact or from AIS.

        Parameters
        ----------
        X : {array-like, sparse matrix}, shape (n_samples, n_visible)
            Binary data for a proper log-probability (a sparse matrix is made dense).
        method : {"exact", "ais"}, default "exact"
            "exact": log Z by enumeration (:func:`rbm.log_partition`; needs
            min(n_visible, n_hidden) <= 24). "ais": log Z by annealed importance
            sampling (:func:`rbm.ais.log_likelihood_ais`), biased low, so the
            log-likelihood is biased high.
        **ais_kwargs
            With ``method="ais"``: ``n_chains``, ``betas``, ``base``, ``rng``,
            ``ais_result``, passed on.

        Returns
        -------
        float
        """
        from .ais import log_likelihood_ais
        from .evaluation import log_likelihood

        X = _sparse.dense(self._check_X(X))
        if method == "exact":
            if ais_kwargs:
                raise TypeError(f"method='exact' takes no AIS arguments, got {sorted(ais_kwargs)}")
            return float(log_likelihood(X, self.W_, self.b_, self.c_).mean())
        if method == "ais":
            return log_likelihood_ais(X, self.W_, self.b_, self.c_, **ais_kwargs).log_likelihood
        raise ValueError(f'method must be "exact" or "ais", got {method!r}')

    def score_samples(self, X, rng=None):
        r"""Stochastic pseudo-likelihood of each row.

        .. math::

            \widehat{\mathrm{PL}}(\mathbf v) = n_\text{visible}\,
                \log\sigma\big(F(\tilde{\mathbf v}) - F(\mathbf v)\big)

        One uniformly chosen unit of each row is flipped to :math:`1 - v_i`
        (the numbers of :func:`rbm.pseudo_likelihood`, which this computes
        with sparse products for sparse ``X``); the expectation over the unit
        is the exact pseudo-likelihood.

        Parameters
        ----------
        X : {array-like, sparse matrix}, shape (n_samples, n_visible)
        rng : int, numpy.random.Generator or None
            Chooses the flipped units. If None, a generator made from
            ``random_state`` afresh: with an int, every call flips the same
            units, as ``BernoulliRBM.score_samples`` does.

        Returns
        -------
        ndarray, shape (n_samples,)
        """
        v = self._check_X(X)
        W, b = self.W_, self.b_
        rows = np.arange(v.shape[0])
        cols = _random_units(self._method_rng(rng), W.shape[0], v.shape[0])
        pre = v @ W + self.c_
        # flipping v_i moves it by d = 1 - 2 v_i, and the pre-activations by d W_i
        d = 1 - 2 * np.asarray(v[rows, cols]).ravel()
        flipped = pre + d[:, None] * W[cols]
        delta = -d * b[cols] - (_softplus(flipped).sum(axis=1) - _softplus(pre).sum(axis=1))
        return -W.shape[0] * _softplus(-delta)  # log sigma(x) = -softplus(-x)

    def score(self, X, y=None):
        """Mean pseudo-likelihood of the rows of ``X`` (:meth:`score_samples`), higher is better.

        So that ``cross_val_score`` and ``GridSearchCV`` can tune an RBM on its own.

        Returns
        -------
        float
        """
        return float(self.score_samples(X).mean())

    def gibbs(self, v, k=1, rng=None):
        """Run ``k`` block-Gibbs steps v -> h -> v from each row of ``v``; return binary v.

        Parameters
        ----------
        v : {array-like, sparse matrix}, shape (n_samples, n_visible)
        k : int, default 1
        rng : int, numpy.random.Generator or None
            If None, from ``random_state`` afresh (an int repeats on each call).

        Returns
        -------
        ndarray of 0.0/1.0, shape (n_samples, n_visible)
        """
        v = _sparse.dense(self._check_X(v, "v"))  # the result is as large anyway
        k = check_positive_int(k, "k")
        with _fast.single_threaded_blas():  # many small products, as in training
            return gibbs(v, self.W_, self.b_, self.c_, k=k, rng=self._method_rng(rng))

    def reconstruct(self, X):
        r"""Mean-field reconstruction: v -> P(h | v) -> P(v | h), probabilities throughout.

        Deterministic: the hidden probabilities are passed back down instead of a sample.

        Returns
        -------
        ndarray, shape (n_samples, n_visible), values in [0, 1]
        """
        ph = _h_given_v(self._check_X(X), self.W_, self.c_)
        return _v_given_h(ph, self.W_, self.b_)

    def sample(self, n_samples, n_steps=1000, start="random", probabilities=False, rng=None):
        r"""Samples from the model: ``n_samples`` independent Gibbs chains of ``n_steps`` steps.

        Parameters
        ----------
        n_samples : int
        n_steps : int, default 1000
        start : {"random", "bias"}, default "random"
            Initial visible states: Bernoulli(0.5), or Bernoulli(:math:`\sigma(b_i)`).
        probabilities : bool, default False
            Return :math:`P(\mathbf v \mid \mathbf h)` of the last step (smoother to look
            at) instead of the binary states.
        rng : int, numpy.random.Generator or None
            If None, from ``random_state`` afresh (an int repeats on each call).

        Returns
        -------
        ndarray, shape (n_samples, n_visible)
        """
        check_is_fitted(self, "W_")
        n_samples = check_positive_int(n_samples, "n_samples")
        n_steps = check_positive_int(n_steps, "n_steps")
        if start not in ("random", "bias"):
            raise ValueError(f'start must be "random" or "bias", got {start!r}')
        rng = self._method_rng(rng)
        W, b, c = self.W_, self.b_, self.c_
        p0 = np.full((n_samples, W.shape[0]), 0.5, dtype=W.dtype)
        if start == "bias":
            p0[...] = _sigmoid(b)
        with _fast.single_threaded_blas():  # many small products, as in training
            v = sample_bernoulli(p0, rng)
            if not probabilities:
                return gibbs(v, W, b, c, k=n_steps, rng=rng)
            if n_steps > 1:
                v = gibbs(v, W, b, c, k=n_steps - 1, rng=rng)
            # the last step's P(v | h) instead of its visible sample
            return _v_given_h(sample_bernoulli(_h_given_v(v, W, c), rng), W, b)

    # ------------------------------------------------------------------ persistence

    def save(self, path):
        """Save hyper-parameters, learned arrays and history to an ``.npz`` file, atomically.

        No pickle: arrays, and the hyper-parameters as a JSON string (the
        layout of :func:`rbm.io.save_rbm`). A ``random_state`` that is a
        Generator or a RandomState is saved as None.

        Parameters
        ----------
        path : str or Path
            Written exactly as given (no suffix is added).
        """
        check_is_fitted(self, "W_")
        params = self.get_params()
        if not isinstance(params["random_state"], numbers.Integral):
            params["random_state"] = None
        state = {"W": self.W_, "b": self.b_, "c": self.c_, "history": self.history_}
        save_rbm(path, params, **state, chains=self.chains_, velocity=self.velocity_)

    @classmethod
    def load(cls, path):
        """Load an RBM written by :meth:`save`.

        Raises
        ------
        ValueError
            If the file is not an RBM file, has another format version, lacks
            a key, or holds arrays of the wrong shape.
        """
        saved = load_rbm(path, sorted(cls().get_params()))
        model = cls(**saved["params"])
        model.W_, model.b_, model.c_ = saved["W"], saved["b"], saved["c"]
        model.n_features_in_ = int(saved["W"].shape[0])
        model.history_ = saved["history"]
        model.chains_, model.velocity_ = saved["chains"], saved["velocity"]
        return model
