"""Train 784 -> 16 RBMs on binarised MNIST and track the proxies against the truth (chapter 10).

With 16 hidden units, log Z is an exact sum of 2^16 terms, so the exact
log-likelihood can be computed after every epoch and set beside what is
usually watched instead: the stochastic pseudo-likelihood, the exact
pseudo-likelihood and the reconstruction error. Three training rules are
compared: CD-1, CD-10 and PCD-1. At the end, forward and reverse AIS are run
on each final model and compared with the exact log Z.

Every training seed trains the three rules from the same initial parameters
(one generator, seeded from the training seed, draws the initial weights, the
mini-batch order and the Gibbs chains of each rule); the data (the stochastic
binarisation of the images) are the same for every seed.

Usage::

    python scripts/evaluation_proxies.py                  # full run, results/evaluation_proxies/
    python scripts/evaluation_proxies.py --quick --out /tmp/x

Writes ``metrics.json`` (per seed: the per-epoch curves and the AIS checks, with
their effective sample sizes) and the first seed's models, ``<method>.npz``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy.special import logsumexp

sys.path.insert(0, str(Path(__file__).resolve().parent))
import evaluation_common as common

import rbm
from rbm.ais import ais_log_partition, base_rate_bias, default_betas, reverse_ais_log_partition
from rbm.io import atomic_savez, atomic_write_json

ROOT = Path(__file__).resolve().parents[1]

FULL = {
    "n_train": 10000,
    "n_test": 10000,
    "n_pl": 1000,  # images for the exact pseudo-likelihood (784 free-energy differences each)
    "n_hidden": 16,
    "n_epochs": 30,
    "learning_rate": 0.05,
    "batch_size": 100,
    "ais_chains": 100,
    "ais_steps": None,  # the full 14,500-step schedule
    "short_ais_steps": 100,
    "reverse_steps": 2000,
    "reverse_gibbs": 1000,
}
QUICK = {
    **FULL,
    "n_train": 1000,
    "n_test": 1000,
    "n_pl": 100,
    "n_epochs": 2,
    "ais_chains": 16,
    "ais_steps": 300,
    "short_ais_steps": 20,
    "reverse_steps": 100,
    "reverse_gibbs": 20,
}
METHODS = {"CD-1": dict(k=1), "CD-10": dict(k=10), "PCD-1": dict(k=1, persistent=True)}
SEEDS = {"full": [0, 1, 2], "quick": [0, 1]}
DATA_SEED = 0  # the binarisation of the images, the same for every training seed


def effective_chains(log_weights):
    """Effective sample size of importance weights: (sum w)^2 / sum w^2."""
    lw = np.asarray(log_weights, dtype=float)
    return float(np.exp(2 * logsumexp(lw) - logsumexp(2 * lw)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "evaluation_proxies")
    parser.add_argument(
        "--seeds", type=int, nargs="+", default=None, help="training seeds (default 0 1 2)"
    )
    args = parser.parse_args(argv)
    common.limit_blas_threads()
    cfg = QUICK if args.quick else FULL
    seeds = args.seeds or SEEDS["quick" if args.quick else "full"]
    args.out.mkdir(parents=True, exist_ok=True)

    X_train, X_test = common.binarized_mnist(cfg["n_train"], cfg["n_test"], DATA_SEED)
    X_pl = X_train[: cfg["n_pl"]]
    base = base_rate_bias(X_train, eps=1e-3)

    metrics = {
        "config": {k: v for k, v in cfg.items()},
        "quick": bool(args.quick),
        "data_seed": DATA_SEED,
        "seeds": seeds,
        "runs": {},
    }
    for seed in seeds:
        methods = metrics["runs"][str(seed)] = {}
        offset = 100 * seed
        for i, (name, spec) in enumerate(METHODS.items()):
            methods[name] = run_method(
                name, spec, cfg, X_train, X_test, X_pl, base, offset + i, offset + 10
            )
            if seed == seeds[0]:
                W, b, c = (np.asarray(methods[name].pop(key)) for key in "Wbc")
                path = args.out / f"{name.lower().replace('-', '')}.npz"
                atomic_savez(path, compressed=True, W=W, b=b, c=c)
            else:
                for key in "Wbc":
                    methods[name].pop(key)
            atomic_write_json(args.out / "metrics.json", metrics)
    return 0


def run_method(name, spec, cfg, X_train, X_test, X_pl, base, stream, train_seed):
    """Train one rule from the generator seeded ``train_seed``, monitor it, run AIS on it.

    ``stream`` seeds the other random numbers (the one-bit pseudo-likelihood, the AIS
    chains), distinct for every rule and seed. Returns the history, the AIS checks and
    the final parameters (as "W", "b", "c").
    """
    pl_rng = np.random.default_rng(50 + stream)

    def on_epoch(epoch, W, b, c):
        log_z = rbm.log_partition(W, b, c)
        return {
            "log_z": log_z,
            "train_log_likelihood": float(rbm.log_likelihood(X_train, W, b, c, log_z).mean()),
            "test_log_likelihood": float(rbm.log_likelihood(X_test, W, b, c, log_z).mean()),
            "stochastic_pl": float(rbm.pseudo_likelihood(X_train, W, b, c, rng=pl_rng).mean()),
            "exact_pl": float(rbm.exact_pseudo_likelihood(X_pl, W, b, c).mean()),
            "reconstruction_error": common.reconstruction_error(X_train, W, b, c),
        }

    t0 = time.perf_counter()
    W, b, c, hist = common.run_training(
        X_train,
        cfg["n_hidden"],
        learning_rate=cfg["learning_rate"],
        batch_size=cfg["batch_size"],
        n_epochs=cfg["n_epochs"],
        rng=train_seed,
        on_epoch=on_epoch,
        **spec,
    )
    t_train = time.perf_counter() - t0
    exact = rbm.log_partition(W, b, c)
    n_chains = cfg["ais_chains"]
    fwd = ais_log_partition(
        W,
        b,
        c,
        n_chains=n_chains,
        betas=default_betas(cfg["ais_steps"]),
        base=base,
        rng=20 + stream,
    )
    short = ais_log_partition(
        W,
        b,
        c,
        n_chains=n_chains,
        betas=default_betas(cfg["short_ais_steps"]),
        base=base,
        rng=30 + stream,
    )
    start = X_train[np.random.default_rng(40 + stream).choice(len(X_train), n_chains)]
    rev = reverse_ais_log_partition(
        W,
        b,
        c,
        start,
        betas=default_betas(cfg["reverse_steps"]),
        base=base,
        n_gibbs=cfg["reverse_gibbs"],
        rng=40 + stream,
    )
    ais = {
        "exact_log_z": exact,
        "forward": [fwd.log_z, fwd.log_z_low, fwd.log_z_high],
        "forward_short": [short.log_z, short.log_z_low, short.log_z_high],
        "reverse": [rev.log_z, rev.log_z_low, rev.log_z_high],
        "ess_forward": effective_chains(fwd.log_weights),
        "ess_forward_short": effective_chains(short.log_weights),
        "ess_reverse": effective_chains(rev.log_weights),
        "n_chains": n_chains,
        "n_betas": len(default_betas(cfg["ais_steps"])),
        "n_betas_short": len(default_betas(cfg["short_ais_steps"])),
        "n_betas_reverse": len(default_betas(cfg["reverse_steps"])),
    }
    print(
        f"{name} (training seed {train_seed}): test LL {hist['test_log_likelihood'][-1]:.2f}; "
        f"log Z exact {exact:.2f}, AIS {fwd.log_z:.2f}, short AIS {short.log_z:.2f}, "
        f"reverse {rev.log_z:.2f} ({t_train:.0f} s training)",
        flush=True,
    )
    training = {**spec, "seed": train_seed, "seconds": round(t_train, 1)}
    return {**hist, "training": training, "ais": ais, "W": W, "b": b, "c": c}


if __name__ == "__main__":
    sys.exit(main())
