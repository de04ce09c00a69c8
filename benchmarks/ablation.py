"""Ablation: what each optimisation of a CD-1 epoch is worth, measured one at a time.

A small CD-1 kernel with switches (:func:`cd1_epoch`) isolates the choices
that :mod:`rbm.training` makes all at once:

- ``dtype``: float64 or float32 parameters and data;
- ``inplace``: every intermediate written into a buffer allocated once per
  epoch (``np.matmul(out=)``, ``expit(out=)``), or plain expressions that
  allocate a new array at every step;
- ``uniforms``: the dtype of the uniform numbers behind each Bernoulli draw.

Then, with :class:`rbm.RBM` itself: the batch size (16, 64, 256) against the
matrix-product floor at that batch size, the number of BLAS threads (1 or 2,
through threadpoolctl), and its numba kernels against their numpy twins
(:func:`rbm._fast.numpy_twins`), which compute the same thing. Finally the
cost of precision: the same 784-16 training in float32 and float64, driven by
the same uniform numbers, compared by exact test log-likelihood.
"""

from __future__ import annotations

import statistics
import time

import numpy as np
from scipy.special import expit
from threadpoolctl import threadpool_limits

import rbm
from benchmarks.floor import batch_bounds, floor_epoch
from rbm import _fast
from rbm._random import _draw_key
from rbm.datasets import load_mnist
from rbm.training import init_params as _init_params

__all__ = ["article_rbm", "breakdown", "cd1_epoch", "print_summary", "run", "sampling_costs"]


def article_rbm(n_hidden, batch_size, seed, learning_rate=0.1, n_epochs=1, **options):
    """rbm.RBM set up as the benchmark compares it with the article's loop.

    CD-1, ``np.array_split`` batches in file order (no shuffling), as
    :mod:`benchmarks.baseline` does; ``options`` go to ``rbm.RBM`` as they are.
    """
    return rbm.RBM(
        n_hidden=n_hidden,
        learning_rate=learning_rate,
        batch_size=batch_size,
        n_epochs=n_epochs,
        k=1,
        batch_split="array_split",
        shuffle=False,
        random_state=seed,
        **options,
    )


def init_params(n_visible, n_hidden, dtype, seed):
    """Xavier-uniform weights and zero biases in ``dtype`` (the same values for both dtypes).

    :func:`rbm.training.init_params`, which reads only the width of the data here.
    """
    shape_only = np.zeros((0, n_visible), dtype)
    return _init_params(shape_only, n_hidden, "xavier", "zeros", np.random.default_rng(seed))


