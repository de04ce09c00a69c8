"""Hinton's (2010) practical recommendations, each tested on MNIST with exact log-likelihoods.

Every run trains an RBM 784-16 by CD-1 on a subset of MNIST binarised by
thresholding at 0.5 (``load_mnist(..., binarize="threshold")``), and measures
the exact mean log-likelihood of the training subset and of the full 10,000
test images (exact log Z by enumerating the 2^16 hidden states,
:func:`rbm.log_partition`) at a few epochs. One recommendation is varied at a
time against a plain baseline; each setting is run with the same seeds, and a
seed fixes the initial weights and the batch order (see :func:`run_config`), so
that two settings can be compared seed by seed. A control group trains with
PCD-1 (:func:`rbm.pcd_k`) instead of CD-1.

Training runs the package's loop (:func:`rbm.training.train`). The gradient
plugged into it is written here, from :func:`rbm.h_given_v`,
:func:`rbm.v_given_h` and :func:`rbm.sample_bernoulli`, because some of the
options tested (samples against probabilities in the statistics, a sparsity
target) are not options of :func:`rbm.cd_k`; with ``statistics="mixed"``, no
decay and no sparsity it is :func:`rbm.cd_k`'s estimate.

Run:   .venv/bin/python scripts/practice_experiments.py [--quick] [--out DIR]
Writes DIR/metrics.json (default DIR: results/practice_experiments).
"""

from __future__ import annotations

import os

# One BLAS thread: small matrices, on a machine shared with other jobs.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import rbm  # noqa: E402
from rbm import training  # noqa: E402
from rbm.io import atomic_write_text  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

#: The baseline: plain CD-1 with the guide's initialisation, and nothing else.
BASELINE = {
    "learning_rate": 0.05,
    "batch_size": 100,
    "momentum": 0.0,  # a float, or [initial, final] switched after MOMENTUM_SWITCH epochs
    "weight_decay": 0.0,
    "visible_bias_init": "marginals",
    "statistics": "probabilities",
    "sparsity_target": None,
    "sparsity_cost": 0.0,
    "estimator": "cd",  # or "pcd": PCD-1 (rbm.pcd_k) on persistent chains, a control
}
MOMENTUM_SWITCH = 2  # Hinton: 0.5 at first, 0.9 once the large initial changes are over
OVERFIT_BATCH_SIZE = 10  # many updates on few images, so that over-fitting shows quickly
SPARSITY_DECAY = 0.95  # the running mean q of each hidden unit's activity (Hinton: 0.9-0.99)

#: Each group varies one setting of the baseline: group -> {label: changes}.
GROUPS = {
    "learning_rate": {
        "0.005": {"learning_rate": 0.005},
        "0.05": {},
        "0.5": {"learning_rate": 0.5},
        "2.0": {"learning_rate": 2.0},
    },
    "momentum": {
        "none": {},
        "0.5": {"momentum": 0.5},
        "0.9": {"momentum": 0.9},
        "0.5 then 0.9": {"momentum": [0.5, 0.9]},
    },
    "weight_decay": {
        "0": {},
        "1e-4": {"weight_decay": 1e-4},
        "1e-3": {"weight_decay": 1e-3},
        "1e-2": {"weight_decay": 1e-2},
    },
    "visible_bias_init": {
        "zeros": {"visible_bias_init": "zeros"},
        "log(p/(1-p))": {},
    },
    "batch_size": {
        "10": {"batch_size": 10},
        "100": {},
        "1000": {"batch_size": 1000},
    },
    "statistics": {
        "samples": {"statistics": "samples"},
        "mixed": {"statistics": "mixed"},
        "probabilities": {},
    },
    "sparsity": {
        "none": {},
        "target 0.1": {"sparsity_target": 0.1, "sparsity_cost": 0.1},
        "target 0.02": {"sparsity_target": 0.02, "sparsity_cost": 0.1},
    },
    # the control for the learning rate's decline: is it CD-1's bias, or the step size?
    "estimator": {
        "CD-1, lr 0.5": {"learning_rate": 0.5},
        "PCD-1, lr 0.5": {"learning_rate": 0.5, "estimator": "pcd"},
        "PCD-1, lr 0.05": {"estimator": "pcd"},
    },
}


