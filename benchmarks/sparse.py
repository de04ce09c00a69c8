"""Sparse input: rbm.RBM against scikit-learn's BernoulliRBM on binary bag-of-words data.

A synthetic corpus shaped like 20 newsgroups made binary (11,314 documents, a
vocabulary of 20,000 words, about 90 distinct words per document, word
frequencies following Zipf's law) as a CSR matrix. Both models train one epoch
with 64 hidden units in batches of 64, and transform the data; the script
prints the best of ``--repeats`` times, and the size of the CSR data beside
that of its dense float32 copy (which neither model makes).

    OPENBLAS_NUM_THREADS=1 python benchmarks/sparse.py [--quick] [--repeats 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.sparse as sp
from sklearn.neural_network import BernoulliRBM

import rbm


def bag_of_words(n_docs, n_words, words_per_doc, rng):
    """A binary CSR matrix: each row holds ``words_per_doc`` draws from a Zipf vocabulary."""
    p = 1.0 / np.arange(1, n_words + 1)
    p /= p.sum()
    rows = np.repeat(np.arange(n_docs), words_per_doc)
    cols = rng.choice(n_words, size=n_docs * words_per_doc, p=p)
    X = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(n_docs, n_words))
    X.sum_duplicates()
    X.data[:] = 1.0
    return X


def best_time(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a corpus 10 times smaller")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    n_docs, n_words = (1131, 2000) if args.quick else (11314, 20000)
    X = bag_of_words(n_docs, n_words, 150, np.random.default_rng(0))
    print(
        f"{X.shape[0]} x {X.shape[1]}, {X.nnz / X.shape[0]:.0f} words per document, "
        f"CSR {(X.data.nbytes + X.indices.nbytes + X.indptr.nbytes) / 1e6:.1f} MB, "
        f"dense float32 {X.shape[0] * X.shape[1] * 4 / 1e6:.0f} MB"
    )
    ours = rbm.RBM(n_hidden=64, batch_size=64, n_epochs=1, random_state=0)
    theirs = BernoulliRBM(n_components=64, batch_size=64, n_iter=1, random_state=0)
    for name, model in (("rbm.RBM", ours), ("BernoulliRBM", theirs)):
        fit = best_time(lambda m=model: m.fit(X), args.repeats)
        transform = best_time(lambda m=model: m.transform(X), args.repeats)
        print(f"{name:>12}: fit one epoch {fit:.2f} s, transform {transform:.3f} s")


if __name__ == "__main__":
    main()
