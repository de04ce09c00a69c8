"""Exact test log-likelihoods on dequantised MNIST: a small GB-RBM against Gaussian baselines.

The data (the chapter "Grey pixels: a model with a density" does the same):

- grey levels k in {0, ..., 255} are dequantised, x = (k + u) / 256 with u ~ U(0, 1)
  drawn from ``np.random.default_rng(DATA_SEED)``, so x has a density on [0, 1]^784;
- x is standardised with the training images' per-pixel mean and standard deviation,
  z = (x - mean) / scale (the chapter's visible units v). Every model is fitted to z,
  and its log-density in x is
  log p_x(x) = log p_z(z) - sum_i log scale_i (the Jacobian), reported as ``x_nats``.

Models, all with exact test log-likelihoods: a diagonal Gaussian, a full-covariance
Gaussian, scikit-learn's GaussianMixture (diagonal covariances), and a GB-RBM with
16 hidden units (a mixture of 2^16 Gaussians; log Z by enumeration) trained by
PCD-1 with learned variances, 3 seeds.

Usage::

    python scripts/gaussian_mnist.py                  # 23 minutes on the busy 2-core machine
    python scripts/gaussian_mnist.py --resume         # continue from the checkpoints
    python scripts/gaussian_mnist.py --quick --out /tmp/x

Writes ``metrics.json`` and ``weights.npz`` (the GB-RBMs' parameters, and the
standardisation) into ``--out`` (``results/gaussian_mnist``), atomically. While a
GB-RBM trains, ``checkpoint_seed{S}.npz`` holds its state after each epoch.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path

import numpy as np
from sklearn.mixture import GaussianMixture

import rbm
from rbm.gaussian import gb_init_params, gb_train_epoch
from rbm.io import atomic_savez, atomic_write_json

ROOT = Path(__file__).resolve().parents[1]
DATA_SEED = 0

FULL = {
    "n_train": 60000,
    "n_test": 10000,
    "n_hidden": 16,
    "n_epochs": 20,
    "seeds": [0, 1, 2],
    "gmm_components": [16],
    "gmm_max_iter": 100,
    "n_curve": 1000,
}
QUICK = {
    "n_train": 2000,
    "n_test": 500,
    "n_hidden": 4,
    "n_epochs": 2,
    "seeds": [0, 1],
    "gmm_components": [4],
    "gmm_max_iter": 5,
    "n_curve": 200,
}
#: The GB-RBM's training settings (PCD-1, momentum, a learning rate decaying linearly).
TRAINING = {
    "k": 1,
    "learning_rate": 3e-4,
    "final_learning_rate_share": 0.1,
    "log_var_learning_rate_share": 1.0,
    "momentum": 0.9,
    "batch_size": 100,
    "min_log_var": -8.0,
}


def dequantized_mnist(n_train, n_test, seed=DATA_SEED):
    """Dequantised MNIST in [0, 1]: training rows first, then test rows (float64)."""
    from rbm.datasets import load_mnist

    X, _ = load_mnist("all")
    levels = np.rint(X.astype(np.float64) * 255)
    x = (levels + np.random.default_rng(seed).random(levels.shape)) / 256
    return x[:n_train], x[60000 : 60000 + n_test]


def standardize(x_train):
    """Per-pixel mean and standard deviation of the training images."""
    return x_train.mean(axis=0), x_train.std(axis=0)


def gaussian_log_density(Z, mean, cov):
    """Row log-densities under N(mean, cov), by a Cholesky factor."""
    L = np.linalg.cholesky(cov)
    r = np.linalg.solve(L, (Z - mean).T)
    log_det = 2 * np.log(np.diag(L)).sum()
    return -0.5 * ((r * r).sum(axis=0) + log_det + Z.shape[1] * math.log(2 * math.pi))


def baselines(Z_train, Z_test, cfg):
    out = {}
    var = Z_train.var(axis=0)
    out["diagonal Gaussian"] = [
        float(gaussian_log_density(Z_test, Z_train.mean(0), np.diag(var)).mean())
    ]
    cov = np.cov(Z_train, rowvar=False, bias=True) + 1e-6 * np.eye(Z_train.shape[1])
    out["full-covariance Gaussian"] = [
        float(gaussian_log_density(Z_test, Z_train.mean(0), cov).mean())
    ]
    for K in cfg["gmm_components"]:
        scores = []
        for seed in cfg["seeds"]:
            gmm = GaussianMixture(
                K, covariance_type="diag", max_iter=cfg["gmm_max_iter"], random_state=seed
            )
            scores.append(float(gmm.fit(Z_train).score(Z_test)))
            print(f"GMM K={K} seed {seed}: {scores[-1]:.1f}", flush=True)
        out[f"GaussianMixture, {K} diagonal components"] = scores
    return out


def _rng_state(rng):
    return json.dumps(rng.bit_generator.state)


def train_gbrbm(Z_train, Z_curve, seed, cfg, out, resume, stop_after=None):
    """Train one GB-RBM epoch by epoch, checkpointing after each; return params and curve.

    ``stop_after`` ends the run after that many epochs, as an interruption would
    (the tests use it to check that ``--resume`` continues exactly).
    """
    ckpt = out / f"checkpoint_seed{seed}.npz"
    n_epochs = cfg["n_epochs"]
    if resume and ckpt.exists():
        with np.load(ckpt, allow_pickle=False) as f:
            params = [f[n].copy() for n in ("W", "b", "c", "log_var")]
            velocity = [f[f"vel_{n}"].copy() for n in ("W", "b", "c", "log_var")]
            chain = f["chain"].copy()
            start = int(f["epoch"]) + 1
            curve = f["curve"].tolist()
            rng = np.random.default_rng()
            rng.bit_generator.state = json.loads(str(f["rng_state"]))
        print(f"seed {seed}: resuming at epoch {start}", flush=True)
    else:
        rng = np.random.default_rng(seed)
        params = list(gb_init_params(Z_train, cfg["n_hidden"], rng))
        velocity = [np.zeros_like(p) for p in params]
        chain = Z_train[: TRAINING["batch_size"]].copy()
        start, curve = 0, []
    t = TRAINING
    for epoch in range(start, n_epochs if stop_after is None else stop_after):
        share = 1 - (1 - t["final_learning_rate_share"]) * epoch / max(n_epochs - 1, 1)
        lr = t["learning_rate"] * share
        stats = gb_train_epoch(
            Z_train,
            params,
            k=t["k"],
            learning_rate=lr,
            log_var_learning_rate=lr * t["log_var_learning_rate_share"],
            momentum=t["momentum"],
            min_log_var=t["min_log_var"],
            velocity=velocity,
            chain=chain,
            batch_size=t["batch_size"],
            rng=rng,
        )
        if stats["diverged"]:
            raise FloatingPointError(f"seed {seed}: training diverged in epoch {epoch}")
        curve.append(float(rbm.gb_log_likelihood(Z_curve, *params).mean()))
        print(f"seed {seed} epoch {epoch}: test log p(z) {curve[-1]:.1f}", flush=True)
        atomic_savez(
            ckpt,
            **dict(zip(("W", "b", "c", "log_var"), params, strict=True)),
            **{f"vel_{n}": v for n, v in zip(("W", "b", "c", "log_var"), velocity, strict=True)},
            chain=chain,
            epoch=np.array(epoch),
            curve=np.array(curve),
            rng_state=np.array(_rng_state(rng)),
        )
    return params, curve


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--resume", action="store_true", help="continue from checkpoints")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "gaussian_mnist")
    args = parser.parse_args(argv)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    cfg = QUICK if args.quick else FULL
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    x_train, x_test = dequantized_mnist(cfg["n_train"], cfg["n_test"])
    mean, scale = standardize(x_train)
    Z_train, Z_test = (x_train - mean) / scale, (x_test - mean) / scale
    log_jacobian = float(-np.log(scale).sum())
    results = baselines(Z_train, Z_test, cfg)
    weights = {"mean": mean, "scale": scale}
    curves = {}
    for seed in cfg["seeds"]:
        params, curve = train_gbrbm(
            Z_train, Z_test[: cfg["n_curve"]], seed, cfg, args.out, args.resume
        )
        name = f"GB-RBM, {cfg['n_hidden']} hidden units"
        results.setdefault(name, []).append(float(rbm.gb_log_likelihood(Z_test, *params).mean()))
        curves[str(seed)] = curve
        for key, value in zip(("W", "b", "c", "log_var"), params, strict=True):
            weights[f"{key}_seed{seed}"] = value
    n_visible = x_train.shape[1]
    table = {}
    for name, z_nats in results.items():
        x_nats = [s + log_jacobian for s in z_nats]
        # the dequantised density bounds the probability of the 8-bit image from below
        bits = [-(s - n_visible * math.log(256)) / (n_visible * math.log(2)) for s in x_nats]
        table[name] = {"z_nats": z_nats, "x_nats": x_nats, "bits_per_pixel": bits}
    metrics = {
        "quick": args.quick,
        "config": cfg,
        "training": TRAINING,
        "data_seed": DATA_SEED,
        "log_jacobian": log_jacobian,
        "models": table,
        "curves": curves,
        "seconds": time.perf_counter() - t0,
    }
    atomic_savez(args.out / "weights.npz", **weights)
    atomic_write_json(args.out / "metrics.json", metrics, allow_nan=False)
    for seed in cfg["seeds"]:
        (args.out / f"checkpoint_seed{seed}.npz").unlink(missing_ok=True)
    for name, row in table.items():
        x = np.array(row["x_nats"])
        print(f"{name:45s} {x.mean():9.1f} +- {x.std():5.1f} nats/image (x in [0,1]^784)")


if __name__ == "__main__":
    main()