def cd1_statistics(v, W, b, c, statistics, rng):
    r"""The CD-1 statistics of one batch, with samples or probabilities where chosen.

    The chain is always driven by a sampled :math:`\mathbf h^{(0)} \sim p(\mathbf h
    \mid \mathbf v)`. Then, for the pairs :math:`\langle v_i h_j \rangle`:

    - "samples": binary states everywhere, :math:`\langle \mathbf v \mathbf h^{(0)\top}
      \rangle - \langle \mathbf v^{(1)} \mathbf h^{(1)\top} \rangle`, with
      :math:`\mathbf v^{(1)}, \mathbf h^{(1)}` sampled;
    - "mixed" (:func:`rbm.cd_k`): :math:`\mathbb E[\mathbf h \mid \mathbf v]` in the
      positive phase, a sampled :math:`\mathbf v^{(1)}` and
      :math:`\mathbb E[\mathbf h \mid \mathbf v^{(1)}]` in the negative phase;
    - "probabilities" (Hinton 2010, sections 3.2-3.4): as "mixed", but the
      reconstruction is the probability :math:`\mathbf p^{(1)} = \mathbb E[\mathbf v \mid
      \mathbf h^{(0)}]`, not a sample.

    Returns (dW, db, dc, mean hidden probability of the data per unit); shapes
    (n_visible, n_hidden), (n_visible,), (n_hidden,), (n_hidden,).
    """
    ph0 = rbm.h_given_v(v, W, c)
    h0 = rbm.sample_bernoulli(ph0, rng)
    pv1 = rbm.v_given_h(h0, W, b)
    v1 = pv1 if statistics == "probabilities" else rbm.sample_bernoulli(pv1, rng)
    ph1 = rbm.h_given_v(v1, W, c)
    if statistics == "samples":
        pos, neg = h0, rbm.sample_bernoulli(ph1, rng)
    else:
        pos, neg = ph0, ph1
    m = len(v)
    dW = (v.T @ pos - v1.T @ neg) / m
    db = (v - v1).mean(axis=0)
    dc = (pos - neg).mean(axis=0)
    return dW, db, dc, ph0.mean(axis=0)


def evaluate(W, b, c, X_train, X_test):
    """Exact mean log-likelihoods (exact log Z) and mean free energies of two data sets."""
    log_z = rbm.log_partition(W, b, c)
    f_train = rbm.free_energy(X_train, W, b, c)
    f_test = rbm.free_energy(X_test, W, b, c)
    return {
        "log_z": float(log_z),
        "train_ll": float(-f_train.mean() - log_z),
        "test_ll": float(-f_test.mean() - log_z),
        "train_free_energy": float(f_train.mean()),
        "test_free_energy": float(f_test.mean()),
    }


