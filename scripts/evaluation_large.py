"""The article's RBM and a small one, with test log-likelihoods by AIS (chapter 11).

Models (full run):

- ``article64``: the source article's model, 784 -> 64, CD-1, learning rate 0.1,
  batch 64, 10 epochs, Xavier initialisation, grey-level pixels, no shuffling,
  trained here on the 60,000 training images only;
- ``pcd16``: 784 -> 16, PCD-1 on stochastically binarised training images, small
  enough for an exact log Z beside the AIS one.

The 784 -> 500 models are trained for longer, with checkpoints, by
``reproduce_published.py``.

Each model's log Z is estimated by forward AIS (Salakhutdinov & Murray's
schedule, 14,501 inverse temperatures, 100 chains, base-rate model fitted to the
binarised training images) and by reverse AIS started from long Gibbs chains
initialised at training images. The test set is the 10,000 standard test
images, binarised stochastically once with a fixed seed.

Usage::

    python scripts/evaluation_large.py                 # full run, writes results/evaluation_large/
    python scripts/evaluation_large.py --quick --out /tmp/x   # a one-minute smoke run

It writes ``metrics.json`` and one ``<model>.npz`` (W, b, c in float32) per model.
``--models`` runs some models only; their entries in ``metrics.json`` are replaced
whole and the others kept, so each entry comes from one run of its model.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import evaluation_common as common

import rbm
from rbm.ais import (
    ais_log_partition,
    base_rate_bias,
    default_betas,
    log_likelihood_ais,
    reverse_ais_log_partition,
)
from rbm.io import atomic_savez, atomic_write_json

ROOT = Path(__file__).resolve().parents[1]

FULL = {
    "n_train": 60000,
    "n_test": 10000,
    "ais_steps": None,  # Salakhutdinov & Murray's 14,500 steps
    "ais_chains": 100,
    "reverse_steps": 1000,  # reverse AIS brackets log Z from above
    "reverse_gibbs": 200,
    "models": {
        "article64": dict(
            n_hidden=64, k=1, learning_rate=0.1, batch_size=64, n_epochs=10,
            init="xavier", visible_bias="zeros", shuffle=False, grey=True,
            reverse_steps=2000, reverse_gibbs=1000,
        ),
        "pcd16": dict(
            n_hidden=16, k=1, persistent=True, learning_rate=0.01, batch_size=100,
            n_epochs=50, init="normal", seed_index=4,
        ),
    },
}  # fmt: skip

QUICK = {
    "n_train": 2000,
    "n_test": 1000,
    "ais_steps": 300,
    "ais_chains": 16,
    "reverse_steps": 300,
    "reverse_gibbs": 50,
    "models": {
        "article64": dict(
            n_hidden=64, k=1, learning_rate=0.1, batch_size=64, n_epochs=1,
            init="xavier", visible_bias="zeros", shuffle=False, grey=True,
        ),
        "pcd16": dict(
            n_hidden=16, k=1, persistent=True, learning_rate=0.01, batch_size=100, n_epochs=1,
        ),
    },
}  # fmt: skip


def evaluate(name, W, b, c, X_train_bin, X_test, base, cfg, seed, ais_steps=None, **reverse):
    """Forward and reverse AIS on one model, and the log-likelihoods they give.

    ``reverse`` may override ``reverse_steps`` and ``reverse_gibbs`` of ``cfg`` for this model.
    """
    cfg = {**cfg, **reverse}
    betas = default_betas(ais_steps or cfg["ais_steps"])
    t0 = time.perf_counter()
    fwd = ais_log_partition(W, b, c, n_chains=cfg["ais_chains"], betas=betas, base=base, rng=seed)
    t_fwd = time.perf_counter() - t0
    rng = np.random.default_rng(seed + 1)
    start = X_train_bin[rng.choice(len(X_train_bin), cfg["ais_chains"], replace=False)]
    t0 = time.perf_counter()
    rev = reverse_ais_log_partition(
        W, b, c, start, betas=default_betas(cfg["reverse_steps"]), base=base,
        n_gibbs=cfg["reverse_gibbs"], rng=seed + 2,
    )  # fmt: skip
    t_rev = time.perf_counter() - t0
    test = log_likelihood_ais(X_test, W, b, c, ais_result=fwd)
    train = log_likelihood_ais(X_train_bin[: cfg["n_test"]], W, b, c, ais_result=fwd)
    mean_neg_f_test = test.log_likelihood + fwd.log_z
    out = {
        "n_hidden": int(W.shape[1]),
        "ais": {
            "log_z": fwd.log_z,
            "log_z_low": fwd.log_z_low,
            "log_z_high": fwd.log_z_high,
            "log_z_base": fwd.log_z_base,
            "log_weights": np.round(fwd.log_weights, 4).tolist(),
            "n_betas": len(betas),
            "n_chains": cfg["ais_chains"],
            "seconds": round(t_fwd, 1),
        },
        "reverse_ais": {
            "log_z": rev.log_z,
            "log_z_low": rev.log_z_low,
            "log_z_high": rev.log_z_high,
            "log_weights": np.round(rev.log_weights, 4).tolist(),
            "n_gibbs": cfg["reverse_gibbs"],
            "n_betas": len(default_betas(cfg["reverse_steps"])),
            "seconds": round(t_rev, 1),
        },
        "test_log_likelihood": test.log_likelihood,
        "test_log_likelihood_reverse": mean_neg_f_test - rev.log_z,
        "train_log_likelihood": train.log_likelihood,
    }
    if W.shape[1] <= 20:  # exact log Z is affordable
        out["exact_log_z"] = rbm.log_partition(W, b, c)
    print(
        f"{name}: log Z AIS {fwd.log_z:.2f} [{fwd.log_z_low:.2f}, {fwd.log_z_high:.2f}], "
        f"reverse {rev.log_z:.2f}; test LL {test.log_likelihood:.2f}, "
        f"train LL {train.log_likelihood:.2f} ({t_fwd:.0f} s + {t_rev:.0f} s)",
        flush=True,
    )
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run (~1 minute)")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "evaluation_large")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models", nargs="*", help="train only these models")
    args = parser.parse_args(argv)
    common.limit_blas_threads()
    cfg = QUICK if args.quick else FULL
    args.out.mkdir(parents=True, exist_ok=True)
    seed = args.seed

    X_grey = rbm.datasets.load_mnist("train")[0][: cfg["n_train"]]
    X_train, X_test = common.binarized_mnist(cfg["n_train"], cfg["n_test"], seed)
    base = base_rate_bias(X_train, eps=1e-3)

    metrics_path = args.out / "metrics.json"
    metrics = {
        "protocol": {
            "n_train": len(X_train),
            "n_test": len(X_test),
            "binarisation": f"stochastic, drawn once (seeds {seed}, {seed + 100})",
            "base_rate_eps": 1e-3,
            "quick": bool(args.quick),
        },
        "models": {},
    }
    # A model's seeds come from its position in the table, or its seed_index: the
    # committed pcd16 was trained when it was fifth, after three 500-unit models.
    for i, (name, spec) in enumerate(cfg["models"].items()):
        if args.models and name not in args.models:
            continue
        spec = dict(spec)
        i = spec.pop("seed_index", i)
        grey = spec.pop("grey", False)
        ais_steps = spec.pop("ais_steps", None)
        reverse = {key: spec.pop(key) for key in ("reverse_steps", "reverse_gibbs") if key in spec}
        t0 = time.perf_counter()
        W, b, c, hist = common.run_training(X_grey if grey else X_train, rng=seed + 10 + i, **spec)
        t_train = time.perf_counter() - t0
        print(f"{name}: trained in {t_train:.0f} s", flush=True)
        atomic_savez(args.out / f"{name}.npz", compressed=True, W=W, b=b, c=c)
        result = evaluate(
            name,
            W,
            b,
            c,
            X_train,
            X_test,
            base,
            cfg,
            seed=seed + 20 + i,
            ais_steps=ais_steps,
            **reverse,
        )
        result["training"] = {**spec, "grey_levels": grey, "seconds": round(t_train, 1)}
        result["training"]["train_seconds_per_epoch"] = hist["train_seconds"]
        result["recon_error_test"] = common.reconstruction_error(X_test, W, b, c)
        # after every model; runs of single models (--models) in parallel merge their results
        if metrics_path.exists():
            metrics["models"] = {**json.loads(metrics_path.read_text())["models"]}
        metrics["models"][name] = result
        atomic_write_json(metrics_path, metrics)
    return 0


if __name__ == "__main__":
    sys.exit(main())
