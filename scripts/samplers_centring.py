"""Ordinary versus centred RBM 784-16 on binarised MNIST, PyDeep's protocol, several seeds.

The protocol of the PyDeep tutorial ``RBM_MNIST_small`` (Melchior 2017,
examples/RBM_MNIST_small.py at MelJan/PyDeep 9978793, and the library code it
calls), followed wherever our package allows:

- data: the 60,000 MNIST training images in file order, thresholded at 0.5
  (grey level >= 128); the 10,000 test images for the test log-likelihood;
- 16 hidden units; PCD-1 with 100 persistent chains started at
  Bernoulli(max(0, 0.01 z)) states, z ~ N(0, 1) (PyDeep's
  ``sample_v(randn * 0.01)``: almost all pixels off); hidden probabilities,
  not samples, in the gradient; learning rate 0.01, batches of 100 in a fixed
  order (no shuffling), 50 epochs, no momentum, no weight decay;
- initial weights uniform in +-4 sqrt(6 / (784 + 16)); visible biases the
  log-odds of the pixel means clipped to [0.001, 0.999]; hidden biases 0; the
  same (W, b, c) for both variants, taken as the *centred* parameters by the
  centred model;
- centred variant: offsets start at the data mean (visible) and 0.5 (hidden)
  and move with sliding factor 0.01 towards the batch's data mean and mean
  hidden probability (PyDeep's offset type 'DD'), before the gradient, which
  is centred on the moved offsets (``offsets_first=True``); ordinary variant:
  offsets fixed at 0.

Every seed runs both variants; the exact log Z (2^16 hidden states) gives the
exact mean log-likelihood of the training and test sets after the first epoch
and every fifth (PyDeep's schedule). The runs are spread over ``--workers``
processes of this one invocation.
The remaining differences from PyDeep are listed in ``DIFFERENCES`` and
written to the metadata.

Run:  .venv/bin/python scripts/samplers_centring.py [--quick] [--out DIR]
      [--seeds 0 1 2] [--workers 2]
Writes DIR/metrics.json (all seeds, from this one run) and
DIR/weights_{ordinary,centred}.npz (ordinary-form W, b, c of the first seed).
"""

from __future__ import annotations

import os

# One BLAS thread: these matrices are small, and on a shared 2-core machine
# threaded BLAS spends its time contending (measured: 28x slower under load).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import rbm  # noqa: E402
from rbm.centering import train_centered  # noqa: E402
from rbm.io import atomic_savez, atomic_write_text  # noqa: E402
from rbm.training import init_params  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

#: PyDeep's initial weights are 4 times as wide as the package's "xavier" ones.
PYDEEP_WEIGHT_FACTOR = 4.0

#: What still differs from PyDeep's run (MelJan/PyDeep 9978793), after the above.
DIFFERENCES = [
    "random numbers: numpy's PCG64 Generator seeded with each of our seeds and the "
    "package's counter-based Bernoulli draws, against PyDeep's legacy numpy.random "
    "(MT19937) seeded with 42; no run can reproduce PyDeep's draws, so its seed 42 "
    "is one more seed, not the same run",
    "data files: the IDX files (train-images-idx3-ubyte, 60,000 images in file "
    "order) against deeplearning.net's mnist.pkl.gz (50,000 training + 10,000 "
    "validation images, stacked); the pickle is described as the IDX training set "
    "split in two, which we could not check here (no copy of the pickle); the "
    "threshold keeps grey levels >= 128 in both if the pickle stores grey/255 or "
    "grey/256",
    "the order within a batch step matches PyDeep (offsets moved, then the gradient "
    "centred on them), but PyDeep also draws the positive-phase hidden states it "
    "does not use, and its evaluation every 5 epochs draws a reconstruction: both "
    "only advance its random stream",
    "arithmetic: training in float32 here (twice as fast on the shared machine "
    "these runs had), float64 in PyDeep; the exact log Z and log-likelihoods are "
    "computed in float64 in both; the sigmoid is scipy's expit here and "
    "0.5 + 0.5 tanh(x/2) in PyDeep",
    "log Z: ours is the log partition function of the ordinary form of the model; "
    "PyDeep's is that of its centred energy, which differs by a constant for the "
    "centred model; we record both (log_z and log_z_centred_form); log-likelihoods "
    "do not depend on the form",
]


def exact_scores(W, b, c, X_train, X_test):
    W, b, c = (np.asarray(p, dtype=np.float64) for p in (W, b, c))
    log_z = rbm.log_partition(W, b, c)
    return {
        "log_z": round(log_z, 4),
        "train_ll": round(float(rbm.log_likelihood(X_train, W, b, c, log_z=log_z).mean()), 4),
        "test_ll": round(float(rbm.log_likelihood(X_test, W, b, c, log_z=log_z).mean()), 4),
    }


def pydeep_start(X, n_hidden, n_chains, rng):
    """PyDeep's initial (W, b, c) and persistent chains, drawn from ``rng``."""
    W, b, c = init_params(X, n_hidden, "xavier", "marginals", rng)  # b: clip [1e-3, 1 - 1e-3]
    W *= PYDEEP_WEIGHT_FACTOR
    # PyDeep: sample_v(randn(n_chains, n_visible) * 0.01), i.e. v_i = 1 when 0.01 z > u
    z = rng.standard_normal((n_chains, X.shape[1]))
    chains = (0.01 * z > rng.random((n_chains, X.shape[1]))).astype(X.dtype)
    return (W, b, c), chains


def load_data(data_home, quick):
    """The thresholded training and test images (float32, exact: 0.0 and 1.0)."""
    X_train, _ = rbm.datasets.load_mnist("train", binarize="threshold", data_home=data_home)
    X_test, _ = rbm.datasets.load_mnist("test", binarize="threshold", data_home=data_home)
    if quick:
        X_train, X_test = X_train[:3000], X_test[:1000]
    return X_train, X_test


