"""scikit-learn's tests of ``BernoulliRBM`` (sklearn/neural_network/tests/test_rbm.py), ported.

Each test below asks what its scikit-learn counterpart asks, in our words and
with our names (``n_hidden`` for ``n_components``, ``n_epochs`` for
``n_iter``, ``W_`` for ``components_.T``). Where rbm.RBM behaves differently
from BernoulliRBM, by design, the test's docstring says how and why:

- **Output dtype** is the ``dtype`` parameter's (float32 by default), whatever
  the input's; BernoulliRBM follows the input (int -> float64).
- **Data outside [0, 1]** is refused (beyond a rounding tolerance); BernoulliRBM
  accepts any number, which is no longer a Bernoulli probability.
- **gibbs with an int random_state** repeats on each call, as ``score_samples``
  does in both; BernoulliRBM's ``gibbs`` draws from a generator kept since
  ``fit``. For fresh draws, pass ``rng`` (or a Generator as ``random_state``).
- **verbose** shows a progress bar (tqdm) where someone watches it, instead of
  printing one line per iteration to stdout.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_digits

import rbm


@pytest.fixture(scope="module")
def digits():
    """The 8 x 8 digits mapped into [0, 1] as scikit-learn's test does (grey levels)."""
    X, _ = load_digits(return_X_y=True)
    X -= X.min()
    return X / X.max()


def test_fit_reaches_the_expected_pseudo_likelihood(digits):
    X = digits.copy()
    model = rbm.RBM(n_hidden=64, learning_rate=0.1, batch_size=10, n_epochs=7, random_state=9)
    model.fit(X)
    # scikit-learn's test expects -21 to 0 decimals (|error| < 1.5); so do we
    assert abs(model.score_samples(X).mean() - (-21.0)) < 1.5
    np.testing.assert_array_equal(X, digits)  # the data is not changed in place


def test_partial_fit_over_batches(digits):
    X = digits.copy()
    model = rbm.RBM(n_hidden=64, learning_rate=0.1, batch_size=20, random_state=9)
    for _ in range(7):
        for batch in np.array_split(X, int(np.ceil(len(X) / 20))):
            model.partial_fit(batch)
    assert abs(model.score_samples(X).mean() - (-21.0)) < 1.5  # the same bound as above
    np.testing.assert_array_equal(X, digits)


def test_transform_is_the_hidden_probabilities(digits):
    X = digits[:100]
    model = rbm.RBM(n_hidden=16, batch_size=5, n_epochs=5, random_state=42).fit(X)
    np.testing.assert_array_equal(model.transform(X), rbm.h_given_v(X, model.W_, model.c_))


@pytest.mark.parametrize("container", [sp.csr_matrix, sp.csr_array])
def test_small_sparse(digits, container):
    rbm.RBM(n_epochs=1).fit(container(digits[:4]))  # no exception


@pytest.mark.parametrize("container", [sp.csr_matrix, sp.csc_matrix, sp.csr_array, sp.csc_array])
def test_small_sparse_partial_fit(digits, container):
    """rbm.RBM goes further than scikit-learn's test: sparse gives the very same parameters."""
    X = digits[:100]
    dense = rbm.RBM(learning_rate=0.1, batch_size=10, random_state=9).partial_fit(X)
    sparse = rbm.RBM(learning_rate=0.1, batch_size=10, random_state=9).partial_fit(container(X))
    np.testing.assert_array_equal(dense.W_, sparse.W_)
    np.testing.assert_array_equal(dense.score_samples(X), sparse.score_samples(X))


def test_sampled_hiddens_average_to_their_probabilities(digits):
    X = digits[:100]
    model = rbm.RBM(n_hidden=2, batch_size=5, n_epochs=5, random_state=42).fit(X)
    p = model.transform(X[:1])
    rng = np.random.default_rng(0)
    mean = np.mean([rbm.sample_bernoulli(p, rng) for _ in range(100)], axis=0)
    # 100 Bernoulli draws: standard error at most 0.05; scikit-learn allows 0.15 (1 decimal)
    np.testing.assert_allclose(mean, p, atol=0.15)


