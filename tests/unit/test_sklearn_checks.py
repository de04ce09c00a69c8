"""scikit-learn's own estimator checks (``parametrize_with_checks``) on :class:`rbm.RBM`.

The checks draw their data from normal or uniform distributions, outside [0, 1],
and an RBM's visible units are probabilities: :class:`rbm.RBM` refuses such data
(a design choice, see its docstring), and scikit-learn has no tag for "inputs in
[0, 1]". ``positive_only`` is the nearest: scikit-learn shifts the data to a
minimum of 0. The fixture below goes one step further and also divides by the
maximum, through the one function of ``sklearn.utils.estimator_checks`` that
applies input tags. Every check then runs on data in [0, 1], which is what a
user's ``MinMaxScaler`` does; no check is skipped for it.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.utils import estimator_checks
from sklearn.utils.estimator_checks import parametrize_with_checks

import rbm

_enforce_tags = estimator_checks._enforce_estimator_tags_X


def _into_unit_interval(X):
    """Divide non-negative data by its maximum (dense or sparse), so that it lies in [0, 1]."""
    if sp.issparse(X):
        X = X.copy()
        if X.data.size and X.data.max() > 0:
            X.data = X.data / X.data.max()
        return X
    if isinstance(X, np.ndarray) and X.dtype.kind == "f" and X.size and X.max() > 0:
        return X / X.max()
    return X


def _enforce_tags_unit_interval(estimator, X, X_test=None, **kwargs):
    out = _enforce_tags(estimator, X, X_test, **kwargs)
    if not isinstance(estimator, rbm.RBM):
        return out
    if X_test is None:
        return _into_unit_interval(out)
    return tuple(_into_unit_interval(a) for a in out)


@pytest.fixture(autouse=True)
def _unit_interval_data(monkeypatch):
    monkeypatch.setattr(estimator_checks, "_enforce_estimator_tags_X", _enforce_tags_unit_interval)


def _expected_failed_checks(estimator):
    # The same two as scikit-learn lists for BernoulliRBM, for the same reason:
    # score_samples flips one random unit per row, chosen from the row's index in
    # the batch, so a row's score depends on where it sits in X.
    return {
        "check_methods_subset_invariance": (
            "score_samples flips a random unit chosen by the row's position in X"
        ),
        "check_methods_sample_order_invariance": (
            "score_samples flips a random unit chosen by the row's position in X"
        ),
    }


@parametrize_with_checks(
    [rbm.RBM(n_hidden=4, n_epochs=2, batch_size=10, random_state=0)],
    expected_failed_checks=_expected_failed_checks,
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
