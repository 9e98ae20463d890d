"""Figures for generative-model experiments (matplotlib only, headless).

Every plotting function takes numpy inputs, writes a PNG to ``path`` (parent
directories are created), closes its figure and returns the ``pathlib.Path``.
Images are floats in [0, 1], laid out as [rows, cols, H, W] (grey),
[rows, cols, H, W, 1] (grey) or [rows, cols, H, W, 3] (RGB).
"""

import contextlib
from pathlib import Path

import matplotlib

# Select the non-interactive backend before pyplot is imported so that
# experiments run on machines without a display.
matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from vaegan_tf import records  # noqa: E402

DPI = 100
RANGE_TOLERANCE = 1e-3
SEPARATOR_VALUE = 1.0  # white lines between tiles, same colour as the page
NUM_DIGITS = 10


@contextlib.contextmanager
def _saved_figure(path, figsize):
    """Yield a new figure, then save it to ``path`` as PNG; always close it."""
    fig = plt.figure(figsize=figsize, layout="constrained")
    try:
        yield fig
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, format="png", dpi=DPI, bbox_inches="tight")
    finally:
        plt.close(fig)


def _image_array(images):
    """Validate a [R, C, H, W(, 1|3)] grid and return it as float [R, C, H, W(, 3)]."""
    images = np.asarray(images, dtype=np.float64)
    if images.ndim == 5 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim not in (4, 5) or (images.ndim == 5 and images.shape[-1] != 3):
        raise ValueError(
            "images must have shape [R, C, H, W], [R, C, H, W, 1] or "
            f"[R, C, H, W, 3]; got {images.shape}"
        )
    if 0 in images.shape[:4]:
        raise ValueError(f"images must not have an empty axis; got shape {images.shape}")
    return images


def tile_images(images, pad=1):
    """Assemble [R, C, H, W(, 1|3)] into one [R*H+(R-1)*pad, C*W+(C-1)*pad(, 3)] mosaic."""
    images = _image_array(images)
    if pad < 0:
        raise ValueError(f"pad must be >= 0; got {pad}")
    rows, cols, height, width = images.shape[:4]
    channel_pads = [(0, 0)] * (images.ndim - 4)
    padded = np.pad(
        images,
        [(0, 0), (0, 0), (0, pad), (0, pad)] + channel_pads,
        constant_values=SEPARATOR_VALUE,
    )
    # [R, C, H', W', ...] -> [R, H', C, W', ...] so that a reshape interleaves
    # the pixel rows of one grid row with the tiles of that row.
    axes = (0, 2, 1, 3) + tuple(range(4, images.ndim))
    mosaic = padded.transpose(axes).reshape(
        (rows * (height + pad), cols * (width + pad)) + images.shape[4:]
    )
    # The last tile row/column needs no separator after it.
    return mosaic[: rows * (height + pad) - pad, : cols * (width + pad) - pad]


def _check_labels(labels, expected, name):
    """Raise ValueError unless ``labels`` is None or has ``expected`` entries."""
    if labels is not None and len(labels) != expected:
        raise ValueError(f"{name} has {len(labels)} entries but images have {expected}")


def image_grid(images, path, *, row_labels=None, col_labels=None, title=None):
    """Save a [R, C, H, W(, 1|3)] grid of [0, 1] images as one labelled mosaic."""
    images = _image_array(images)
    if not np.all(np.isfinite(images)):
        raise ValueError("images contain NaN or inf")
    low, high = images.min(), images.max()
    if low < -RANGE_TOLERANCE or high > 1 + RANGE_TOLERANCE:
        raise ValueError(f"image values must lie in [0, 1]; got range [{low:.4g}, {high:.4g}]")
    rows, cols, height, width = images.shape[:4]
    _check_labels(row_labels, rows, "row_labels")
    _check_labels(col_labels, cols, "col_labels")
    pad = 1
    # Decoder outputs can overshoot by float error; clip so imshow does not warn.
    mosaic = tile_images(np.clip(images, 0.0, 1.0), pad=pad)

    # About one inch per tile, shrunk for large grids so the PNG stays modest.
    tile_inches = min(1.0, 12.0 / max(rows, cols))
    scale = tile_inches / max(height, width)
    path = Path(path)
    with _saved_figure(path, (cols * width * scale + 0.5, rows * height * scale + 0.5)) as fig:
        ax = fig.add_subplot()
        grey = images.ndim == 4
        ax.imshow(
            mosaic,
            cmap="gray" if grey else None,
            vmin=0.0,
            vmax=1.0,
            interpolation="nearest",
        )
        ax.tick_params(length=0, top=False, bottom=False, labeltop=True, labelbottom=False)
        row_centres = np.arange(rows) * (height + pad) + (height - 1) / 2
        col_centres = np.arange(cols) * (width + pad) + (width - 1) / 2
        ax.set_yticks(row_centres if row_labels is not None else [])
        ax.set_xticks(col_centres if col_labels is not None else [])
        if row_labels is not None:
            ax.set_yticklabels([str(label) for label in row_labels])
        if col_labels is not None:
            ax.set_xticklabels([str(label) for label in col_labels])
        if title is not None:
            ax.set_title(title)
    return path