@pytest.mark.parametrize("container", [sp.csc_matrix, sp.csc_array])
def test_fit_and_gibbs_on_one_unit(container):
    """On X = [[0], [1]]: sparse and dense give the same weights and the same Gibbs samples.

    scikit-learn's test also compares the weights with numbers of its own draws
    (it calls the test "very seed-dependent"); ours are checked against the dense fit.
    """
    X = np.array([[0.0], [1.0]])
    fits = [
        rbm.RBM(n_hidden=2, batch_size=2, n_epochs=42, random_state=np.random.RandomState(42))
        for _ in range(2)
    ]
    fits[0].fit(X)
    fits[1].fit(container(X))
    np.testing.assert_array_equal(fits[0].W_, fits[1].W_)
    np.testing.assert_array_equal(fits[0].gibbs(X, rng=0), fits[1].gibbs(container(X), rng=0))


def test_gibbs_smoke(digits):
    """Finite samples; fresh draws with a Generator (an int random_state repeats, by design)."""
    model = rbm.RBM(n_hidden=42, batch_size=40, n_epochs=20, random_state=42).fit(digits)
    first = model.gibbs(digits)
    assert np.isfinite(first).all()
    np.testing.assert_array_equal(first, model.gibbs(digits))
    rng = np.random.default_rng(1)
    assert (model.gibbs(digits, rng=rng) != model.gibbs(digits, rng=rng)).any(axis=1).all()


@pytest.mark.parametrize("container", [sp.lil_matrix, sp.lil_array])
def test_score_samples(container):
    """The pseudo-likelihood is not clipped; sparse and dense agree; extremes stay finite.

    scikit-learn scores ``arange(1000) * 100`` for stability; rbm.RBM refuses
    data outside [0, 1], so stability is checked with extreme weights instead.
    """
    X = np.vstack([np.zeros(1000), np.ones(1000)])
    model = rbm.RBM(n_hidden=10, batch_size=2, n_epochs=10, random_state=np.random.RandomState(42))
    model.fit(X)
    assert (model.score_samples(X) < -300).all()
    model.set_params(random_state=42)
    np.testing.assert_allclose(
        model.score_samples(X), model.score_samples(container(X)), rtol=1e-5
    )  # float32 products summed in another order
    with pytest.raises(ValueError, match="MinMaxScaler"):
        model.score_samples([np.arange(1000) * 100])
    model.W_ = np.full_like(model.W_, 1e4)
    assert np.isfinite(model.score_samples(X)).all()


def test_verbose_fit_on_sparse_input(monkeypatch, capsys):
    monkeypatch.setenv("RBM_PROGRESS", "1")
    X = sp.csc_matrix([[0.0], [1.0]])
    rbm.RBM(n_hidden=2, batch_size=2, n_epochs=1, random_state=42, verbose=True).fit(X)
    assert "RBM" in capsys.readouterr().err


@pytest.mark.parametrize(
    "dtype_in, dtype, dtype_out",
    [
        (np.float32, "float32", np.float32),
        (np.float64, "float64", np.float64),
        (int, "float64", np.float64),
        (np.float64, "float32", np.float32),  # BernoulliRBM would give float64
        (int, "float32", np.float32),  # BernoulliRBM would give float64
    ],
)
def test_transformer_dtypes_casting(digits, dtype_in, dtype, dtype_out):
    X = digits[:100].astype(dtype_in)
    model = rbm.RBM(n_hidden=16, batch_size=5, n_epochs=5, random_state=42, dtype=dtype)
    assert model.fit_transform(X).dtype == dtype_out


def test_float32_and_float64_training_agree(digits):
    X = digits[:100]
    fits = {
        dtype: rbm.RBM(n_hidden=16, batch_size=5, n_epochs=5, random_state=42, dtype=dtype).fit(X)
        for dtype in ("float32", "float64")
    }
    a, b = fits["float64"], fits["float32"]
    # the tolerances of scikit-learn's test; the same draws in either precision
    # (measured: 2e-7 apart after 100 updates)
    np.testing.assert_allclose(a.transform(X), b.transform(X), rtol=1e-6, atol=0)
    np.testing.assert_allclose(a.c_, b.c_, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(a.b_, b.b_, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(a.W_, b.W_, rtol=1e-3, atol=1e-6)


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_feature_names_out(digits, method):
    model = rbm.RBM(n_hidden=10, n_epochs=1)
    getattr(model, method)(digits)
    np.testing.assert_array_equal(model.get_feature_names_out(), [f"rbm{i}" for i in range(10)])