def run_config(X, X_test, config, n_hidden, n_epochs, eval_epochs, seed):
    """Train by CD-1 with ``config`` (see BASELINE); return per-epoch records.

    The loop is :func:`rbm.training.train`; the gradient plugged into it is,
    per batch of size m, with g = (dW, db, dc) from :func:`cd1_statistics`,

        g_W <- g_W - weight_decay * W - sparsity_cost * <v> (q - target)
        g_c <- g_c - sparsity_cost * (q - target)

    then velocity <- momentum * velocity + learning_rate * g; params += velocity,
    where q is the running mean activity of each hidden unit (Hinton 2010, section 11).
    With ``estimator="pcd"``, g is :func:`rbm.pcd_k`'s PCD-1 estimate instead, on
    ``batch_size`` persistent chains started at the first training images.

    The seed's generator draws only the initial weights and the order of the
    batches; the Gibbs samples come from a second generator of the same seed.
    So two settings run with the same seed (and batch size) start from the same
    weights and see the same batches in the same order: a paired comparison.
    """
    gibbs_rng = np.random.default_rng([seed, 1])
    target, cost = config["sparsity_target"], config["sparsity_cost"]
    persistent = config["estimator"] == "pcd"
    q = np.full(n_hidden, 0.5)
    batch = {}  # what the gradient saw, for the records of the update that follows
    epoch_stats = {"update_ratio": [], "mean_activity": []}

    def gradient(v, chain, W, b, c, k, rng):
        nonlocal q
        if persistent:
            (dW, db, dc), chain = rbm.pcd_k(v, chain, W, b, c, k=1, rng=gibbs_rng)
            act = rbm.h_given_v(v, W, c).mean(axis=0)
        else:
            dW, db, dc, act = cd1_statistics(v, W, b, c, config["statistics"], gibbs_rng)
        q = SPARSITY_DECAY * q + (1 - SPARSITY_DECAY) * act
        dW -= config["weight_decay"] * W
        if target is not None:
            dW -= cost * np.outer(v.mean(axis=0), q - target)
            dc -= cost * (q - target)
        batch["mean_abs_weight"] = np.abs(W).mean()
        epoch_stats["mean_activity"].append(act.mean())
        return (dW, db, dc), chain

    def record(step, W, b, c):
        ratio = np.abs(step[0]).mean() / batch["mean_abs_weight"]
        epoch_stats["update_ratio"].append(float(ratio))

    rec = {"epoch": [], "update_ratio": [], "mean_activity": [], "mean_abs_weight": []}
    evals = {"epoch": [], "log_z": [], "train_ll": [], "test_ll": []}
    evals |= {"train_free_energy": [], "test_free_energy": []}

    def on_epoch(epoch, W, b, c):
        epoch += 1
        rec["epoch"].append(epoch)
        rec["update_ratio"].append(float(np.mean(epoch_stats["update_ratio"])))
        rec["mean_activity"].append(float(np.mean(epoch_stats["mean_activity"])))
        rec["mean_abs_weight"].append(float(np.abs(W).mean()))
        for values in epoch_stats.values():
            values.clear()
        if epoch in eval_epochs:
            evals["epoch"].append(epoch)
            for key, value in evaluate(W, b, c, X, X_test).items():
                evals[key].append(value)

    W, b, c, history = training.train(
        X,
        n_hidden,
        n_epochs=n_epochs,
        learning_rate=config["learning_rate"],
        momentum=config["momentum"],
        momentum_switch=MOMENTUM_SWITCH,
        batch_size=config["batch_size"],
        persistent=persistent,
        init="normal",
        visible_bias_init=config["visible_bias_init"],
        gradient=gradient,
        on_update=record,
        callback=on_epoch,
        rng=np.random.default_rng(seed),
    )
    return {"per_epoch": rec, "evaluations": evals, "diverged": history["diverged"]}, (W, b, c)


