"""rbm: restricted Boltzmann machines, derived, tested and explained.

The package is the single source of truth for the book: every chapter imports
its functions from here.

- :mod:`rbm.core`: energy, free energy, conditionals, stable sigmoid and softplus;
- :mod:`rbm.sampling`: Bernoulli sampling, block Gibbs, CD-k and PCD-k;
- :mod:`rbm.evaluation`: exact log Z, log-likelihood and its gradient, pseudo-likelihood;
- :mod:`rbm.plotting`: the image-grid helper and the book's figure style.
"""

from .core import energy, free_energy, h_given_v, sigmoid, softplus, v_given_h
from .evaluation import (
    MAX_EXACT_UNITS,
    exact_pseudo_likelihood,
    log_likelihood,
    log_likelihood_gradient,
    log_partition,
    pseudo_likelihood,
)
from .plotting import image_grid, use_book_style
from .sampling import cd_k, gibbs, pcd_k, sample_bernoulli

__version__ = "0.1.0"

__all__ = [
    "MAX_EXACT_UNITS",
    "cd_k",
    "energy",
    "exact_pseudo_likelihood",
    "free_energy",
    "gibbs",
    "h_given_v",
    "image_grid",
    "log_likelihood",
    "log_likelihood_gradient",
    "log_partition",
    "pcd_k",
    "pseudo_likelihood",
    "sample_bernoulli",
    "sigmoid",
    "softplus",
    "use_book_style",
    "v_given_h",
]