def evaluated(epoch, n_epochs, every):
    """Epochs (from 1) with an exact evaluation: the first, every ``every``-th, the last."""
    return epoch == 1 or epoch % every == 0 or epoch == n_epochs


def run_variant(seed, name, protocol, data_home):
    """Train one variant from one seed; return its record and its ordinary-form weights."""
    X_train, X_test = load_data(data_home, protocol["quick"])
    centered = name == "centred"
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    params, chains = pydeep_start(X_train, protocol["n_hidden"], protocol["n_chains"], rng)
    n_epochs, every = protocol["n_epochs"], protocol["eval_every"]

    def score(epoch, W, b, c):
        if not evaluated(epoch + 1, n_epochs, every):
            return None
        s = exact_scores(W, b, c, X_train, X_test)
        print(f"seed {seed} {name} epoch {epoch + 1}: {s}", flush=True)
        return s

    W, b, c, history = train_centered(
        X_train,
        n_hidden=protocol["n_hidden"],
        learning_rate=protocol["learning_rate"],
        batch_size=protocol["batch_size"],
        n_epochs=n_epochs,
        k=protocol["k"],
        persistent=True,
        centered=centered,
        offset_rate=protocol["offset_rate"],
        shuffle=False,
        params=params,
        chains=chains,
        offsets_first=True,
        random_state=rng,
        callback=score,
    )
    epochs = [e + 1 for e in history["epoch"] if history["callback"][e] is not None]
    scores = [s for s in history["callback"] if s is not None]
    final = dict(scores[-1])
    # PyDeep's log Z is that of its centred energy E_c = E + K, with
    # K = b'mu + c'lam + mu'W lam (b', c' ordinary): log Z_c = log Z - K
    W64, b64, c64, mu, lam = (
        np.asarray(x, dtype=np.float64) for x in (W, b, c, history["mu"], history["lam"])
    )
    shift = float(b64 @ mu + c64 @ lam + mu @ W64 @ lam)
    final["log_z_centred_form"] = round(rbm.log_partition(W64, b64, c64) - shift, 4)
    record = {
        "seed": seed,
        "epoch": epochs,
        "train_ll": [s["train_ll"] for s in scores],
        "test_ll": [s["test_ll"] for s in scores],
        "log_z": [s["log_z"] for s in scores],
        "reconstruction_error": [round(e, 4) for e in history["reconstruction_error"]],
        "final": final,
        "wall_time_s": round(time.perf_counter() - start, 1),
    }
    return record, (W, b, c)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a shortened run (< 1 minute)")
    parser.add_argument("--out", default=str(ROOT / "results" / "samplers_centring"))
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--eval-every", type=int, default=5, help="PyDeep's: 5")
    parser.add_argument("--workers", type=int, default=2, help="processes (one run each)")
    parser.add_argument("--data-home", default=None)
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    X_train, X_test = load_data(args.data_home, args.quick)  # the sizes, for the record
    n_epochs, seeds = args.epochs, args.seeds
    if args.quick:
        n_epochs, seeds = 2, seeds[:2]
    protocol = {
        "source": "PyDeep examples/RBM_MNIST_small.py (MelJan/PyDeep 9978793)",
        "n_hidden": 16,
        "learning_rate": 0.01,
        "batch_size": 100,
        "shuffle": False,
        "n_epochs": n_epochs,
        "eval_every": args.eval_every,
        "k": 1,
        "persistent": True,
        "n_chains": 100,
        "chain_start": "Bernoulli(max(0, 0.01 z)), z ~ N(0, 1)",
        "hidden_in_gradient": "probabilities",
        "momentum": 0.0,
        "weight_decay": 0.0,
        "offset_rate": 0.01,
        "offset_type": "DD, offsets moved before the gradient",
        "initial_offsets": {"centred": "data mean, 0.5", "ordinary": "0, 0"},
        "init": f"uniform +-{PYDEEP_WEIGHT_FACTOR:g} sqrt(6 / (n_visible + n_hidden))",
        "visible_bias_init": "logit(pixel mean clipped to [0.001, 0.999])",
        "hidden_bias_init": 0.0,
        "dtype": "float32 training, float64 evaluation",
        "binarize": "threshold 0.5 (grey level >= 128)",
        "n_train": len(X_train),
        "n_test": len(X_test),
        "seeds": seeds,
        "quick": bool(args.quick),
    }
    metrics = {
        "protocol": protocol,
        "differences_from_pydeep": DIFFERENCES,
        "assembled": "all seeds from one run: scripts/samplers_centring.py "
        + " ".join(sys.argv[1:] if argv is None else argv),
        "runs": {"ordinary": [], "centred": []},
    }
    tasks = [(seed, name) for seed in seeds for name in ("ordinary", "centred")]
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        futures = [
            pool.submit(run_variant, seed, name, protocol, args.data_home) for seed, name in tasks
        ]
        for (seed, name), future in zip(tasks, futures, strict=True):
            record, (W, b, c) = future.result()
            metrics["runs"][name].append(record)
            if seed == seeds[0]:
                atomic_savez(
                    out / f"weights_{name}.npz",
                    compressed=True,
                    W=W.astype(np.float32),
                    b=b.astype(np.float32),
                    c=c.astype(np.float32),
                )
    metrics["weights"] = f"weights_*.npz: seed {seeds[0]}, ordinary form, float32"
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=1) + "\n")
    summary = {
        name: [r["final"]["test_ll"] for r in runs] for name, runs in metrics["runs"].items()
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