def cd1_epoch(X, W, b, c, rng, learning_rate=0.1, batch_size=64, inplace=True, uniforms=None):
    """One epoch of CD-1 over ``X`` in np.array_split batches, updating W, b, c in place.

    Parameters
    ----------
    X : ndarray, shape (n_samples, n_visible), the dtype of ``W``
    W, b, c : ndarrays of shapes (n_visible, n_hidden), (n_visible,), (n_hidden,)
    rng : numpy.random.Generator
    inplace : bool
        Write every intermediate into buffers allocated once (True), or allocate
        a fresh array for each (False).
    uniforms : numpy dtype, optional
        dtype of the uniform numbers; by default that of ``W``. float64 uniforms
        with float32 probabilities make numpy compare in float64.
    """
    dtype = W.dtype
    u_dtype = np.dtype(dtype if uniforms is None else uniforms)
    n_visible, n_hidden = W.shape
    bounds = batch_bounds(len(X), batch_size)
    if not inplace:
        for a, z in bounds:
            v = X[a:z]
            m = z - a
            ph = expit(v @ W + c)
            h = (rng.random(ph.shape, dtype=u_dtype) < ph).astype(dtype)
            pv = expit(h @ W.T + b)
            vn = (rng.random(pv.shape, dtype=u_dtype) < pv).astype(dtype)
            phn = expit(vn @ W + c)
            W += learning_rate * (v.T @ ph - vn.T @ phn) / m
            b += learning_rate * (v.mean(axis=0) - vn.mean(axis=0))
            c += learning_rate * (ph.mean(axis=0) - phn.mean(axis=0))
        return
    mx = max(z - a for a, z in bounds)
    ph_, phn_, h_, uh_ = (np.empty((mx, n_hidden), dtype) for _ in range(4))
    pv_, vn_ = np.empty((mx, n_visible), dtype), np.empty((mx, n_visible), dtype)
    uh_, uv_ = np.empty((mx, n_hidden), u_dtype), np.empty((mx, n_visible), u_dtype)
    gW, gW2 = np.empty_like(W), np.empty_like(W)
    db, db2, dc, dc2 = np.empty_like(b), np.empty_like(b), np.empty_like(c), np.empty_like(c)
    for a, z in bounds:
        v = X[a:z]
        m = z - a
        ph, phn, h, uh = ph_[:m], phn_[:m], h_[:m], uh_[:m]
        pv, vn, uv = pv_[:m], vn_[:m], uv_[:m]
        np.matmul(v, W, out=ph)
        ph += c
        expit(ph, out=ph)
        rng.random(out=uh, dtype=u_dtype)
        np.less(uh, ph, out=h, casting="unsafe")
        np.matmul(h, W.T, out=pv)
        pv += b
        expit(pv, out=pv)
        rng.random(out=uv, dtype=u_dtype)
        np.less(uv, pv, out=vn, casting="unsafe")
        np.matmul(vn, W, out=phn)
        phn += c
        expit(phn, out=phn)
        step = learning_rate / m
        np.matmul(v.T, ph, out=gW)
        np.matmul(vn.T, phn, out=gW2)
        gW -= gW2
        gW *= step
        W += gW
        np.sum(v, axis=0, out=db)
        np.sum(vn, axis=0, out=db2)
        db -= db2
        db *= step
        b += db
        np.sum(ph, axis=0, out=dc)
        np.sum(phn, axis=0, out=dc2)
        dc -= dc2
        dc *= step
        c += dc


def _time(fn, rounds):
    """Median wall time of ``fn()`` over ``rounds`` calls, after one warm-up call."""
    fn()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(statistics.median(times)), times


def _interleaved(fns, rounds):
    """Median time of each named function, run in interleaved rounds after a warm-up."""
    for fn in fns.values():
        fn()
    times = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {
        name: {"median_s": float(statistics.median(t)), "times_s": t} for name, t in times.items()
    }


def _kernel_variants(X32, rounds, seed):
    X64 = X32.astype(np.float64)
    n_hidden = 64

    def variant(X, dtype, inplace, uniforms=None):
        def fn():
            W, b, c = init_params(X.shape[1], n_hidden, dtype, seed)
            cd1_epoch(X, W, b, c, np.random.default_rng(seed), 0.1, 64, inplace, uniforms)

        return fn

    fns = {
        "float64, allocating": variant(X64, np.float64, False),
        "float64, in place": variant(X64, np.float64, True),
        "float32, allocating": variant(X32, np.float32, False),
        "float32, in place, float64 uniforms": variant(X32, np.float32, True, np.float64),
        "float32, in place": variant(X32, np.float32, True),
    }
    return _interleaved(fns, rounds)


