"""rbm: restricted Boltzmann machines, derived, tested and explained.

The package is the single source of truth for the book: every chapter imports
its functions from here.

- :mod:`rbm.core`: energy, free energy, conditionals, stable sigmoid and softplus;
- :mod:`rbm.sampling`: Bernoulli sampling, block Gibbs, CD-k and PCD-k;
- :mod:`rbm.training`: the training loop (initialisation, mini-batches, one
  epoch of CD-k or PCD-k with momentum and weight decay, a whole run);
- :mod:`rbm.estimator`: :class:`RBM`, the scikit-learn-style estimator, which
  runs that loop through the fast engine;
- :mod:`rbm.evaluation`: exact log Z, log-likelihood and its gradient, pseudo-likelihood;
- :mod:`rbm.ais`: annealed importance sampling of log Z (forward and reverse), its
  diagnostics (effective sample size, largest weight share) and RAISE, a
  conservative per-example log p(v) by reverse annealing from the data;
- :mod:`rbm.tempering`: parallel tempering;
- :mod:`rbm.centering`: centred RBMs and their training;
- :mod:`rbm.mixture`: a mixture-of-Bernoullis baseline;
- :mod:`rbm.gaussian`: the Gaussian–Bernoulli RBM (real-valued visible units,
  learned variances): its energy, conditionals, CD-k/PCD-k, exact log Z and
  mixture form, AIS, its training loop and :class:`GaussianBernoulliRBM`;
- :mod:`rbm.datasets`: MNIST, fetched, checked and cached;
- :mod:`rbm.io`: atomic file writes, saved models, finding result files;
- :mod:`rbm.plotting`: the image-grid helper and the book's figure style.

Package-private (no input checks; used across the package):

- :mod:`rbm._random`: the counter-based random numbers (SplitMix64 keys, uniforms, unit indices);
- :mod:`rbm._fast`: the fast engine behind :class:`RBM` and its compiled kernels
  (dense or scipy.sparse input, one dense mini-batch at a time), and the
  engine of AIS with float32 weights (:func:`rbm._fast.anneal`);
- :mod:`rbm._sparse`: sparse input made dense where a whole array is returned;
- :mod:`rbm._validation`: the input checks of the public functions.
"""

from .ais import (
    ais_log_partition,
    ais_runs_summary,
    effective_sample_size,
    log_likelihood_ais,
    max_weight_share,
    raise_log_likelihood,
    reverse_ais_log_partition,
)
from .centering import centered_gradient, train_centered
from .core import energy, free_energy, h_given_v, sigmoid, softplus, v_given_h
from .estimator import RBM, NotFittedError
from .evaluation import (
    MAX_EXACT_UNITS,
    exact_pseudo_likelihood,
    log_likelihood,
    log_likelihood_gradient,
    log_partition,
    pseudo_likelihood,
)
from .gaussian import (
    GaussianBernoulliRBM,
    gb_ais_log_partition,
    gb_cd_k,
    gb_energy,
    gb_free_energy,
    gb_gibbs,
    gb_h_given_v,
    gb_log_likelihood,
    gb_log_likelihood_gradient,
    gb_log_partition,
    gb_mixture,
    gb_pcd_k,
    gb_v_given_h,
)
from .mixture import BernoulliMixture
from .plotting import image_grid, use_book_style
from .sampling import cd_k, gibbs, pcd_k, sample_bernoulli
from .tempering import pt_gradient, pt_step, temperature_ladder

__version__ = "0.1.0"


def __getattr__(name):
    # rbm.datasets is imported on first use, so that `python -m rbm.datasets` runs cleanly.
    if name == "datasets":
        import importlib

        return importlib.import_module(".datasets", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "MAX_EXACT_UNITS",
    "RBM",
    "BernoulliMixture",
    "GaussianBernoulliRBM",
    "NotFittedError",
    "ais_log_partition",
    "ais_runs_summary",
    "cd_k",
    "centered_gradient",
    "effective_sample_size",
    "energy",
    "exact_pseudo_likelihood",
    "free_energy",
    "gb_ais_log_partition",
    "gb_cd_k",
    "gb_energy",
    "gb_free_energy",
    "gb_gibbs",
    "gb_h_given_v",
    "gb_log_likelihood",
    "gb_log_likelihood_gradient",
    "gb_log_partition",
    "gb_mixture",
    "gb_pcd_k",
    "gb_v_given_h",
    "gibbs",
    "h_given_v",
    "image_grid",
    "log_likelihood",
    "log_likelihood_ais",
    "log_likelihood_gradient",
    "log_partition",
    "max_weight_share",
    "pcd_k",
    "pseudo_likelihood",
    "pt_gradient",
    "pt_step",
    "raise_log_likelihood",
    "reverse_ais_log_partition",
    "sample_bernoulli",
    "sigmoid",
    "softplus",
    "temperature_ladder",
    "train_centered",
    "use_book_style",
    "v_given_h",
]
