"""RBM features for digit classification: logistic regression on pixels, on baselines
without learned weights and on rbm.RBM and scikit-learn BernoulliRBM features, under the
same training budget.

Data: the first ``n_train`` MNIST training images and all 10,000 test images,
grey levels scaled to [0, 1] (not binarised). Each RBM has the same number of
hidden units, epochs, batch size and learning rate; the classifier is the same
``LogisticRegression``, whose inverse regularisation C is chosen for each
representation from the same grid on ``n_valid`` further training images
(disjoint from the training and test images). Each fitted model is a
scikit-learn ``Pipeline`` (features, then logistic regression).
``rbm.RBM`` is trained twice, by CD-1 (its default) and by PCD-1
(``persistent=True``, what ``BernoulliRBM`` does).

Three baselines isolate what training the weights adds: PCA with as many
components as the RBMs have hidden units, and two RBM-shaped random projections
through the sigmoid, sigmoid(v W + c) with c = 0 and W random and untrained:
one drawn as the RBMs' initial weights are, N(0, 0.01^2), the other scaled so
that the pre-activations have about unit standard deviation on the training
images.

Everything random (the RBMs, the random projections) runs once per training
seed in ``seeds``; the pixels and PCA have nothing random and run once.

The PCD-trained ``rbm.RBM`` of the first seed is saved to DIR/rbm_pcd.npz
(``RBM.save``), so the chapter can draw its hidden representations and fill in
occluded digits without training it again.

Run:   .venv/bin/python scripts/features_classification.py [--quick] [--out DIR]
Writes DIR/metrics.json and DIR/rbm_pcd.npz (default DIR: results/features_classification).
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from sklearn.base import BaseEstimator, TransformerMixin  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.neural_network import BernoulliRBM  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402

import rbm  # noqa: E402
from rbm.io import atomic_write_text  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SEEDS = {"full": [0, 1, 2], "quick": [0, 1]}
UNSEEDED = ("pixels", "PCA")  # nothing random: one run, whatever the seeds


def classifier(C):
    """The same classifier for every representation."""
    return LogisticRegression(C=C, max_iter=1000)


class RandomSigmoidFeatures(TransformerMixin, BaseEstimator):
    r"""An untrained RBM's hidden probabilities: :math:`\sigma(\mathbf v^\top W)`, random W.

    :math:`w_{ij} \sim \mathcal N(0, s^2)` and :math:`\mathbf c = 0`. With ``scale`` a
    number, :math:`s` is that number; with ``scale=None``, :math:`s = 1 /
    \sqrt{\overline{\lVert \mathbf v \rVert^2}}` over the images given to ``fit``, so
    that the pre-activations :math:`\mathbf v^\top W_{\cdot j}` have about unit
    standard deviation. ``fit`` reads only the width and (for ``scale=None``) the norms
    of X. ``transform`` maps (n_samples, n_visible) to (n_samples, n_hidden).
    """

    def __init__(self, n_hidden=100, scale=0.01, random_state=None):
        self.n_hidden = n_hidden
        self.scale = scale
        self.random_state = random_state

    def fit(self, X, y=None):
        X = np.asarray(X, dtype=float)
        s = self.scale if self.scale is not None else 1 / np.sqrt(np.mean(np.sum(X**2, axis=1)))
        rng = np.random.default_rng(self.random_state)
        self.W_ = rng.normal(0.0, s, size=(X.shape[1], self.n_hidden))
        self.c_ = np.zeros(self.n_hidden)
        return self

    def transform(self, X):
        return rbm.h_given_v(np.asarray(X, dtype=float), self.W_, self.c_)


def transformers(budget, seed):
    """name -> unfitted feature extractor (None for raw pixels); every RBM gets ``budget``."""
    n_hidden, lr = budget["n_hidden"], budget["learning_rate"]
    batch, epochs = budget["batch_size"], budget["n_epochs"]
    common = {
        "n_hidden": n_hidden,
        "learning_rate": lr,
        "batch_size": batch,
        "n_epochs": epochs,
        "init": "normal",
        "random_state": seed,
    }
    return {
        "pixels": None,
        "PCA": PCA(n_components=n_hidden, svd_solver="full"),
        "random W, N(0, 0.01^2)": RandomSigmoidFeatures(n_hidden, 0.01, seed),
        "random W, unit scale": RandomSigmoidFeatures(n_hidden, None, seed),
        "rbm.RBM CD-1": rbm.RBM(**common),
        "rbm.RBM PCD-1": rbm.RBM(persistent=True, **common),
        "sklearn BernoulliRBM": BernoulliRBM(
            n_components=n_hidden,
            learning_rate=lr,
            batch_size=batch,
            n_iter=epochs,
            random_state=seed,
        ),
    }


def fit_pipeline(transformer, X, y, X_valid, y_valid, grid):
    """Fit the transformer once, choose C on the validation images, return the Pipeline.

    Returns (fitted Pipeline, {C: validation accuracy}).
    """
    if transformer is None:
        F, F_valid, steps = X, X_valid, []
    else:
        F = transformer.fit(X).transform(X)
        F_valid, steps = transformer.transform(X_valid), [("features", transformer)]
    scores = {C: float(classifier(C).fit(F, y).score(F_valid, y_valid)) for C in grid}
    best = max(grid, key=lambda C: scores[C])
    clf = classifier(best).fit(F, y)
    # the steps are fitted already: the Pipeline only chains transform and predict
    return Pipeline([*steps, ("clf", clf)]), scores


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a shortened run (under a minute)")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "features_classification")
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help="training seeds")
    args = parser.parse_args(argv)
    seeds = args.seeds or SEEDS["quick" if args.quick else "full"]
    if args.quick:
        protocol = {
            "n_train": 1000,
            "n_valid": 500,
            "n_test": 1000,
            "C_grid": [0.1, 10.0],
            "budget": {"n_hidden": 32, "learning_rate": 0.06, "batch_size": 10, "n_epochs": 2},
        }
    else:
        protocol = {
            "n_train": 10_000,
            "n_valid": 2000,
            "n_test": 10_000,
            "C_grid": [0.01, 0.1, 1.0, 10.0, 100.0],
            "budget": {"n_hidden": 100, "learning_rate": 0.06, "batch_size": 10, "n_epochs": 10},
        }
    protocol |= {
        "quick": args.quick,
        "seeds": seeds,
        "unseeded": list(UNSEEDED),
        "pixels": "grey levels / 255",
        "classifier": "LogisticRegression(C=C, max_iter=1000)",
        "valid_images": "training images n_train ... n_train + n_valid - 1",
    }
    args.out.mkdir(parents=True, exist_ok=True)
    X, y = rbm.datasets.load_mnist("train")
    X_test, y_test = rbm.datasets.load_mnist("test")
    n, n_valid = protocol["n_train"], protocol["n_valid"]
    X_valid, y_valid = X[n : n + n_valid], y[n : n + n_valid]
    X, y = X[:n], y[:n]
    X_test, y_test = X_test[: protocol["n_test"]], y_test[: protocol["n_test"]]
    results = {}
    for seed in seeds:
        for name, transformer in transformers(protocol["budget"], seed).items():
            if name in UNSEEDED and name in results:
                continue
            started = time.time()
            pipe, scores = fit_pipeline(transformer, X, y, X_valid, y_valid, protocol["C_grid"])
            fit_time = time.time() - started
            run = {
                "seed": None if name in UNSEEDED else seed,
                "valid_accuracy_by_C": {str(C): s for C, s in scores.items()},
                "C": float(pipe.named_steps["clf"].C),
                "train_accuracy": float(pipe.score(X, y)),
                "test_accuracy": float(pipe.score(X_test, y_test)),
                "fit_time_s": round(fit_time, 1),
            }
            results.setdefault(name, {"runs": []})["runs"].append(run)
            print(
                f"{name:>22} (seed {run['seed']}): test accuracy {run['test_accuracy']:.4f} "
                f"({fit_time:.0f} s)",
                flush=True,
            )
            if name == "rbm.RBM PCD-1" and seed == seeds[0]:
                pipe.named_steps["features"].save(args.out / "rbm_pcd.npz")
    metrics = {"protocol": protocol, "results": results}
    atomic_write_text(args.out / "metrics.json", json.dumps(metrics, indent=1) + "\n")
    return metrics


if __name__ == "__main__":
    main()