def sampling_costs(n_samples, n_visible, n_hidden, batch_size, rounds, seed):
    """Seconds to draw one epoch's Bernoulli samples (h and v of CD-1), several ways."""
    bounds = batch_bounds(n_samples, batch_size)
    mx = max(z - a for a, z in bounds)
    rng = np.random.default_rng(seed)
    p_h = rng.random((mx, n_hidden), dtype=np.float32)
    p_v = rng.random((mx, n_visible), dtype=np.float32)
    p_h64, p_v64 = p_h.astype(np.float64), p_v.astype(np.float64)
    out_h, out_v = np.empty_like(p_h), np.empty_like(p_v)
    u_h, u_v = np.empty_like(p_h), np.empty_like(p_v)
    legacy = np.random.RandomState(seed)

    def article():  # floor(p + u), float64, legacy global-state generator
        for a, z in bounds:
            m = z - a
            np.floor(p_h64[:m] + legacy.random_sample((m, n_hidden)))
            np.floor(p_v64[:m] + legacy.random_sample((m, n_visible)))

    def float64_uniforms():  # Generator, float64 uniforms against float32 probabilities
        for a, z in bounds:
            m = z - a
            (rng.random((m, n_hidden)) < p_h[:m]).astype(np.float32)
            (rng.random((m, n_visible)) < p_v[:m]).astype(np.float32)

    def float32_uniforms():
        for a, z in bounds:
            m = z - a
            (rng.random((m, n_hidden), dtype=np.float32) < p_h[:m]).astype(np.float32)
            (rng.random((m, n_visible), dtype=np.float32) < p_v[:m]).astype(np.float32)

    def float32_in_place():
        for a, z in bounds:
            m = z - a
            rng.random(out=u_h[:m], dtype=np.float32)
            np.less(u_h[:m], p_h[:m], out=out_h[:m], casting="unsafe")
            rng.random(out=u_v[:m], dtype=np.float32)
            np.less(u_v[:m], p_v[:m], out=out_v[:m], casting="unsafe")

    # the counter-based draws of rbm.sample_bernoulli: numpy, then the numba kernel

    def counter_numpy():
        for a, z in bounds:
            m = z - a
            rbm.sampling._sample_bernoulli(p_h[:m], rng)
            rbm.sampling._sample_bernoulli(p_v[:m], rng)

    def counter_kernel():
        for a, z in bounds:
            m = z - a
            _fast.sample_(p_h[:m], _draw_key(rng), out_h[:m])
            _fast.sample_(p_v[:m], _draw_key(rng), out_v[:m])

    res = _interleaved(
        {
            "floor(p + u), float64, RandomState": article,
            "u < p, float64 uniforms": float64_uniforms,
            "u < p, float32 uniforms": float32_uniforms,
            "u < p, float32, in place": float32_in_place,
            "counter-based (SplitMix64), numpy": counter_numpy,
            "counter-based, numba kernel": counter_kernel,
        },
        rounds,
    )
    res_bytes = {
        "float64": 8 * (mx * (n_hidden + n_visible)),
        "float32": 4 * (mx * (n_hidden + n_visible)),
    }
    return {"timings": res, "uniform_bytes_per_batch": res_bytes}


def _rbm_fit(X, n_hidden, batch_size, seed):
    return lambda: article_rbm(n_hidden, batch_size, seed).fit(X)


def _floor(X, n_hidden, batch_size, seed):
    return lambda: floor_epoch(X, n_hidden, batch_size, seed)


def _batch_sizes(X, rounds, seed):
    out = {}
    for batch_size in (16, 64, 256):
        res = _interleaved(
            {"rbm": _rbm_fit(X, 64, batch_size, seed), "floor": _floor(X, 64, batch_size, seed)},
            rounds,
        )
        out[str(batch_size)] = {
            "rbm_median_s": res["rbm"]["median_s"],
            "floor_median_s": res["floor"]["median_s"],
            "rbm_over_floor": res["rbm"]["median_s"] / res["floor"]["median_s"],
            "n_batches": len(batch_bounds(len(X), batch_size)),
        }
    return out


def _threads(X, rounds, seed):
    """The CD-1 kernel of this module and the floor under 1 and 2 BLAS threads.

    Not ``rbm.RBM``: its training loop may limit BLAS to one thread itself.
    """

    def kernel():
        W, b, c = init_params(X.shape[1], 64, np.float32, seed)
        cd1_epoch(X, W, b, c, np.random.default_rng(seed), 0.1, 64, True)

    out = {}
    for n_threads in (1, 2):
        with threadpool_limits(limits=n_threads, user_api="blas"):
            res = _interleaved({"kernel": kernel, "floor": _floor(X, 64, 64, seed)}, rounds)
        out[str(n_threads)] = {
            "kernel_median_s": res["kernel"]["median_s"],
            "floor_median_s": res["floor"]["median_s"],
        }
    return out


