"""The :class:`RBM` estimator: a binary RBM trained by CD-k or PCD-k, scikit-learn style.

It follows scikit-learn's conventions without depending on scikit-learn:
hyper-parameters are stored by ``__init__`` as given, checked in :meth:`RBM.fit`;
learned attributes end in ``_``; :meth:`RBM.get_params` and
:meth:`RBM.set_params` work by introspecting ``__init__``, so that
``sklearn.base.clone`` and ``sklearn.pipeline.Pipeline`` accept it.
"""

from __future__ import annotations

import inspect
import math
import numbers
import os
import sys

import numpy as np

from . import _fast
from ._validation import as_float_array, as_rng, check_positive_int
from .core import _free_energy, _h_given_v, _sigmoid, _v_given_h
from .evaluation import pseudo_likelihood
from .io import HISTORY_KEYS, load_rbm, save_rbm
from .sampling import gibbs, sample_bernoulli
from .training import (
    INITS,
    MAX_ABS_WEIGHT,
    VISIBLE_BIAS_INITS,
    init_chains,
    init_params,
)

__all__ = ["RBM", "NotFittedError"]


class NotFittedError(ValueError, AttributeError):
    """Raised when a method that needs learned parameters is called before ``fit``.

    It subclasses ``ValueError`` and ``AttributeError``, as scikit-learn's does.
    """


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