def loss_curves(csv_path, path, *, metrics=None, title=None):
    """Plot a CSVLogger log ([epochs] per column): one subplot per metric, val_ dashed."""
    log = records.read_csv_log(csv_path)
    available = list(dict.fromkeys(name.removeprefix("val_") for name in log if name != "epoch"))
    if metrics is None:
        metrics = available
    unknown = [name for name in metrics if name not in available]
    if unknown:
        raise ValueError(f"unknown metrics {unknown}; available metrics: {available}")
    if not metrics:
        raise ValueError(f"no metrics to plot; available metrics: {available}")

    cols = min(3, len(metrics))
    rows = -(-len(metrics) // cols)
    path = Path(path)
    with _saved_figure(path, (4.0 * cols, 3.0 * rows)) as fig:
        axes = fig.subplots(rows, cols, squeeze=False).ravel()
        for ax, name in zip(axes, metrics, strict=False):
            for column, style, label in ((name, "-", "train"), (f"val_{name}", "--", "val")):
                if column in log:
                    ax.plot(log["epoch"], log[column], linestyle=style, marker=".", label=label)
            ax.set_title(name)
            ax.set_xlabel("epoch")
            ax.legend()
        for ax in axes[len(metrics) :]:
            ax.set_visible(False)
        if title is not None:
            fig.suptitle(title)
    return path


def error_curves(
    panels,
    path,
    *,
    references=None,
    title=None,
    xlabel="epoch",
    ylabel="error (%)",
    percent_range=None,
):
    """Error per epoch: one subplot per panel, one line per run. ``panels`` maps a panel title to
    {line label: [error per epoch, as a fraction]}; ``references`` maps a panel title to a number
    drawn as a dashed horizontal line (a paper's error). Errors are shown in percent; any other
    fraction per step can be, with its own axis labels. ``percent_range`` (low, high) gives every
    panel the same y range, so that panels compare at a glance."""
    if not panels:
        raise ValueError("no curves to plot")
    references = references or {}
    cols = min(3, len(panels))
    rows = -(-len(panels) // cols)
    path = Path(path)
    with _saved_figure(path, (4.0 * cols, 3.0 * rows)) as fig:
        axes = fig.subplots(rows, cols, squeeze=False).ravel()
        for ax, (name, lines) in zip(axes, panels.items(), strict=False):
            for label, errors in lines.items():
                epochs = np.arange(1, len(errors) + 1)
                ax.plot(epochs, 100 * np.asarray(errors, dtype=float), marker=".", label=label)
            if references.get(name) is not None:
                ax.axhline(100 * references[name], color="black", linestyle="--", label="paper")
            ax.set_title(name)
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
            if percent_range is not None:
                ax.set_ylim(*percent_range)
            ax.legend(fontsize="small")
        for ax in axes[len(panels) :]:
            ax.set_visible(False)
        if title is not None:
            fig.suptitle(title)
    return path


def latent_scatter(codes, labels, path, *, title=None, max_points=10000, seed=0):
    """Scatter [N, 2] latent codes coloured by their [N] digit labels (0-9)."""
    codes = np.asarray(codes, dtype=np.float64)
    if codes.ndim != 2 or codes.shape[1] != 2:
        raise ValueError(f"codes must have shape [N, 2]; got {codes.shape}")
    labels = np.asarray(labels)
    if labels.shape != (len(codes),):
        raise ValueError(f"labels must have shape [{len(codes)}]; got {labels.shape}")
    if labels.size and (
        np.any(labels != np.round(labels)) or labels.min() < 0 or labels.max() >= NUM_DIGITS
    ):
        raise ValueError("labels must be integer digits 0-9")
    if max_points < 1:
        raise ValueError(f"max_points must be >= 1; got {max_points}")
    labels = labels.astype(int)

    # A random order (not just a random subset) keeps one digit from being
    # painted on top of all the others when the data is sorted by label.
    order = np.random.default_rng(seed).permutation(len(codes))[:max_points]
    colours = plt.get_cmap("tab10")(np.arange(NUM_DIGITS))
    path = Path(path)
    with _saved_figure(path, (6.0, 5.0)) as fig:
        ax = fig.add_subplot()
        ax.scatter(codes[order, 0], codes[order, 1], c=colours[labels[order]], s=4, linewidths=0)
        # Proxy handles so every digit is listed even if absent from the subset.
        handles = [
            Line2D([], [], marker="o", linestyle="", color=colours[digit], label=str(digit))
            for digit in range(NUM_DIGITS)
        ]
        ax.legend(handles=handles, title="digit", loc="center left", bbox_to_anchor=(1, 0.5))
        ax.set_xlabel("z[0]")
        ax.set_ylabel("z[1]")
        if title is not None:
            ax.set_title(title)
    return path


def _format_alpha(alpha):
    """Format an interpolation weight compactly but with a decimal: 0 -> "0.0"."""
    text = f"{float(alpha):.3f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def interpolation_strips(images, path, *, alphas, title=None):
    """Save [N, S, H, W(, 1|3)] interpolations, one row each, columns labelled by alpha."""
    images = _image_array(images)
    if len(alphas) != images.shape[1]:
        raise ValueError(f"got {len(alphas)} alphas for {images.shape[1]} interpolation steps")
    col_labels = [_format_alpha(alpha) for alpha in alphas]
    return image_grid(images, path, col_labels=col_labels, title=title)


def sequence_grid(images, path, *, row_labels=None, title=None):
    """Save [R, T, H, W(, 1|3)] DRAW canvases, columns labelled t=1..t=T."""
    images = _image_array(images)
    col_labels = [f"t={step}" for step in range(1, images.shape[1] + 1)]
    return image_grid(images, path, row_labels=row_labels, col_labels=col_labels, title=title)