def breakdown(X, n_hidden, batch_size, rounds, seed):
    """Seconds an epoch spends on each kind of work, each timed alone on the epoch's shapes.

    - "matrix products": the floor (:func:`benchmarks.floor.floor_epoch`);
    - "draws, numpy Generator": float32 uniforms drawn in place and compared
      with probabilities, for h (m x n_hidden) and v (m x n_visible), the way
      the kernel drew them before it had counter-based uniforms;
    - "draws, counter-based kernel": the same draws by ``rbm._fast.sample_``;
    - "sigmoids, scipy expit", "sigmoids, numpy tanh form" and "sigmoids,
      compiled kernel": P(h|v), P(v|h) and P(h|v') (m x n_hidden, m x
      n_visible, m x n_hidden) with scipy's expit; as (1 + tanh(x / 2)) / 2
      with numpy's tanh (a compiled pass adding the bias and halving, the tanh,
      and the pass that finishes it: the engine's way until it had its own
      sigmoid); or with ``rbm._fast.bias_sigmoid_``, which adds the bias and
      computes the sigmoid in one compiled pass (the engine fuses the visible
      one into the draw as well);
    - "pseudo-likelihood, flip trick": ``rbm._fast.flip_log_sigma``, which
      reuses v W + c and flips one random unit per row;
    - "pseudo-likelihood, two free energies": the article's way, a flipped copy
      of the batch and two more products;
    - "rbm.RBM epoch": the whole thing, for comparison, in the same rounds.
    """
    from scipy.special import expit

    rng = np.random.default_rng(seed)
    n_visible = X.shape[1]
    bounds = batch_bounds(len(X), batch_size)
    mx = max(z - a for a, z in bounds)
    W = (rng.standard_normal((n_visible, n_hidden)) * 0.1).astype(np.float32)
    b = np.zeros(n_visible, np.float32)
    c = np.zeros(n_hidden, np.float32)
    pre_h = (rng.standard_normal((mx, n_hidden)) * 3).astype(np.float32)
    pre_v = (rng.standard_normal((mx, n_visible)) * 3).astype(np.float32)
    ph, pv = expit(pre_h), expit(pre_v)
    out_h, out_v = np.empty_like(ph), np.empty_like(pv)
    u_h, u_v = np.empty_like(ph), np.empty_like(pv)
    cols = np.empty(mx, np.intp)

    def products():
        floor_epoch(X, n_hidden, batch_size, seed)

    def draws_generator():
        for a, z in bounds:
            m = z - a
            for p, u, out in ((ph, u_h, out_h), (pv, u_v, out_v)):
                rng.random(out=u[:m], dtype=np.float32)
                np.less(u[:m], p[:m], out=out[:m], casting="unsafe")

    def draws_kernel():
        for a, z in bounds:
            m = z - a
            _fast.sample_(ph[:m], _draw_key(rng), out_h[:m])
            _fast.sample_(pv[:m], _draw_key(rng), out_v[:m])

    def sig_expit():
        for a, z in bounds:
            m = z - a
            expit(pre_h[:m], out=out_h[:m])
            expit(pre_v[:m], out=out_v[:m])
            expit(pre_h[:m], out=out_h[:m])

    def sig_tanh():  # (x + bias) / 2, then numpy's tanh; (1 + t) / 2 rode on the next pass
        for a, z in bounds:
            m = z - a
            for pre, out, bias in ((pre_h, out_h, c), (pre_v, out_v, b), (pre_h, out_h, c)):
                np.add(pre[:m], bias, out=out[:m])
                out[:m] *= np.float32(0.5)
                np.tanh(out[:m], out=out[:m])

    def sig_kernel():  # the engine adds the bias in place on fresh products; a copy here
        for a, z in bounds:
            m = z - a
            for pre, out, bias in ((pre_h, out_h, c), (pre_v, out_v, b), (pre_h, out_h, c)):
                np.copyto(out[:m], pre[:m])
                _fast.bias_sigmoid_(out[:m], bias)

    def pl_flip():
        for a, z in bounds:
            _fast.flip_log_sigma(X[a:z], pre_h[: z - a], _draw_key(rng), W, b, cols)

    def pl_two_free_energies():
        for a, z in bounds:
            m = z - a
            v = X[a:z]
            rows = np.arange(m)
            cols_ = rng.integers(0, n_visible, size=m)
            flipped = v.copy()
            flipped[rows, cols_] = 1 - flipped[rows, cols_]
            fe = -(v @ b) - np.logaddexp(0, v @ W + c).sum(axis=1)
            fe_flipped = -(flipped @ b) - np.logaddexp(0, flipped @ W + c).sum(axis=1)
            float(np.logaddexp(0, fe - fe_flipped).sum(dtype=np.float64))

    return _interleaved(
        {
            "rbm.RBM epoch": _rbm_fit(X, n_hidden, batch_size, seed),
            "matrix products": products,
            "draws, numpy Generator": draws_generator,
            "draws, counter-based kernel": draws_kernel,
            "sigmoids, scipy expit": sig_expit,
            "sigmoids, numpy tanh form": sig_tanh,
            "sigmoids, compiled kernel": sig_kernel,
            "pseudo-likelihood, flip trick": pl_flip,
            "pseudo-likelihood, two free energies": pl_two_free_energies,
        },
        rounds,
    )


