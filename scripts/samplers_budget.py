"""CD-k, PCD-k and parallel tempering at equal Gibbs budget, RBM 784-16 on binarised MNIST.

Every method gets the same number of Gibbs steps per chain in all
(updates x steps per update): CD-1 and PCD-1 make ``budget`` updates of one
step; CD-5, PCD-5 and PT with 5 temperatures (one Gibbs step per replica per
update) make ``budget / 5`` updates of five steps each. Same initial model,
batches, learning rate. The exact mean test log-likelihood (exact log Z over
2^16 hidden states) is recorded at equal budget checkpoints.

Run:  .venv/bin/python scripts/samplers_budget.py [--quick] [--out DIR]
Writes DIR/metrics.json.
"""

from __future__ import annotations

import os

# One BLAS thread: small matrices on a shared machine (see samplers_centring.py).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import rbm  # noqa: E402
from rbm.io import atomic_write_text  # noqa: E402
from rbm.training import init_chains, init_params, train  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

# name -> (kind, Gibbs steps per update); PT's cost is one step for each of its 5 replicas
METHODS = {
    "CD-1": ("cd", 1),
    "PCD-1": ("pcd", 1),
    "CD-5": ("cd", 5),
    "PCD-5": ("pcd", 5),
    "PT-5": ("pt", 5),
}
N_TEMPERATURES = 5
# Swaps between 784-unit replicas are accepted only if neighbouring temperatures
# are close: with betas 1 ... 0.2 almost none are (measured: under 3%).
BETA_MIN = 0.8


def run(method, X, X_test, params, budget, checkpoints, lr, batch_size, seed):
    """Train from ``params`` by ``method`` until ``budget`` Gibbs steps per chain are spent.

    :func:`rbm.training.train` with an update budget, full batches only (a new
    permutation when fewer than ``batch_size`` rows are left) and the method's
    gradient plugged in; the test log-likelihood at every checkpoint.
    """
    kind, cost = METHODS[method]
    rng = np.random.default_rng(seed)
    betas = rbm.temperature_ladder(N_TEMPERATURES, beta_min=BETA_MIN)
    # drawn for every method, so that each one's random stream stays as it was
    chain = init_chains(X, batch_size, "uniform", rng)
    pt = {"chains": np.repeat(chain[None], N_TEMPERATURES, axis=0), "updates": 0}
    curve = {"gibbs_steps": [], "test_ll": [], "log_z": []}
    acceptance = []

    def checkpoint(steps, W, b, c):
        if steps in checkpoints:
            log_z = rbm.log_partition(W, b, c)
            ll = float(rbm.log_likelihood(X_test, W, b, c, log_z=log_z).mean())
            curve["gibbs_steps"].append(steps)
            curve["test_ll"].append(round(ll, 4))
            curve["log_z"].append(round(log_z, 4))
            print(f"{method} steps {steps}: test LL {ll:.3f}", flush=True)

    def pt_gradient(v, _, W, b, c, k, rng):
        grads, pt["chains"] = rbm.pt_gradient(v, pt["chains"], W, b, c, betas, k=1, rng=rng)
        if pt["updates"] % 50 == 0:  # swap rates, sampled now and then (costs one extra step)
            acceptance.append(rbm.pt_step(pt["chains"], W, b, c, betas, rng=rng)[1])
        return grads, None

    def after_update(step, W, b, c):
        pt["updates"] += 1
        checkpoint(pt["updates"] * cost, W, b, c)

    start = time.perf_counter()
    checkpoint(0, *params)
    n_updates = budget // cost
    train(
        X,
        params[0].shape[1],
        n_epochs=n_updates,  # an upper bound: the update budget ends the run
        n_updates=n_updates,
        k=1 if kind == "pt" else cost,
        persistent=kind == "pcd",
        chains=chain,
        learning_rate=lr,
        batch_size=batch_size,
        batch_split="drop_last",
        params=params,
        gradient=pt_gradient if kind == "pt" else None,
        on_update=after_update,
        rng=rng,
    )
    curve["wall_time_s"] = round(time.perf_counter() - start, 1)
    if acceptance:
        curve["swap_acceptance"] = np.round(np.mean(acceptance, axis=0), 3).tolist()
    return curve


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a shortened run (< 1 minute)")
    parser.add_argument("--out", default=str(ROOT / "results" / "samplers_budget"))
    parser.add_argument("--budget", type=int, default=6000, help="Gibbs steps per chain")
    parser.add_argument("--n-checkpoints", type=int, default=10)
    parser.add_argument("--learning-rate", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-home", default=None)
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    X, _ = rbm.datasets.load_mnist("train", binarize="threshold", data_home=args.data_home)
    X_test, _ = rbm.datasets.load_mnist("test", binarize="threshold", data_home=args.data_home)
    budget, n_check = args.budget, args.n_checkpoints
    if args.quick:
        X, X_test, budget, n_check = X[:2000], X_test[:500], 50, 2
    step = budget // n_check
    budget = step * n_check  # a multiple of 5 * n_check keeps every method on the grid
    if step % 5:
        raise SystemExit("budget / n_checkpoints must be a multiple of 5")
    checkpoints = set(range(0, budget + 1, step))
    batch_size, n_hidden = 100, 16
    params = init_params(X, n_hidden, "xavier", "marginals", np.random.default_rng(args.seed))
    metrics = {
        "protocol": {
            "n_hidden": n_hidden,
            "batch_size": batch_size,
            "learning_rate": args.learning_rate,
            "budget_gibbs_steps": budget,
            "n_temperatures": N_TEMPERATURES,
            "beta_min": BETA_MIN,
            "n_train": len(X),
            "n_test": len(X_test),
            "binarize": "threshold 0.5",
            "seed": args.seed,
            "quick": bool(args.quick),
        },
        "runs": {},
    }
    for i, method in enumerate(METHODS):
        metrics["runs"][method] = run(
            method, X, X_test, params, budget, checkpoints, args.learning_rate,
            batch_size, args.seed + 1 + i,
        )  # fmt: skip
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=1) + "\n")
    print(json.dumps({m: r["test_ll"][-1] for m, r in metrics["runs"].items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
