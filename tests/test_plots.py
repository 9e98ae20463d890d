"""Tests for vaegan_tf.plots: PNGs are written, mosaics hold the right pixels, bad input fails."""

import matplotlib.image
import matplotlib.pyplot as plt
import numpy as np
import pytest

from vaegan_tf import plots, records


def read_png(path):
    """Read a saved PNG as float RGB [H, W, 3] (the decoder fails on anything else)."""
    pixels = matplotlib.image.imread(path)
    assert pixels.ndim == 3 and pixels.shape[2] in (3, 4)
    return pixels[..., :3]


@pytest.fixture(autouse=True)
def no_figure_leak():
    """Every plotting call must close the figures it opens, even on errors."""
    yield
    assert plt.get_fignums() == []


def write_csv_log(path, rows):
    """Write a CSVLogger-style file with columns epoch,loss,kl,val_loss,val_kl."""
    lines = ["epoch,loss,kl,val_loss,val_kl"] + [",".join(map(str, row)) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


# --- tile_images ---------------------------------------------------------------


def test_tile_images_places_each_tile_between_white_separators():
    images = np.arange(2 * 3, dtype=float).reshape(2, 3, 1, 1) / 10 * np.ones((1, 1, 2, 2))
    mosaic = plots.tile_images(images, pad=1)
    assert mosaic.shape == (2 * 2 + 1, 3 * 2 + 2)
    for row in range(2):
        for col in range(3):
            tile = mosaic[row * 3 : row * 3 + 2, col * 3 : col * 3 + 2]
            np.testing.assert_array_equal(tile, images[row, col])
    np.testing.assert_array_equal(mosaic[2, :], 1.0)
    np.testing.assert_array_equal(mosaic[:, [2, 5]], 1.0)


def test_tile_images_handles_channels_and_zero_pad():
    rgb = np.random.default_rng(0).random((2, 2, 3, 4, 3))
    mosaic = plots.tile_images(rgb, pad=0)
    assert mosaic.shape == (6, 8, 3)
    np.testing.assert_array_equal(mosaic[3:, 4:], rgb[1, 1])
    np.testing.assert_array_equal(mosaic[:3, 4:], rgb[0, 1])
    # A trailing grey channel is dropped, giving a 2-D mosaic for cmap="gray".
    grey = rgb[..., :1]
    np.testing.assert_array_equal(
        plots.tile_images(grey, pad=2), plots.tile_images(grey[..., 0], pad=2)
    )


# --- image_grid ----------------------------------------------------------------


@pytest.mark.parametrize("channels", [None, 1, 3])
def test_image_grid_bright_tile_lands_in_the_right_cell(tmp_path, channels):
    rows, cols, bright = 2, 3, (0, 2)
    images = np.zeros((rows, cols, 16, 16))
    # Mid-grey rather than white so the tile is distinguishable from the page.
    images[bright] = 0.6
    if channels is not None:
        images = np.repeat(images[..., None], channels, axis=-1)
    pixels = read_png(plots.image_grid(images, tmp_path / "grid.png")).mean(axis=-1)

    # The dark tiles bound the mosaic; split that box into cells and find the brightest.
    dark_rows, dark_cols = np.nonzero(pixels < 0.3)
    box = pixels[dark_rows.min() : dark_rows.max() + 1, dark_cols.min() : dark_cols.max() + 1]
    cell_h, cell_w = box.shape[0] // rows, box.shape[1] // cols
    means = np.array(
        [
            [
                box[r * cell_h : (r + 1) * cell_h, c * cell_w : (c + 1) * cell_w].mean()
                for c in range(cols)
            ]
            for r in range(rows)
        ]
    )
    assert np.unravel_index(means.argmax(), means.shape) == bright
    assert means[bright] == pytest.approx(0.6, abs=0.1)
    assert np.delete(means.ravel(), bright[0] * cols + bright[1]).max() < 0.15


def test_image_grid_with_labels_keeps_grid_aspect_and_creates_dirs(tmp_path):
    images = np.random.default_rng(0).random((2, 6, 28, 28))
    wide = read_png(
        plots.image_grid(
            images,
            tmp_path / "a" / "b" / "wide.png",
            row_labels=["real", "recon"],
            col_labels=list("abcdef"),
            title="wide",
        )
    )
    tall = read_png(plots.image_grid(images.transpose(1, 0, 2, 3), tmp_path / "tall.png"))
    assert wide.shape[1] > 1.5 * wide.shape[0]
    assert tall.shape[0] > 1.5 * tall.shape[1]
    assert min(wide.shape[:2]) > 100


@pytest.mark.parametrize("channels", [None, 3], ids=["grey", "rgb"])
def test_image_grid_returns_path_and_clips_tiny_excursions(tmp_path, caplog, channels):
    images = np.full((1, 2, 4, 4), 0.5)
    images[0, 0, 0, 0] = 1.0005
    images[0, 1, 0, 0] = -0.0005
    if channels:
        images = np.repeat(images[..., None], channels, axis=-1)
    with caplog.at_level("WARNING", logger="matplotlib"):
        out = plots.image_grid(images, str(tmp_path / "clip.png"))
    assert out == tmp_path / "clip.png"
    # matplotlib logs "Clipping input data" when it has to clip RGB floats itself
    assert not [r for r in caplog.records if "Clipping" in r.getMessage()]
    pixels = read_png(out).mean(axis=-1)
    assert np.isclose(pixels, 0.5, atol=0.01).mean() > 0.1  # the mid-grey tiles are drawn


@pytest.mark.parametrize("shape", [(4, 4, 4), (1, 2, 4, 4, 2), (1, 1, 1, 4, 4, 1), (0, 2, 4, 4)])
def test_image_grid_rejects_bad_shapes(tmp_path, shape):
    with pytest.raises(ValueError, match="shape"):
        plots.image_grid(np.zeros(shape), tmp_path / "bad.png")
    assert not (tmp_path / "bad.png").exists()


@pytest.mark.parametrize(
    "labels, match",
    [
        ({"row_labels": ["a", "b", "c"]}, "row_labels has 3 entries but images have 2"),
        ({"col_labels": ["a"]}, "col_labels has 1 entries but images have 3"),
    ],
)
def test_image_grid_rejects_mismatched_labels(tmp_path, labels, match):
    with pytest.raises(ValueError, match=match):
        plots.image_grid(np.zeros((2, 3, 4, 4)), tmp_path / "bad.png", **labels)


@pytest.mark.parametrize("bad_value", [1.01, -0.01, np.nan])
def test_image_grid_rejects_out_of_range_values(tmp_path, bad_value):
    images = np.zeros((1, 2, 4, 4))
    images[0, 1, 2, 2] = bad_value
    with pytest.raises(ValueError, match=r"\[0, 1\]|NaN"):
        plots.image_grid(images, tmp_path / "bad.png")


# --- loss_curves ---------------------------------------------------------------


def test_read_csv_log_parses_columns_with_one_based_epochs(tmp_path):
    csv_path = write_csv_log(
        tmp_path / "log.csv", [(0, 3.0, 1.0, 3.5, "NA"), (1, 2.0, 1.5, 2.5, 1.6)]
    )
    log = records.read_csv_log(csv_path)
    assert list(log) == ["epoch", "loss", "kl", "val_loss", "val_kl"]
    np.testing.assert_array_equal(log["epoch"], [1, 2])
    np.testing.assert_array_equal(log["loss"], [3.0, 2.0])
    assert np.isnan(log["val_kl"][0]) and log["val_kl"][1] == 1.6


def test_loss_curves_one_subplot_per_metric(tmp_path):
    rows = [
        (epoch, 3.0 / (epoch + 1), 0.1 * epoch, 3.2 / (epoch + 1), 0.1 * epoch + 0.05)
        for epoch in range(6)
    ]
    csv_path = write_csv_log(tmp_path / "log.csv", rows)
    both = read_png(plots.loss_curves(csv_path, tmp_path / "out" / "both.png", title="VAE"))
    only_kl = read_png(plots.loss_curves(csv_path, tmp_path / "kl.png", metrics=["kl"]))
    # Two side-by-side subplots make a clearly wider picture than one.
    assert both.shape[1] > 1.6 * only_kl.shape[1]
    assert only_kl.shape[0] > 100


def test_loss_curves_unknown_metric_lists_available(tmp_path):
    csv_path = write_csv_log(tmp_path / "log.csv", [(0, 1.0, 2.0, 1.1, 2.1)])
    with pytest.raises(ValueError, match=r"unknown metrics \['recon'\].*\['loss', 'kl'\]"):
        plots.loss_curves(csv_path, tmp_path / "bad.png", metrics=["loss", "recon"])


@pytest.mark.parametrize("content", ["", "epoch,loss,kl,val_loss,val_kl\n"])
def test_loss_curves_rejects_empty_csv(tmp_path, content):
    csv_path = tmp_path / "empty.csv"
    csv_path.write_text(content)
    with pytest.raises(ValueError, match="no header or no data rows"):
        plots.loss_curves(csv_path, tmp_path / "bad.png")


# --- latent_scatter ------------------------------------------------------------


def count_colour(pixels, rgb, tolerance=0.05):
    """Number of pixels within ``tolerance`` of ``rgb`` in every channel."""
    return int(np.all(np.abs(pixels - rgb) < tolerance, axis=-1).sum())


@pytest.mark.parametrize("digit, other", [(3, 0), (0, 3)])
def test_latent_scatter_colours_points_by_digit_with_tab10(tmp_path, digit, other):
    codes = np.random.default_rng(1).normal(size=(2000, 2))
    labels = np.full(2000, digit)
    pixels = read_png(plots.latent_scatter(codes, labels, tmp_path / "z.png", title="z"))
    tab10 = plt.get_cmap("tab10").colors
    # The other digit only appears as its legend marker.
    assert count_colour(pixels, tab10[digit]) > 5 * count_colour(pixels, tab10[other]) > 0


def test_latent_scatter_subsamples_large_inputs(tmp_path):
    rng = np.random.default_rng(0)
    codes, labels = rng.normal(size=(5000, 2)), rng.integers(0, 10, 5000)
    small = read_png(plots.latent_scatter(codes, labels, tmp_path / "small.png", max_points=50))
    full = read_png(plots.latent_scatter(codes, labels, tmp_path / "full.png"))
    tab10 = np.array(plt.get_cmap("tab10").colors)
    coloured = lambda pixels: sum(count_colour(pixels, colour) for colour in tab10)  # noqa: E731
    assert coloured(small) < coloured(full) / 5


@pytest.mark.parametrize(
    "codes, labels",
    [
        (np.zeros((5, 3)), np.zeros(5, int)),
        (np.zeros(10), np.zeros(5, int)),
        (np.zeros((5, 2)), np.zeros(4, int)),
        (np.zeros((5, 2)), np.full(5, 10)),
        (np.zeros((5, 2)), np.full(5, 0.5)),
    ],
)
def test_latent_scatter_rejects_bad_inputs(tmp_path, codes, labels):
    with pytest.raises(ValueError, match="codes must have shape|labels must"):
        plots.latent_scatter(codes, labels, tmp_path / "bad.png")


# --- interpolation_strips and sequence_grid ------------------------------------


def capture_image_grid(monkeypatch):
    """Replace plots.image_grid by a recorder and return the list of recorded calls."""
    calls = []
    monkeypatch.setattr(plots, "image_grid", lambda images, path, **kwargs: calls.append(kwargs))
    return calls


def test_interpolation_strips_labels_columns_with_alphas(tmp_path, monkeypatch):
    images = np.random.default_rng(0).random((3, 6, 8, 8, 1))
    out = plots.interpolation_strips(images, tmp_path / "interp.png", alphas=np.linspace(0, 1, 6))
    assert read_png(out).shape[1] > read_png(out).shape[0]

    calls = capture_image_grid(monkeypatch)
    plots.interpolation_strips(
        images, tmp_path / "x.png", alphas=[0, 0.2, 0.25, 0.6, 1 / 3, 1.0], title="lerp"
    )
    assert calls == [{"col_labels": ["0.0", "0.2", "0.25", "0.6", "0.333", "1.0"], "title": "lerp"}]


def test_interpolation_strips_requires_one_alpha_per_step(tmp_path):
    with pytest.raises(ValueError, match="got 3 alphas for 4 interpolation steps"):
        plots.interpolation_strips(np.zeros((2, 4, 8, 8)), tmp_path / "bad.png", alphas=[0, 0.5, 1])


def test_sequence_grid_labels_time_steps(tmp_path, monkeypatch):
    images = np.random.default_rng(0).random((2, 5, 8, 8))
    read_png(plots.sequence_grid(images, tmp_path / "draw.png", row_labels=["a", "b"]))

    calls = capture_image_grid(monkeypatch)
    plots.sequence_grid(images, tmp_path / "x.png", row_labels=["a", "b"], title="DRAW")
    assert calls == [
        {
            "row_labels": ["a", "b"],
            "col_labels": ["t=1", "t=2", "t=3", "t=4", "t=5"],
            "title": "DRAW",
        }
    ]


def test_sequence_grid_rejects_mismatched_row_labels(tmp_path):
    with pytest.raises(ValueError, match="row_labels"):
        plots.sequence_grid(np.zeros((2, 5, 8, 8)), tmp_path / "bad.png", row_labels=["a"])
