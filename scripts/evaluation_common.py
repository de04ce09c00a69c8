"""Helpers shared by the evaluation scripts: a plain training loop and atomic writes.

The loop calls :func:`rbm.cd_k` / :func:`rbm.pcd_k` directly, so the scripts
depend only on the package's functions (not on the estimator class).
"""

from __future__ import annotations

import time

import numpy as np

import rbm


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


def init_params(X, n_hidden, init, visible_bias, rng):
    """W, b, c in float32: "xavier" (uniform +-sqrt(6/(n_v+n_h))) or "normal" (N(0, 0.01^2))."""
    n_visible = X.shape[1]
    if init == "xavier":
        bound = np.sqrt(6.0 / (n_visible + n_hidden))
        W = rng.uniform(-bound, bound, (n_visible, n_hidden))
    else:
        W = rng.normal(0.0, 0.01, (n_visible, n_hidden))
    if visible_bias == "marginals":
        b = rbm.ais.base_rate_bias(X, eps=1e-3)
    else:
        b = np.zeros(n_visible)
    return W.astype(np.float32), b.astype(np.float32), np.zeros(n_hidden, np.float32)


def train(
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
    """Mini-batch CD-k or PCD-k with momentum and L2 weight decay (on W only).

    ``on_epoch(epoch, W, b, c)`` is called after every epoch and may return a
    dict of numbers, which is collected per epoch in the returned history.
    Returns ``(W, b, c, history)``.
    """
    rng = np.random.default_rng(rng)
    X = np.asarray(X, dtype=np.float32)
    W, b, c = init_params(X, n_hidden, init, visible_bias, rng)
    vel = [np.zeros_like(W), np.zeros_like(b), np.zeros_like(c)]
    chain = (rng.random((batch_size, X.shape[1])) < X.mean(axis=0)).astype(np.float32)
    history = {"epoch": [], "train_seconds": []}
    elapsed = 0.0
    for epoch in range(n_epochs):
        t0 = time.perf_counter()
        mom = momentum if (final_momentum is None or epoch < momentum_switch) else final_momentum
        order = rng.permutation(len(X)) if shuffle else np.arange(len(X))
        for start in range(0, len(X), batch_size):
            v = X[order[start : start + batch_size]]
            if persistent:
                grads, chain = rbm.pcd_k(v, chain, W, b, c, k=k, rng=rng)
            else:
                grads = rbm.cd_k(v, W, b, c, k=k, rng=rng)
            dW = grads[0] - weight_decay * W if weight_decay else grads[0]
            for vel_p, g in zip(vel, (dW, grads[1], grads[2]), strict=True):
                vel_p *= mom
                vel_p += learning_rate * g
            W += vel[0]
            b += vel[1]
            c += vel[2]
        elapsed += time.perf_counter() - t0
        history["epoch"].append(epoch + 1)
        history["train_seconds"].append(round(elapsed, 2))
        if on_epoch is not None:
            for key, value in (on_epoch(epoch + 1, W, b, c) or {}).items():
                history.setdefault(key, []).append(value)
    return W, b, c, history


def reconstruction_error(X, W, b, c):
    """Mean squared error of the one-step mean-field reconstruction sigma(W sigma(v W + c) + b)."""
    ph = rbm.h_given_v(X, W, c)
    pv = rbm.v_given_h(ph, W, b)
    return float(np.mean(np.sum((X - pv) ** 2, axis=1)))