class RBM:
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
    random_state : int, numpy.random.Generator or None
        Seeds initialisation, shuffling and sampling during training, and the
        methods that sample when they are not given their own ``rng``.
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
    """

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

    # ------------------------------------------------------------------ params

    @classmethod
    def _param_names(cls):
        sig = inspect.signature(cls.__init__)
        return sorted(p for p in sig.parameters if p != "self")

    def get_params(self, deep=True):
        """Hyper-parameters as a dict (``deep`` is accepted for scikit-learn: nothing nests)."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params):
        """Set hyper-parameters by name; returns ``self``. Unknown names raise ``ValueError``."""
        valid = set(self._param_names())
        for name, value in params.items():
            if name not in valid:
                raise ValueError(
                    f"invalid parameter {name!r} for RBM; valid parameters are {sorted(valid)}"
                )
            setattr(self, name, value)
        return self

    def __repr__(self):
        defaults = {
            n: p.default for n, p in inspect.signature(type(self).__init__).parameters.items()
        }
        changed = []
        for name in self._param_names():
            value = getattr(self, name)
            default = defaults[name]
            same = value is default or (
                type(value) is type(default) and not callable(value) and value == default
            )
            if not same:
                changed.append(f"{name}={value!r}")
        return f"RBM({', '.join(changed)})"

    def _check_hyperparameters(self):
        check_positive_int(self.n_hidden, "n_hidden")
        check_positive_int(self.batch_size, "batch_size")
        check_positive_int(self.n_epochs, "n_epochs")
        check_positive_int(self.k, "k")
        for name in ("learning_rate", "momentum", "weight_decay"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise TypeError(f"{name} must be a real number, got {value!r}")
            if not math.isfinite(value):
                raise ValueError(f"{name} must be finite, got {value!r}")
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate!r}")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must lie in [0, 1), got {self.momentum!r}")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay!r}")
        choices = {
            "init": INITS,
            "visible_bias_init": VISIBLE_BIAS_INITS,
            "batch_split": ("fixed", "array_split"),
            "dtype": ("float32", "float64"),
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(
                    f"{name} must be one of {', '.join(map(repr, allowed))}, "
                    f"got {getattr(self, name)!r}"
                )
        for name in ("persistent", "shuffle"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise TypeError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if not isinstance(self.random_state, np.random.Generator):
            as_rng(self.random_state)  # raises TypeError unless an int seed or None

    # ------------------------------------------------------------------ state

    def __sklearn_is_fitted__(self):
        return hasattr(self, "W_")

    def __sklearn_tags__(self):
        # Only scikit-learn calls this, so scikit-learn (>= 1.6) is there to import.
        from sklearn.utils import InputTags, Tags, TargetTags, TransformerTags

        return Tags(
            estimator_type=None,
            target_tags=TargetTags(required=False),
            transformer_tags=TransformerTags(preserves_dtype=["float32", "float64"]),
            non_deterministic=self.random_state is None,
            input_tags=InputTags(positive_only=True),
        )

    def _check_fitted(self, method):
        if not hasattr(self, "W_"):
            raise NotFittedError(
                f"this RBM is not fitted yet: call fit (or partial_fit) before {method}"
            )

    def _check_X(self, X, name="X"):
        dtype = np.dtype(self.dtype) if not hasattr(self, "W_") else self.W_.dtype
        X = as_float_array(X, name, ndim=2, dtype=dtype, unit_interval=True)
        if hasattr(self, "W_") and X.shape[1] != self.W_.shape[0]:
            raise ValueError(
                f"{name} has {X.shape[1]} features, but this RBM was fitted with "
                f"n_visible = {self.W_.shape[0]}"
            )
        return X

    def _method_rng(self, rng):
        if rng is not None:
            return as_rng(rng)
        if getattr(self, "_rng", None) is None:
            self._rng = as_rng(self.random_state)
        return self._rng

    def _initialise(self, X, rng):
        self.W_, self.b_, self.c_ = init_params(
            X, self.n_hidden, self.init, self.visible_bias_init, rng, dtype=self.dtype
        )
        self.n_features_in_ = X.shape[1]
        self.history_ = {key: [] for key in HISTORY_KEYS}
        self.velocity_ = None
        self.chains_ = None

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
            self.chains_ = init_chains(X, self.batch_size, "data")
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

    def fit(self, X, y=None):
        """Initialise the parameters and train for ``n_epochs`` epochs on ``X``.

        Parameters
        ----------
        X : array_like, shape (n_samples, n_visible)
            Binary data or probabilities in [0, 1] (e.g. grey levels / 255).
        y : ignored

        Returns
        -------
        self

        Raises
        ------
        FloatingPointError
            If training diverges (see the class docstring).
        """
        self._check_hyperparameters()
        for name in ("W_", "b_", "c_", "n_features_in_", "history_", "chains_", "velocity_"):
            self.__dict__.pop(name, None)
        X = self._check_X(X)
        rng = self._rng = as_rng(self.random_state)
        self._initialise(X, rng)
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

    def partial_fit(self, X, y=None):
        """One epoch over ``X`` (the parameters are initialised on the first call).

        Returns
        -------
        self
        """
        self._check_hyperparameters()
        X = self._check_X(X)
        rng = self._method_rng(None)
        if not hasattr(self, "W_"):
            self._initialise(X, rng)
        else:
            self._check_state()
        self._epoch(X, rng)
        return self

    # ------------------------------------------------------------------ inference

    def transform(self, X):
        r"""Hidden probabilities, :math:`P(h_j = 1 \mid \mathbf v)`.

        .. math::

            P(h_j = 1 \mid \mathbf v) = \sigma(\mathbf v^\top W_{\cdot j} + c_j)

        Parameters
        ----------
        X : array_like, shape (n_samples, n_visible)

        Returns
        -------
        ndarray, shape (n_samples, n_hidden)
        """
        self._check_fitted("transform")
        return _h_given_v(self._check_X(X), self.W_, self.c_)

    def fit_transform(self, X, y=None):
        """``fit(X)`` then ``transform(X)``."""
        return self.fit(X).transform(X)

    def free_energy(self, X):
        r"""Free energy :math:`F(\mathbf v)` of each row (see :func:`rbm.free_energy`).

        Returns
        -------
        ndarray, shape (n_samples,)
        """
        self._check_fitted("free_energy")
        return _free_energy(self._check_X(X), self.W_, self.b_, self.c_)

    def log_likelihood(self, X, method="exact", **ais_kwargs):
        r"""Mean log-likelihood :math:`\frac1n \sum_t \log p(\mathbf v_t)`, in nats.

        :math:`\log p(\mathbf v) = -F(\mathbf v) - \log Z`, with log Z exact or from AIS.

        Parameters
        ----------
        X : array_like, shape (n_samples, n_visible)
            Binary data for a proper log-probability.
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

        self._check_fitted("log_likelihood")
        X = self._check_X(X)
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
        (see :func:`rbm.pseudo_likelihood`); the expectation over the unit is
        the exact pseudo-likelihood.

        Parameters
        ----------
        X : array_like, shape (n_samples, n_visible)
        rng : int, numpy.random.Generator or None
            Chooses the flipped units; the estimator's own generator if None.

        Returns
        -------
        ndarray, shape (n_samples,)
        """
        self._check_fitted("score_samples")
        v = self._check_X(X)
        return pseudo_likelihood(v, self.W_, self.b_, self.c_, rng=self._method_rng(rng))

    def gibbs(self, v, k=1, rng=None):
        """Run ``k`` block-Gibbs steps v -> h -> v from each row of ``v``; return binary v.

        Parameters
        ----------
        v : array_like, shape (n_samples, n_visible)
        k : int, default 1
        rng : int, numpy.random.Generator or None

        Returns
        -------
        ndarray of 0.0/1.0, shape (n_samples, n_visible)
        """
        self._check_fitted("gibbs")
        v = self._check_X(v, "v")
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
        self._check_fitted("reconstruct")
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

        Returns
        -------
        ndarray, shape (n_samples, n_visible)
        """
        self._check_fitted("sample")
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
        Generator is saved as None.

        Parameters
        ----------
        path : str or Path
            Written exactly as given (no suffix is added).
        """
        self._check_fitted("save")
        params = self.get_params()
        if isinstance(params["random_state"], np.random.Generator):
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
        saved = load_rbm(path, cls._param_names())
        model = cls(**saved["params"])
        model.W_, model.b_, model.c_ = saved["W"], saved["b"], saved["c"]
        model.n_features_in_ = int(saved["W"].shape[0])
        model.history_ = saved["history"]
        model.chains_, model.velocity_ = saved["chains"], saved["velocity"]
        return model
