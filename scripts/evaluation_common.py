"""Helpers shared by the evaluation scripts: data, their training settings, a monitor.

Training runs the package's plain loop (:func:`rbm.training.train`, built on
:func:`rbm.cd_k` / :func:`rbm.pcd_k`), not the estimator class.
"""

from __future__ import annotations

import numpy as np

import rbm
from rbm import training


def limit_blas_threads():
    """One BLAS thread: on a shared 2-core machine, OpenBLAS threads that spin-wait
    for each other make a 100 x 784 x 500 product about ten times slower."""
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:  # pragma: no cover - threadpoolctl is in requirements.txt
        pass


def binarized_mnist(n_train, n_test, seed):
    """Stochastically binarised MNIST (the likelihood benchmarks' protocol), cut to size.

    Train and test draw their bits with seeds ``seed`` and ``seed + 100``.
    """
    X_train, _ = rbm.datasets.load_mnist("train", binarize="stochastic", random_state=seed)
    X_test, _ = rbm.datasets.load_mnist("test", binarize="stochastic", random_state=seed + 100)
    return X_train[:n_train], X_test[:n_test]


def run_training(
    X,
    n_hidden,
    *,
    k=1,
    persistent=False,
    learning_rate=0.1,
    batch_size=64,
    n_epochs=10,
    momentum=0.0,
    final_momentum=None,
    momentum_switch=5,
    weight_decay=0.0,
    init="normal",
    visible_bias="marginals",
    shuffle=True,
    rng=None,
    on_epoch=None,
):
    """:func:`rbm.training.train` with the evaluation scripts' defaults and history.

    Mini-batch CD-k or PCD-k with momentum (``momentum`` for the first
    ``momentum_switch`` epochs, then ``final_momentum`` if given) and L2
    weight decay on W; float32. ``on_epoch(epoch, W, b, c)``, epochs counted
    from 1, may return a dict of numbers, collected per epoch in the history.

    Returns ``(W, b, c, history)``; history holds "epoch" (from 1),
    "train_seconds" (cumulative) and ``on_epoch``'s keys.
    """
    rng = np.random.default_rng(rng)
    X = np.asarray(X, dtype=np.float32)
    params = training.init_params(X, n_hidden, init, visible_bias, rng)
    # drawn for CD-k as well, so that the random stream, hence the committed results, stay
    chains = training.init_chains(X, batch_size, "marginals", rng)
    schedule = momentum if final_momentum is None else (momentum, final_momentum)
    W, b, c, trained = training.train(
        X,
        n_hidden,
        n_epochs=n_epochs,
        k=k,
        persistent=persistent,
        chains=chains,
        learning_rate=learning_rate,
        momentum=schedule,
        momentum_switch=momentum_switch,
        weight_decay=weight_decay,
        batch_size=batch_size,
        shuffle=shuffle,
        params=params,
        callback=None if on_epoch is None else lambda e, W, b, c: on_epoch(e + 1, W, b, c),
        rng=rng,
    )
    history = {
        "epoch": [e + 1 for e in trained["epoch"]],
        "train_seconds": [round(t, 2) for t in trained["time"]],
    }
    for values in trained["callback"]:
        for key, value in (values or {}).items():
            history.setdefault(key, []).append(value)
    return W, b, c, history


def reconstruction_error(X, W, b, c):
    """Mean squared error of the one-step mean-field reconstruction sigma(W sigma(v W + c) + b)."""
    ph = rbm.h_given_v(X, W, c)
    pv = rbm.v_given_h(ph, W, b)
    return float(np.mean(np.sum((X - pv) ** 2, axis=1)))