def _numba(X, rounds, seed):
    """rbm.RBM with its numba kernels, and with their numpy twins (the same results)."""
    fit = _rbm_fit(X, 64, 64, seed)

    def twins():
        with _fast.numpy_twins():
            fit()

    return _interleaved({"numba kernels": fit, "numpy twins": twins}, rounds)


def _estimator_dtype(X, rounds, seed):
    """rbm.RBM itself in float32 and float64 (same data, same seed)."""

    def fit(dtype):
        return lambda: article_rbm(64, 64, seed, dtype=dtype).fit(X)

    return _interleaved({"float64": fit("float64"), "float32": fit("float32")}, rounds)


def _precision(quick, seed):
    """Train the same 784-16 model in float32 and float64 with the same uniforms; compare."""
    X_train, _ = load_mnist("train", binarize="threshold")
    X_test, _ = load_mnist("test", binarize="threshold")
    if quick:
        X_train, X_test = X_train[:3000], X_test[:1000]
    n_epochs = 1 if quick else 3
    models = {}
    for dtype in (np.float32, np.float64):
        W, b, c = init_params(784, 16, dtype, seed)
        rng = np.random.default_rng(seed)
        X = X_train.astype(dtype)
        for _ in range(n_epochs):
            # float64 uniforms for both, so that both runs see the same random numbers
            cd1_epoch(X, W, b, c, rng, 0.1, 64, True, np.float64)
        models[np.dtype(dtype).name] = (W, b, c)
    lls = {}
    for name, (W, b, c) in models.items():
        W, b, c = (x.astype(np.float64) for x in (W, b, c))
        lls[name] = float(rbm.log_likelihood(X_test, W, b, c).mean())
    W32, W64 = models["float32"][0], models["float64"][0]

    # one batch's positive statistics v^T P(h|v) / m from the same state, in both precisions
    W, b, c = (x.astype(np.float64) for x in models["float64"])
    v = X_train[:64].astype(np.float64)
    stats = {}
    for dtype in (np.float32, np.float64):
        v_, W_, c_ = v.astype(dtype), W.astype(dtype), c.astype(dtype)
        stats[np.dtype(dtype).name] = (v_.T @ rbm.h_given_v(v_, W_, c_) / len(v_)).astype(
            np.float64
        )
    g32, g64 = stats["float32"], stats["float64"]
    return {
        "n_epochs": n_epochs,
        "n_hidden": 16,
        "test_log_likelihood": lls,
        "abs_difference_nats": abs(lls["float32"] - lls["float64"]),
        "max_abs_weight_difference": float(np.abs(W32.astype(np.float64) - W64).max()),
        "max_abs_weight": float(np.abs(W64).max()),
        "one_batch_statistics_max_abs_difference": float(np.abs(g32 - g64).max()),
        "one_batch_statistics_max_abs": float(np.abs(g64).max()),
        "float32_epsilon": float(np.finfo(np.float32).eps),
    }


