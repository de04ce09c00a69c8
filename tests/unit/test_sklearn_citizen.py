"""rbm.RBM as scikit-learn users use it (issue 17): what used to fail, one test each.

Sparse input; feature names and ``set_output``; the [0, 1] check's tolerance and
message; ``random_state`` as scikit-learn takes it; pandas and object input;
honest tags; a failed refit; complex input; ``score`` for model selection; the
HTML repr.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, minmax_scale
from sklearn.utils import get_tags

import rbm

pd = pytest.importorskip("pandas")


@pytest.fixture(scope="module")
def digits():
    """The 8 x 8 digits binarised at half intensity (64 visible units), and their labels."""
    data = load_digits()
    return (data.data / 16.0 > 0.5).astype(np.float32), data.target


def _small(**params):
    return rbm.RBM(**{"n_hidden": 8, "n_epochs": 2, "random_state": 0, **params})


# ----------------------------------------------------------------------------- 1. sparse


@pytest.mark.parametrize("container", [sp.csr_matrix, sp.csc_matrix, sp.csr_array])
@pytest.mark.parametrize(
    "params", [{}, {"persistent": True, "momentum": 0.5, "visible_bias_init": "marginals"}]
)
def test_sparse_input_trains_and_infers_as_dense(digits, container, params):
    X = digits[0][:500]
    dense = _small(**params).fit(X)
    sparse = _small(**params).fit(container(X))
    # the same batches, draws and products on the same numbers: the same parameters
    for name in ("W_", "b_", "c_"):
        np.testing.assert_array_equal(getattr(dense, name), getattr(sparse, name))
    # the epoch's statistics: the same sums, up to the last bit of float64
    for key in ("pseudo_likelihood", "reconstruction_error"):
        np.testing.assert_allclose(dense.history_[key], sparse.history_[key], rtol=1e-14)
    Xs = container(X)
    # sparse products sum in another order than BLAS: float32 rounding, far below 1e-5
    np.testing.assert_allclose(dense.transform(X), dense.transform(Xs), atol=1e-5)
    np.testing.assert_allclose(dense.free_energy(X), dense.free_energy(Xs), rtol=1e-5)
    np.testing.assert_allclose(dense.reconstruct(X), dense.reconstruct(Xs), atol=1e-5)
    np.testing.assert_allclose(dense.score_samples(X), dense.score_samples(Xs), rtol=1e-4)
    np.testing.assert_array_equal(dense.gibbs(X), dense.gibbs(Xs))
    dense.partial_fit(X)
    sparse.partial_fit(Xs)
    np.testing.assert_array_equal(dense.W_, sparse.W_)


def test_sparse_training_densifies_one_batch_at_a_time(digits, monkeypatch):
    X = sp.csr_matrix(digits[0])
    shapes = []
    original = sp.csr_matrix.toarray

    def spy(self, *args, **kwargs):
        shapes.append(self.shape)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(sp.csr_matrix, "toarray", spy)
    _small(batch_size=32).fit(X)
    assert shapes and max(s[0] for s in shapes) <= 32


def test_small_sparse_matrix_with_empty_rows():
    X = sp.csr_matrix(np.eye(5))  # the example, which raised TypeError
    model = rbm.RBM(n_hidden=3, n_epochs=1, random_state=0).fit(X)
    assert model.transform(sp.csr_matrix((2, 5))).shape == (2, 3)


# ----------------------------------------------------------------------------- 2. feature names


def test_feature_names_and_set_output_in_a_pipeline(digits):
    X, y = digits
    columns = [f"pixel{i}" for i in range(64)]
    frame = pd.DataFrame(X[:300], columns=columns)
    pipe = make_pipeline(_small(), LogisticRegression(max_iter=200))
    pipe.set_output(transform="pandas").fit(frame, y[:300])
    model = pipe[0]
    np.testing.assert_array_equal(model.feature_names_in_, columns)
    names = [f"rbm{j}" for j in range(8)]
    np.testing.assert_array_equal(model.get_feature_names_out(), names)
    np.testing.assert_array_equal(pipe[:-1].get_feature_names_out(), names)
    out = model.transform(frame)
    assert isinstance(out, pd.DataFrame) and list(out.columns) == names
    # reordered columns are refused, not silently transformed
    with pytest.raises(ValueError, match="feature names"):
        model.transform(frame[columns[::-1]])


# ----------------------------------------------------------------------------- 3. [0, 1]


def test_rounding_outside_unit_interval_is_clipped(digits):
    X = minmax_scale(load_digits().data[:200])
    X[0, 0] = 1 + 2.2e-16  # what minmax_scale's rounding can give
    X[1, 0] = -1e-9
    kept = X.copy()
    model = _small(dtype="float64").fit(X)
    np.testing.assert_array_equal(X, kept)  # the caller's data is not clipped in place
    np.testing.assert_array_equal(model.transform(X[:2]), model.transform(np.clip(X[:2], 0, 1)))
    assert rbm.estimator.UNIT_TOLERANCE == 1e-6


@pytest.mark.parametrize("value, found", [(1.0000123456789, "maximum"), (-0.25, "minimum")])
def test_real_violations_are_refused_in_full_precision(value, found):
    X = np.full((4, 3), 0.5)
    X[2, 1] = value
    with pytest.raises(ValueError, match="MinMaxScaler\\(clip=True\\)") as info:
        _small(dtype="float64").fit(X)
    assert f"{found} is {value!r}" in str(info.value)


def test_cross_validation_hints_at_clipping(digits):
    X, y = digits
    X = X[:200].copy()
    X[:150] *= 0.5  # a scaler fitted on the first 150 rows maps the last 50 to [0, 2]
    pipe = make_pipeline(MinMaxScaler(), _small(), LogisticRegression())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scores = cross_val_score(pipe, X, y[:200], cv=4)
    assert np.isnan(scores[-1])
    assert any("MinMaxScaler(clip=True)" in str(w.message) for w in caught)
    pipe = make_pipeline(MinMaxScaler(clip=True), _small(), LogisticRegression())
    assert np.isfinite(cross_val_score(pipe, X, y[:200], cv=4)).all()


# ----------------------------------------------------------------------------- 4. random_state


def test_random_state_takes_a_randomstate_and_names_itself(digits):
    X = digits[0][:200]
    a = _small(random_state=np.random.RandomState(3)).fit(X)
    b = _small(random_state=np.random.RandomState(3)).fit(X)
    np.testing.assert_array_equal(a.W_, b.W_)
    with pytest.raises(TypeError, match="random_state"):
        _small(random_state="seed").fit(X)


# ----------------------------------------------------------------------------- 5. input types


@pytest.mark.parametrize("dtype", ["Int64", "Float64", "boolean"])
def test_pandas_nullable_dtypes(digits, dtype):
    X = digits[0][:100]
    frame = pd.DataFrame(X.astype(int)).astype(dtype)
    np.testing.assert_array_equal(_small().fit(frame).W_, _small().fit(X).W_)


def test_object_array_of_numbers(digits):
    X = digits[0][:100]
    np.testing.assert_array_equal(_small().fit(X.astype(object)).W_, _small().fit(X).W_)


# ----------------------------------------------------------------------------- 6. tags, randomness


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_tags_are_honest(digits, dtype):
    X = digits[0][:100]
    model = _small(dtype=dtype)
    assert get_tags(model).transformer_tags.preserves_dtype == [dtype]
    for X_in in (X.astype(np.float32), X.astype(np.float64), X.astype(int)):
        assert model.fit(X_in).transform(X_in).dtype == np.dtype(dtype)
    assert get_tags(model).input_tags.sparse
    assert not get_tags(model).non_deterministic
    assert get_tags(_small(random_state=None)).non_deterministic
    assert get_tags(_small(random_state=np.random.default_rng(0))).non_deterministic


def test_int_random_state_repeats_sampling_methods(digits):
    X = digits[0][:200]
    model = _small().fit(X)
    np.testing.assert_array_equal(model.score_samples(X), model.score_samples(X))
    np.testing.assert_array_equal(model.gibbs(X), model.gibbs(X))
    np.testing.assert_array_equal(model.sample(3, n_steps=2), model.sample(3, n_steps=2))
    # an explicit rng overrides random_state
    assert not np.array_equal(model.gibbs(X, rng=1), model.gibbs(X))
    np.testing.assert_array_equal(model.gibbs(X, rng=1), model.gibbs(X, rng=1))
    # a Generator as random_state is drawn from: successive calls differ
    model.set_params(random_state=np.random.default_rng(0))
    assert not np.array_equal(model.gibbs(X), model.gibbs(X))


# ----------------------------------------------------------------------------- 7. failed refit


@pytest.mark.parametrize(
    "bad", [np.full((5, 64), 2.0), np.full((5, 64), np.nan), np.zeros((0, 64)), np.zeros(64)]
)
def test_failed_refit_leaves_the_earlier_fit(digits, bad):
    X = digits[0][:200]
    frame = pd.DataFrame(X, columns=[f"p{i}" for i in range(64)])
    model = _small().fit(frame)
    before = {k: np.copy(v) for k, v in vars(model).items() if k.endswith("_")}
    with pytest.raises(ValueError):
        model.fit(bad)
    after = {k: v for k, v in vars(model).items() if k.endswith("_")}
    assert before.keys() == after.keys()
    for key in before:
        np.testing.assert_array_equal(before[key], after[key])


# ----------------------------------------------------------------------------- 8. the rest


def test_complex_input_is_a_value_error():
    with pytest.raises(ValueError, match=r"[Cc]omplex"):
        _small().fit(np.full((3, 4), 0.5 + 0.5j))


def test_score_tunes_an_rbm_alone(digits):
    X = digits[0][:300]
    model = _small().fit(X)
    assert model.score(X) == pytest.approx(model.score_samples(X).mean())
    assert np.isfinite(cross_val_score(_small(), X, cv=3)).all()
    search = GridSearchCV(_small(), {"learning_rate": [0.01, 0.1]}, cv=3).fit(X)
    assert search.best_params_["learning_rate"] in (0.01, 0.1)


def test_repr_and_html_repr():
    model = rbm.RBM(batch_split="array_split", random_state=0, shuffle=False)
    assert repr(model) == "RBM(batch_split='array_split', random_state=0, shuffle=False)"
    assert "RBM" in model._repr_html_()
    assert repr(clone(model)) == repr(model)
