"""A mixture of multivariate Bernoullis fitted by EM: a baseline with an exact likelihood.

.. math::

    p(\\mathbf v) = \\sum_{k=1}^{K} \\pi_k \\prod_i \\mu_{ki}^{v_i} (1 - \\mu_{ki})^{1 - v_i}

Unlike an RBM's, its log-likelihood is exact and cheap, so it is the yardstick
that likelihood papers on binarised MNIST compare against.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

from ._validation import as_float_array, as_rng, check_positive_int, check_unit_interval

__all__ = ["BernoulliMixture"]


class BernoulliMixture:
    r"""Mixture of multivariate Bernoulli distributions, fitted by expectation-maximisation.

    E-step (in log space, with log-sum-exp over components):

    .. math::

        \log r_{tk} = \log \pi_k + \sum_i \big[v_{ti} \log \mu_{ki}
            + (1 - v_{ti}) \log(1 - \mu_{ki})\big] - \log p(\mathbf v_t).

    M-step, with a symmetric Beta(1 + alpha, 1 + alpha) prior on every mean
    (a Laplace-style smoothing that keeps each mu strictly inside (0, 1), so no
    log 0 ever appears) and a Dirichlet(1 + alpha) prior on the weights:

    .. math::

        \mu_{ki} = \frac{\sum_t r_{tk} v_{ti} + \alpha}{\sum_t r_{tk} + 2\alpha},
        \qquad
        \pi_k = \frac{\sum_t r_{tk} + \alpha}{n + K\alpha}.

    EM then maximises the log-posterior, which never decreases from one
    iteration to the next; ``history_`` records the mean log-likelihood plus
    the (scaled) log-prior, the quantity that is monotone.

    Parameters
    ----------
    n_components : int, default 10
    n_iter : int, default 100
        Maximum number of EM iterations.
    tol : float, default 1e-4
        Stop when the objective (per sample) improves by less than ``tol``.
    alpha : float > 0, default 1e-2
        Pseudo-count of the Beta and Dirichlet priors.
    init : {"data", "uniform"}, default "data"
        How the means start. ``"data"``: at K distinct training rows drawn at
        random, shrunk towards 1/2, :math:`\mu_{ki} = 0.25 + 0.5\, v_{t_k i}`.
        ``"uniform"``: independent draws :math:`\mu_{ki} \sim U(0.25, 0.75)`,
        the same range with no data in them. The weights start equal.
    random_state : int, numpy.random.Generator or None
        Draws the initial means.

    Attributes
    ----------
    weights_ : ndarray, shape (n_components,)
    means_ : ndarray, shape (n_components, n_visible)
    history_ : list of float
        The objective (mean log-likelihood plus log-prior / n) of the parameters
        at the start of each iteration: the first entry is the initialisation.
    n_iter_ : int
    converged_ : bool
    """

    def __init__(
        self, n_components=10, n_iter=100, tol=1e-4, alpha=1e-2, init="data", random_state=None
    ):
        self.n_components = n_components
        self.n_iter = n_iter
        self.tol = tol
        self.alpha = alpha
        self.init = init
        self.random_state = random_state

    def _check_X(self, X, fitted=True):
        X = as_float_array(X, "X", ndim=2, dtype=np.float64)
        check_unit_interval(X, "X")
        if fitted:
            if not hasattr(self, "means_"):
                raise RuntimeError("this BernoulliMixture is not fitted yet: call fit(X) first")
            if X.shape[1] != self.means_.shape[1]:
                raise ValueError(
                    f"X must have {self.means_.shape[1]} columns like the training data, "
                    f"got shape {X.shape}"
                )
        return X

    def _log_joint(self, X):
        """log pi_k + log p(v_t | k), shape (n_samples, n_components)."""
        log_mu, log_1m = np.log(self.means_), np.log1p(-self.means_)
        return X @ (log_mu - log_1m).T + log_1m.sum(axis=1) + np.log(self.weights_)

    def _log_prior(self):
        a = self.alpha
        return (
            a * (np.log(self.means_).sum() + np.log1p(-self.means_).sum())
            + a * np.log(self.weights_).sum()
        )

    def fit(self, X):
        """Fit by EM.

        Parameters
        ----------
        X : array_like, shape (n_samples, n_visible)
            Binary data (values in [0, 1]; grey levels act as fractional counts).

        Returns
        -------
        self
        """
        K = check_positive_int(self.n_components, "n_components")
        n_iter = check_positive_int(self.n_iter, "n_iter")
        if not (isinstance(self.alpha, (int, float)) and self.alpha > 0):
            raise ValueError(f"alpha must be a positive number, got {self.alpha!r}")
        if not (isinstance(self.tol, (int, float)) and self.tol >= 0):
            raise ValueError(f"tol must be a number >= 0, got {self.tol!r}")
        if self.init not in ("data", "uniform"):
            raise ValueError(f"init must be 'data' or 'uniform', got {self.init!r}")
        X = self._check_X(X, fitted=False)
        n = len(X)
        if K > n:
            raise ValueError(f"n_components = {K} is more than the {n} samples")
        rng = as_rng(self.random_state)
        if self.init == "data":
            self.means_ = 0.25 + 0.5 * X[rng.choice(n, K, replace=False)]
        else:
            self.means_ = rng.uniform(0.25, 0.75, (K, X.shape[1]))
        self.weights_ = np.full(K, 1.0 / K)
        a = self.alpha
        self.history_ = []
        self.converged_ = False
        for it in range(n_iter):
            # E-step; its normaliser also gives the objective of the current parameters.
            log_joint = self._log_joint(X)
            log_norm = logsumexp(log_joint, axis=1, keepdims=True)
            self.history_.append(float(log_norm.mean()) + self._log_prior() / n)
            if it > 0 and abs(self.history_[-1] - self.history_[-2]) < self.tol:
                self.converged_ = True
                break
            resp = np.exp(log_joint - log_norm)
            nk = resp.sum(axis=0)
            # M-step with the Beta / Dirichlet pseudo-counts.
            self.means_ = (resp.T @ X + a) / (nk[:, None] + 2 * a)
            self.weights_ = (nk + a) / (n + K * a)
        self.n_iter_ = len(self.history_)
        return self

    def score_samples(self, X):
        r"""Exact log-probability of each row.

        .. math::

            \log p(\mathbf v) = \log \sum_k \pi_k \prod_i \mu_{ki}^{v_i}(1-\mu_{ki})^{1-v_i}

        Parameters
        ----------
        X : array_like, shape (n_samples, n_visible)

        Returns
        -------
        ndarray of float64, shape (n_samples,)
        """
        return logsumexp(self._log_joint(self._check_X(X)), axis=1)

    def score(self, X):
        """Mean log-probability of the rows of ``X`` (nats)."""
        return float(self.score_samples(X).mean())

    def sample(self, n_samples=1, rng=None):
        """Draw binary vectors: a component k ~ pi, then v_i ~ Bernoulli(mu_ki).

        Parameters
        ----------
        n_samples : int
        rng : int, numpy.random.Generator or None

        Returns
        -------
        v : ndarray of float64, shape (n_samples, n_visible)
        components : ndarray of int64, shape (n_samples,)
        """
        if not hasattr(self, "means_"):
            raise RuntimeError("this BernoulliMixture is not fitted yet: call fit(X) first")
        n_samples = check_positive_int(n_samples, "n_samples")
        rng = as_rng(rng)
        comp = rng.choice(self.n_components, size=n_samples, p=self.weights_)
        v = (rng.random((n_samples, self.means_.shape[1])) < self.means_[comp]).astype(np.float64)
        return v, comp.astype(np.int64)
