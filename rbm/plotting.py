"""The book's one helper for grids of images (digits, samples, filters), and its figure style."""

from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np

__all__ = ["image_grid", "use_book_style"]


def use_book_style():
    """Set the matplotlib defaults every chapter uses.

    Figures get an opaque white background so they stay readable when the
    site is shown in dark mode, and a resolution that is sharp but small. In
    Jupyter, figures are drawn at twice their nominal resolution ("retina"), so
    they stay sharp on high-density screens; their nominal size, and so the
    ``<Figure size WxH ...>`` text a notebook prints, does not change.
    """
    mpl.rcParams.update(
        {
            "figure.facecolor": "white",
            "axes.facecolor": "white",
            "savefig.facecolor": "white",
            "savefig.transparent": False,
            "figure.dpi": 100,
            "savefig.dpi": 100,
            "figure.figsize": (6.4, 4.0),
            "axes.grid": False,
            "font.size": 10,
        }
    )
    _use_retina_figures()


def _use_retina_figures():
    """Draw inline figures at twice their resolution, shown at their nominal size."""
    try:
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:  # plain Python: nothing to do
        return
    if get_ipython() is None:
        return
    set_matplotlib_formats("retina")


def image_grid(
    images,
    image_shape=(28, 28),
    n_cols=8,
    ax=None,
    title=None,
    cmap="gray",
    symmetric=False,
    pad=1,
):
    """Tile images (one per row of ``images``) into one picture and draw it.

    Parameters
    ----------
    images : array_like, shape (n_images, height * width)
        One flattened image per row: digits, samples, or the columns of W
        transposed (``W.T``) to show filters.
    image_shape : tuple of int, default (28, 28)
        (height, width) of each image.
    n_cols : int, default 8
        Images per row of the grid.
    ax : matplotlib Axes, optional
        Where to draw; a new figure is made when omitted.
    title : str, optional
    cmap : str, default "gray"
    symmetric : bool, default False
        Scale each image to its own symmetric range around 0 (for filters,
        whose sign matters) with a diverging colour map; otherwise show values
        in [0, 1] as grey levels.
    pad : int, default 1
        Pixels between tiles.

    Returns
    -------
    matplotlib Axes
    """
    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 2:
        raise ValueError(f"images must be 2-dimensional (n_images, n_pixels), got {images.shape}")
    height, width = image_shape
    if images.shape[1] != height * width:
        raise ValueError(
            f"images have {images.shape[1]} pixels, but image_shape {image_shape} needs "
            f"{height * width}"
        )
    n = len(images)
    n_cols = min(n_cols, n)
    n_rows = -(-n // n_cols)
    fill = 0.0
    if symmetric:
        scale = np.abs(images).max(axis=1, keepdims=True)
        images = images / np.where(scale > 0, scale, 1)
        cmap = "RdBu_r" if cmap == "gray" else cmap
        vmin, vmax = -1.0, 1.0
    else:
        vmin, vmax = 0.0, 1.0
        fill = 1.0  # white gutters between black-background digits
    grid = np.full(
        (n_rows * (height + pad) + pad, n_cols * (width + pad) + pad),
        fill,
        dtype=np.float64,
    )
    for k, image in enumerate(images):
        r, col = divmod(k, n_cols)
        top, left = pad + r * (height + pad), pad + col * (width + pad)
        grid[top : top + height, left : left + width] = image.reshape(height, width)
    if ax is None:
        _, ax = plt.subplots(figsize=(0.5 + 0.45 * n_cols, 0.5 + 0.45 * n_rows))
    ax.imshow(grid, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel(f"{n_cols} images per row")
    ax.set_ylabel(f"{n_rows} rows")
    if title:
        ax.set_title(title)
    return ax