def run(quick, seed, blas_threads, log):
    """All the ablations; a subset of the data with ``quick``. Returns a JSON-ready dict."""
    X_all, _ = load_mnist("all")
    # the epoch-level comparisons run on a subset, to keep the whole benchmark short;
    # the breakdown uses every image, so that it compares with the timed epochs
    n = 2000 if quick else 20000
    n_all = 2000 if quick else len(X_all)
    n_threads = 2000 if quick else 5000
    rounds = 1 if quick else 3
    X = np.ascontiguousarray(X_all[:n])
    X_all = np.ascontiguousarray(X_all[:n_all])
    log(f"ablation: kernel variants on {n} images, {rounds} rounds")
    kernel = _kernel_variants(X, rounds, seed)
    log("ablation: rbm.RBM in float32 and float64")
    estimator_dtype = _estimator_dtype(X, rounds, seed)
    log(f"ablation: where an epoch's time goes, on {n_all} images")
    parts = breakdown(X_all, 64, 64, rounds, seed)
    del X_all
    log("ablation: sampling costs")
    sampling = sampling_costs(n_all, 784, 64, 64, rounds, seed)
    log("ablation: batch sizes")
    batches = _batch_sizes(X, rounds, seed)
    log(f"ablation: BLAS threads 1 vs 2 on {n_threads} images")
    threads = _threads(np.ascontiguousarray(X[:n_threads]), rounds, seed)
    log("ablation: float32 vs float64 precision")
    precision = _precision(quick, seed)
    log(f"ablation: numba kernels vs their numpy twins on {n} images")
    numba_effect = _numba(X, rounds, seed)
    return {
        "n_samples": n,
        "breakdown_n_samples": n_all,
        "rounds": rounds,
        "blas_threads": blas_threads,
        "kernel": kernel,
        "estimator_dtype": estimator_dtype,
        "breakdown": parts,
        "sampling": sampling,
        "batch_size": batches,
        "threads": {"n_samples": n_threads, "results": threads},
        "precision": precision,
        "numba": numba_effect,
        "numba_available": _fast.HAVE_NUMBA,
    }


def print_summary(res, file=None):
    """Print the ablation's medians as small tables."""
    p = (lambda *a: print(*a, file=file)) if file else print
    p(f"\nablation, one CD-1 epoch 784-64 batch 64 on {res['n_samples']} images (median s):")
    for name, r in res["kernel"].items():
        p(f"  {name:40s} {r['median_s']:8.3f}")
    p("rbm.RBM by dtype (median s):")
    for name, r in res["estimator_dtype"].items():
        p(f"  {name:40s} {r['median_s']:8.3f}")
    p("an epoch's work, each part alone (median s):")
    for name, r in res["breakdown"].items():
        p(f"  {name:40s} {r['median_s']:8.3f}")
    p("sampling one epoch's h and v (median s):")
    for name, r in res["sampling"]["timings"].items():
        p(f"  {name:40s} {r['median_s']:8.3f}")
    p("batch size: rbm.RBM / floor (s):")
    for bs, r in res["batch_size"].items():
        p(f"  {bs:>4s}: {r['rbm_median_s']:7.3f} / {r['floor_median_s']:7.3f}")
    p(f"rbm.RBM with numba kernels and with their numpy twins, {res['n_samples']} images (s):")
    for name, r in res["numba"].items():
        p(f"  {name:40s} {r['median_s']:8.3f}")
    p(f"BLAS threads on {res['threads']['n_samples']} images: CD-1 kernel / floor (s):")
    for nt, r in res["threads"]["results"].items():
        p(f"  {nt}: {r['kernel_median_s']:7.3f} / {r['floor_median_s']:7.3f}")
    pr = res["precision"]
    p(
        "float32 vs float64 test log-likelihood: "
        f"{pr['test_log_likelihood']['float32']:.4f} vs {pr['test_log_likelihood']['float64']:.4f}"
    )
