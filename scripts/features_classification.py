"""RBM features for digit classification: logistic regression on pixels, on rbm.RBM
features and on scikit-learn BernoulliRBM features, under the same training budget.

Data: the first ``n_train`` MNIST training images and all 10,000 test images,
grey levels scaled to [0, 1] (not binarised). Each RBM has the same number of
hidden units, epochs, batch size and learning rate; the classifier is the same
``LogisticRegression``, whose inverse regularisation C is chosen for each
representation from the same grid on ``n_valid`` further training images
(disjoint from the training and test images). Each fitted model is a
scikit-learn ``Pipeline`` (RBM, then logistic regression).
``rbm.RBM`` is trained twice, by CD-1 (its default) and by PCD-1
(``persistent=True``, what ``BernoulliRBM`` does).

The PCD-trained ``rbm.RBM`` is saved to DIR/rbm_pcd.npz (``RBM.save``), so the
chapter can draw its hidden representations and fill in occluded digits without
training it again.

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

from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.neural_network import BernoulliRBM  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402

import rbm  # noqa: E402
from rbm.io import atomic_write_text  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SEED = 0


def classifier(C):
    """The same classifier for every representation."""
    return LogisticRegression(C=C, max_iter=1000)


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
        F_valid, steps = transformer.transform(X_valid), [("rbm", transformer)]
    scores = {C: float(classifier(C).fit(F, y).score(F_valid, y_valid)) for C in grid}
    best = max(grid, key=lambda C: scores[C])
    clf = classifier(best).fit(F, y)
    # the steps are fitted already: the Pipeline only chains transform and predict
    return Pipeline([*steps, ("clf", clf)]), scores


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a shortened run (under a minute)")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "features_classification")
    args = parser.parse_args(argv)
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
        "seed": SEED,
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
    for name, transformer in transformers(protocol["budget"], SEED).items():
        started = time.time()
        pipe, scores = fit_pipeline(transformer, X, y, X_valid, y_valid, protocol["C_grid"])
        fit_time = time.time() - started
        results[name] = {
            "valid_accuracy_by_C": {str(C): s for C, s in scores.items()},
            "C": float(pipe.named_steps["clf"].C),
            "train_accuracy": float(pipe.score(X, y)),
            "test_accuracy": float(pipe.score(X_test, y_test)),
            "fit_time_s": round(fit_time, 1),
        }
        print(
            f"{name:>22}: test accuracy {results[name]['test_accuracy']:.4f} ({fit_time:.0f} s)",
            flush=True,
        )
        if name == "rbm.RBM PCD-1":
            pipe.named_steps["rbm"].save(args.out / "rbm_pcd.npz")
    metrics = {"protocol": protocol, "results": results}
    atomic_write_text(args.out / "metrics.json", json.dumps(metrics, indent=1) + "\n")
    return metrics


if __name__ == "__main__":
    main()
