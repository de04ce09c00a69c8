"""Sparse input for :class:`rbm.RBM`: where a whole array is needed, make it dense.

Training takes scipy.sparse input directly (:func:`rbm._fast.train_epoch` makes
one mini-batch dense at a time); the methods that return an array as large as
their input use :func:`dense`.
"""

from __future__ import annotations

import scipy.sparse as sp

__all__ = ["dense"]


def dense(X):
    """X itself, or ``X.toarray()`` if it is a scipy.sparse matrix or array."""
    return X.toarray() if sp.issparse(X) else X
