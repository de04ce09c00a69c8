"""Long CD-k runs of 784-25 and 784-500 RBMs, checkpointed, and their likelihoods (chapter 11).

The models are the sizes and rules of Salakhutdinov & Murray's (2008) rows:
CD-1, CD-3 and CD-25 with 25 hidden units (exact log Z) and with 500 (AIS).
Their paper's training settings could not be checked from here (see
chapter 11), so the settings below are the book's, taken from Hinton's
practical guide (2010): learning rate 0.05, batch 100, momentum 0.5 for the
first 5 epochs and 0.9 after, L2 weight decay 2e-4 on W, W ~ N(0, 0.01^2),
visible biases at the logits of the pixel means, hidden biases 0. CD-25's k
rises by one every two epochs, from 1 to 25 (reached at epoch 49). The
training images are binarised stochastically once (seed 0), the test images
once with seed 100, as in ``evaluation_large.py``.

Every schedule depends only on the epoch, never on the planned length, so a
run of N epochs is the first N epochs of any longer run: ``--epochs`` can be
raised later and ``--resume`` continues from the checkpoint.

Usage::

    python scripts/reproduce_published.py train --models cd1_500 --epochs 50 --resume
    python scripts/reproduce_published.py evaluate --models cd1_500
    python scripts/reproduce_published.py --quick --out /tmp/x   # train + evaluate, ~1 minute

``train`` writes ``checkpoints/<model>.npz`` after every epoch (parameters,
momentum, the generator's state and the history, so a resumed run continues
bit for bit) and ``<model>.npz`` (W, b, c in float32). ``evaluate`` writes
``<model>.json``: exact log Z where the hidden layer allows,
several independent forward AIS runs with Salakhutdinov & Murray's 14,501
inverse temperatures, one reverse AIS run, and the effective sample size and
largest weight share of each. ``raise`` adds RAISE (Burda et al. 2015), one
reverse chain from each of the first test images, beside forward AIS on the same
images.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from scipy.special import logsumexp

sys.path.insert(0, str(Path(__file__).resolve().parent))
import evaluation_common as common

import rbm
from rbm import training
from rbm.ais import (
    ais_log_partition,
    base_rate_bias,
    default_betas,
    effective_sample_size,
    log_likelihood_ais,
    max_weight_share,
    raise_log_likelihood,
    reverse_ais_log_partition,
)
from rbm.io import atomic_savez, atomic_write_json

ROOT = Path(__file__).resolve().parents[1]

PROTOCOL = {
    "learning_rate": 0.05,
    "batch_size": 100,
    "momentum": [0.5, 0.9],
    "momentum_switch": 5,
    "weight_decay": 2e-4,
    "init": "normal",
    "visible_bias_init": "marginals",
    "k_ramp_epochs": 2,  # CD-25: k = min(25, 1 + epoch // 2)
    # evaluation_common.binarized_mnist draws the test images with the training seed + 100
    "train_binarisation_seed": 0,
    "test_binarisation_seed": 100,
}

MODELS = {  # name: (n_hidden, final k, training seed)
    "cd1_25": (25, 1, 11),
    "cd3_25": (25, 3, 12),
    "cd25_25": (25, 25, 13),
    "cd1_500": (500, 1, 21),
    "cd3_500": (500, 3, 22),
    "cd25_500": (500, 25, 23),
}

FULL = {"n_train": 60000, "n_test": 10000, "ais_steps": None, "ais_chains": 100, "ais_runs": 3,
        "reverse_steps": None, "reverse_gibbs": 1000,
        "raise_steps": 1000, "raise_images": 500}  # fmt: skip
QUICK = {"n_train": 1000, "n_test": 500, "ais_steps": 200, "ais_chains": 16, "ais_runs": 2,
         "reverse_steps": 200, "reverse_gibbs": 20, "raise_steps": 100, "raise_images": 50,
         "epochs": 2}  # fmt: skip
QUICK_MODELS = {"cd1_25": (12, 1, 11), "cd25_500": (20, 25, 23)}  # small: exact log Z in a blink


def k_at(final_k, epoch):
    """CD-k's k in ``epoch`` (from 0): ``final_k`` throughout, except CD-25, which ramps up."""
    if final_k < 25:
        return final_k
    return min(final_k, 1 + epoch // PROTOCOL["k_ramp_epochs"])


def load_data(cfg):
    """Binarised training and test images, drawn once, as in evaluation_large.py."""
    seed = PROTOCOL["train_binarisation_seed"]
    assert PROTOCOL["test_binarisation_seed"] == seed + 100  # binarized_mnist's convention
    return common.binarized_mnist(cfg["n_train"], cfg["n_test"], seed)


# --- training, checkpointed after every epoch ------------------------------------------


def _fresh_state(X, n_hidden, seed):
    rng = np.random.default_rng(seed)
    W, b, c = training.init_params(
        X, n_hidden, PROTOCOL["init"], PROTOCOL["visible_bias_init"], rng
    )
    velocity = tuple(np.zeros_like(p) for p in (W, b, c))
    return {"W": W, "b": b, "c": c, "velocity": velocity, "rng": rng, "history": []}


def save_checkpoint(path, state):
    """Everything a resumed run needs, in one atomic ``.npz`` (no pickle: JSON strings)."""
    vW, vb, vc = state["velocity"]
    atomic_savez(
        path,
        W=state["W"], b=state["b"], c=state["c"], vW=vW, vb=vb, vc=vc,
        rng_state=np.array(json.dumps(state["rng"].bit_generator.state)),
        history=np.array(json.dumps(state["history"])),
    )  # fmt: skip


def load_checkpoint(path):
    with np.load(path, allow_pickle=False) as f:
        rng = np.random.default_rng()
        rng.bit_generator.state = json.loads(str(f["rng_state"]))
        return {
            "W": f["W"], "b": f["b"], "c": f["c"],
            "velocity": (f["vW"], f["vb"], f["vc"]),
            "rng": rng,
            "history": json.loads(str(f["history"])),
        }  # fmt: skip


def train_model(name, spec, X, n_epochs, out, resume):
    """Train ``name`` to ``n_epochs`` epochs, from its checkpoint if ``resume``."""
    n_hidden, final_k, seed = spec
    ckpt = out / "checkpoints" / f"{name}.npz"
    if resume and ckpt.exists():
        state = load_checkpoint(ckpt)
        print(f"{name}: resuming after epoch {len(state['history'])}", flush=True)
    else:
        state = _fresh_state(X, n_hidden, seed)
    W, b, c = state["W"], state["b"], state["c"]
    schedule = tuple(PROTOCOL["momentum"])
    for epoch in range(len(state["history"]), n_epochs):
        k = k_at(final_k, epoch)
        stats = training.train_epoch(
            X, W, b, c,
            k=k,
            learning_rate=PROTOCOL["learning_rate"],
            momentum=training.momentum_at(schedule, epoch, PROTOCOL["momentum_switch"]),
            weight_decay=PROTOCOL["weight_decay"],
            velocity=state["velocity"],
            batch_size=PROTOCOL["batch_size"],
            monitor=False,
            rng=state["rng"],
        )  # fmt: skip
        if stats["diverged"]:
            raise RuntimeError(f"{name} diverged in epoch {epoch + 1}")
        state["history"].append({"epoch": epoch + 1, "k": k, "seconds": round(stats["time"], 2)})
        save_checkpoint(ckpt, state)
        print(f"{name}: epoch {epoch + 1} (k={k}) in {stats['time']:.1f} s", flush=True)
    atomic_savez(out / f"{name}.npz", compressed=True, W=W, b=b, c=c)
    return state


# --- evaluation ------------------------------------------------------------------------


def weight_diagnostics(log_w):
    """The run's effective sample size and its largest weight's share, for the JSON file."""
    return {"ess": effective_sample_size(log_w), "max_share": max_weight_share(log_w)}


def evaluate_model(name, X_train, X_test, out, cfg, seed):
    """Exact log Z if affordable, ``ais_runs`` forward AIS runs and a reverse one, as a dict."""
    with np.load(out / f"{name}.npz") as f:
        W, b, c = (f[key].astype(np.float64) for key in ("W", "b", "c"))
    # AIS runs in float32 products (rbm.ais's compiled engine, about 20 times faster
    # than the float64 loop here); free energies and exact log Z stay in float64.
    W32 = W.astype(np.float32)
    base = base_rate_bias(X_train, eps=1e-3)
    betas = default_betas(cfg["ais_steps"])
    runs = []
    for r in range(cfg["ais_runs"]):
        t0 = time.perf_counter()
        res = ais_log_partition(W32, b, c, n_chains=cfg["ais_chains"], betas=betas, base=base,
                                rng=seed + r)  # fmt: skip
        runs.append({
            "log_z": res.log_z, "log_z_low": res.log_z_low, "log_z_high": res.log_z_high,
            **weight_diagnostics(res.log_weights), "seconds": round(time.perf_counter() - t0, 1),
            "log_weights": np.round(res.log_weights, 4).tolist(),
        })  # fmt: skip
        print(f"{name}: AIS run {r}: log Z {res.log_z:.3f}, ESS {runs[-1]['ess']:.1f}", flush=True)
    # All runs' weights together: one estimate from ais_runs * ais_chains chains.
    pooled_w = np.concatenate([run["log_weights"] for run in runs])
    pooled = float(logsumexp(pooled_w) - np.log(len(pooled_w)) + res.log_z_base)
    rng = np.random.default_rng(seed + 100)
    start = X_train[rng.choice(len(X_train), cfg["ais_chains"], replace=False)]
    t0 = time.perf_counter()
    rev = reverse_ais_log_partition(
        W32, b, c, start, betas=default_betas(cfg["reverse_steps"]), base=base,
        n_gibbs=cfg["reverse_gibbs"], rng=seed + 101,
    )  # fmt: skip
    t_rev = time.perf_counter() - t0
    mean_neg_f = {
        split: float(log_likelihood_ais(X, W, b, c, ais_result=res).log_likelihood + res.log_z)
        for split, X in (("test", X_test), ("train", X_train[: len(X_test)]))
    }
    result = {
        "n_hidden": int(W.shape[1]),
        "ais_runs": runs,
        "ais_log_z_pooled": pooled,
        "ais_log_z_mean": float(np.mean([run["log_z"] for run in runs])),
        "ais_log_z_sd": float(np.std([run["log_z"] for run in runs], ddof=1)),
        "ais_n_betas": len(betas),
        "reverse_ais": {
            "log_z": rev.log_z,
            "log_z_low": rev.log_z_low,
            "log_z_high": rev.log_z_high,
            **weight_diagnostics(rev.log_weights),
            "n_gibbs": cfg["reverse_gibbs"],
            "n_betas": len(default_betas(cfg["reverse_steps"])),
            "seconds": round(t_rev, 1),
        },
        "mean_neg_free_energy": mean_neg_f,
        "test_log_likelihood": mean_neg_f["test"] - pooled,
        "train_log_likelihood": mean_neg_f["train"] - pooled,
        "test_log_likelihood_reverse": mean_neg_f["test"] - rev.log_z,
        "recon_error_test": common.reconstruction_error(X_test, W, b, c),
    }
    if W.shape[1] <= rbm.MAX_EXACT_UNITS:
        t0 = time.perf_counter()
        exact = rbm.log_partition(W, b, c)
        result["exact_log_z"] = exact
        result["exact_seconds"] = round(time.perf_counter() - t0, 1)
        result["test_log_likelihood_exact"] = mean_neg_f["test"] - exact
    ckpt = out / "checkpoints" / f"{name}.npz"
    if ckpt.exists():
        result["training_history"] = load_checkpoint(ckpt)["history"]
    print(f"{name}: test LL {result['test_log_likelihood']:.2f} "
          f"(reverse {result['test_log_likelihood_reverse']:.2f})", flush=True)  # fmt: skip
    return result


def raise_model(name, X_train, X_test, out, cfg, seed):
    """RAISE on the first ``raise_images`` test images (one reverse chain each), added to
    ``<name>.json`` beside forward AIS's log-likelihood of the same images."""
    path = out / f"{name}.json"
    result = json.loads(path.read_text())
    with np.load(out / f"{name}.npz") as f:
        W, b, c = (f[key].astype(np.float64) for key in ("W", "b", "c"))
    X = X_test[: cfg["raise_images"]].astype(np.float64)
    base = base_rate_bias(X_train, eps=1e-3)
    t0 = time.perf_counter()
    raised = raise_log_likelihood(X, W.astype(np.float32), b, c,
                                  betas=default_betas(cfg["raise_steps"]), base=base,
                                  rng=seed + 200)  # fmt: skip
    neg_f = -rbm.free_energy(X, W, b, c)
    result["raise"] = {
        "n_images": len(X),
        "n_betas": cfg["raise_steps"] + 1,
        "mean_log_p": raised.mean_log_p,
        "se": float(np.std(raised.log_p, ddof=1) / np.sqrt(len(X))),
        "ais_same_images": float(neg_f.mean() - result["ais_log_z_pooled"]),
        "exact_same_images": (
            float(neg_f.mean() - result["exact_log_z"]) if "exact_log_z" in result else None
        ),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    print(f"{name}: RAISE {raised.mean_log_p:.2f} against AIS "
          f"{result['raise']['ais_same_images']:.2f} on {len(X)} images", flush=True)  # fmt: skip
    atomic_write_json(path, result)


def record(out, name, result, cfg):
    """Write one model's result to ``<name>.json`` (atomically), with the settings that made it.

    One file per model, so that models trained and evaluated by separate
    processes never write the same file.
    """
    atomic_write_json(out / f"{name}.json", {"config": cfg, "protocol": PROTOCOL, **result})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "stage", nargs="?", choices=("train", "evaluate", "raise", "all"), default="all"
    )
    parser.add_argument("--models", nargs="*", help="these models only (default: all)")
    parser.add_argument("--epochs", type=int, help="train to this many epochs (50; --quick: 2)")
    parser.add_argument("--resume", action="store_true", help="continue from the checkpoints")
    parser.add_argument("--quick", action="store_true", help="a small smoke run (~1 minute)")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "reproduce_published")
    args = parser.parse_args(argv)
    common.limit_blas_threads()
    cfg, models = (QUICK, QUICK_MODELS) if args.quick else (FULL, MODELS)
    n_epochs = args.epochs or cfg.get("epochs", 50)
    unknown = set(args.models or ()) - set(models)
    if unknown:
        parser.error(f"--models: unknown {sorted(unknown)}; choose from {sorted(models)}")
    names = args.models or list(models)
    (args.out / "checkpoints").mkdir(parents=True, exist_ok=True)
    X_train, X_test = load_data(cfg)
    for name in names:
        if args.stage in ("train", "all"):
            train_model(name, models[name], X_train, n_epochs, args.out, args.resume)
        seed = 1000 * (list(MODELS).index(name) + 1)
        if args.stage in ("evaluate", "all"):
            record(args.out, name, evaluate_model(name, X_train, X_test, args.out, cfg, seed), cfg)
        if args.stage in ("raise", "all"):
            raise_model(name, X_train, X_test, args.out, cfg, seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