def overfitting_run(X_small, X_valid, X_test, n_hidden, n_epochs, eval_epochs, seed):
    """Baseline training, in batches of 10, on a tiny subset; free energies of train and
    validation data every epoch, exact log-likelihoods at ``eval_epochs``."""
    config = BASELINE | {"batch_size": OVERFIT_BATCH_SIZE}
    out = {k: [] for k in ("epoch", "train_free_energy", "valid_free_energy")}
    out |= {"eval_epoch": [], "train_ll": [], "valid_ll": [], "test_ll": []}

    def gradient(v, chain, W, b, c, k, rng):
        return cd1_statistics(v, W, b, c, config["statistics"], rng)[:3], None

    def on_epoch(epoch, W, b, c):
        epoch += 1
        out["epoch"].append(epoch)
        out["train_free_energy"].append(float(rbm.free_energy(X_small, W, b, c).mean()))
        out["valid_free_energy"].append(float(rbm.free_energy(X_valid, W, b, c).mean()))
        if epoch in eval_epochs:
            log_z = rbm.log_partition(W, b, c)
            out["eval_epoch"].append(epoch)
            out["train_ll"].append(float(-out["train_free_energy"][-1] - log_z))
            out["valid_ll"].append(float(-out["valid_free_energy"][-1] - log_z))
            out["test_ll"].append(float(-rbm.free_energy(X_test, W, b, c).mean() - log_z))

    training.train(
        X_small,
        n_hidden,
        n_epochs=n_epochs,
        learning_rate=config["learning_rate"],
        batch_size=config["batch_size"],
        init="normal",
        visible_bias_init=config["visible_bias_init"],
        gradient=gradient,
        callback=on_epoch,
        rng=np.random.default_rng(seed),
    )
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a shortened run (under a minute)")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "practice_experiments")
    args = parser.parse_args(argv)
    if args.quick:
        protocol = {
            "n_train": 1000,
            "n_test": 1000,
            "n_epochs": 2,
            "eval_epochs": [1, 2],
            "seeds": [0, 1],
            "n_hidden": 8,
            "overfit_n_train": 100,
            "overfit_n_valid": 500,
            "overfit_epochs": 4,
            "overfit_eval_epochs": [2, 4],
        }
    else:  # sized for about 25 minutes on a loaded 2-core machine
        protocol = {
            "n_train": 10_000,
            "n_test": 10_000,
            "n_epochs": 20,  # 2,000 updates in batches of 100
            "eval_epochs": [1, 2, 5, 10, 20],
            "seeds": [0, 1, 2, 3, 4, 5],  # paired comparisons: the sign test needs >= 6
            "n_hidden": 16,
            "overfit_n_train": 100,
            "overfit_n_valid": 2000,
            "overfit_epochs": 300,
            "overfit_eval_epochs": [1, 5, 10, 20, 40, 60, 90, 120, 150, 200, 250, 300],
        }
    protocol |= {
        "quick": args.quick,
        "binarize": "threshold",
        "threshold": 0.5,
        "k": 1,
        "baseline": BASELINE,
        "momentum_switch_epoch": MOMENTUM_SWITCH,
        "sparsity_decay": SPARSITY_DECAY,
        "init": "normal(0, 0.01)",
        "overfit_batch_size": OVERFIT_BATCH_SIZE,
        "dtype": "float32",
    }
    args.out.mkdir(parents=True, exist_ok=True)
    X_all, _ = rbm.datasets.load_mnist("train", binarize="threshold")
    X_test, _ = rbm.datasets.load_mnist("test", binarize="threshold")
    X_test = X_test[: protocol["n_test"]]
    # a fixed random subset of the training split; validation images are disjoint from it
    perm = np.random.default_rng(12345).permutation(len(X_all))
    X = X_all[perm[: protocol["n_train"]]]
    X_valid = X_all[perm[-protocol["overfit_n_valid"] :]]
    X_small = X_all[perm[: protocol["overfit_n_train"]]]

    started = time.time()
    cache, groups = {}, {}
    for group, settings in GROUPS.items():
        groups[group] = {}
        for label, changes in settings.items():
            config = BASELINE | changes
            key = json.dumps(config, sort_keys=True)
            if key not in cache:
                cache[key] = {}
                for seed in protocol["seeds"]:
                    run, _ = run_config(
                        X,
                        X_test,
                        config,
                        protocol["n_hidden"],
                        protocol["n_epochs"],
                        set(protocol["eval_epochs"]),
                        seed,
                    )
                    cache[key][str(seed)] = run
                print(f"{group:>18} {label:>14}  {time.time() - started:7.1f} s", flush=True)
            groups[group][label] = {"config": config, "runs": cache[key]}
    overfit = {
        str(seed): overfitting_run(
            X_small,
            X_valid,
            X_test,
            protocol["n_hidden"],
            protocol["overfit_epochs"],
            set(protocol["overfit_eval_epochs"]),
            seed,
        )
        for seed in protocol["seeds"]
    }
    print(f"{'overfitting':>18} {'':>14}  {time.time() - started:7.1f} s", flush=True)
    metrics = {
        "protocol": protocol,
        "groups": groups,
        "overfitting": overfit,
        "wall_time_s": round(time.time() - started, 1),
    }
    atomic_write_text(args.out / "metrics.json", json.dumps(metrics, indent=1) + "\n")
    return metrics


if __name__ == "__main__":
    main()
