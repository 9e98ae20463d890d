"""DRAW's selective attention (Gregor et al. 2015, Sec. 3.2): an N x N grid of Gaussian filters
whose centre, stride, width and intensity the decoder chooses at every step.

For an H x W image and an N x N glimpse, the five window parameters come from a linear map of the
decoder state, (g~_X, g~_Y, log sigma^2, log delta~, log gamma) = W(h_dec) (eq. 21), and

    g_X = (W + 1) / 2 (g~_X + 1),  g_Y = (H + 1) / 2 (g~_Y + 1)
    delta = (max(H, W) - 1) / (N - 1) delta~
    mu_X^i = g_X + (i - N / 2 - 0.5) delta,  mu_Y^j = g_Y + (j - N / 2 - 0.5) delta,  i, j = 1..N
    F_X[i, a] = exp(-(a - mu_X^i)^2 / (2 sigma^2)) / Z_X
    F_Y[j, b] = exp(-(b - mu_Y^j)^2 / (2 sigma^2)) / Z_Y
    read(x)  = gamma F_Y x F_X^T         (N x N)
    write(w) = 1 / gamma F_Y^T w F_X     (H x W)

(eqs. 22-29). Pixel coordinates a = 1..W and b = 1..H, the paper's indexing: g~ = 0 is then the
image centre (W + 1) / 2 and the grid offsets i - N / 2 - 0.5 run symmetrically from -(N - 1) / 2 to
(N - 1) / 2, so a grid sits centred on g. Each filter row is normalised to sum to one (Z_X, Z_Y); it
is computed as a softmax over pixels of the exponent, the same numbers without dividing by a sum
that underflows when a window lies far off the image. Channels share the filters.

The authors of Chen, Fang, Ju (2016) computed the exponent as -((a - mu) / (2 sigma^2))^2 and took
0-based offsets with Python 2's integer N / 2, which puts the grid off centre (their
DRAW/helper.py); neither is copied here.
"""

from __future__ import annotations

from typing import NamedTuple

import tensorflow as tf

WINDOW_PARAMETERS = 5  # g~_X, g~_Y, log sigma^2, log delta~, log gamma


class Window(NamedTuple):
    """An attention window per example, each field [B]: centre (pixels, 1-based), stride between
    grid points (pixels), filter variance sigma^2 and intensity gamma."""

    center_x: tf.Tensor
    center_y: tf.Tensor
    stride: tf.Tensor
    variance: tf.Tensor
    intensity: tf.Tensor


def window_from_parameters(parameters: tf.Tensor, glimpse: int, height: int, width: int) -> Window:
    """The window of eqs. 22-24 from the five raw outputs [B, 5] of the decoder's linear map."""
    if glimpse < 2:
        raise ValueError(
            f"an attention glimpse needs N >= 2 (eq. 24 divides by N - 1); got N = {glimpse}"
        )
    gx, gy, log_variance, log_stride, log_intensity = tf.unstack(
        parameters, WINDOW_PARAMETERS, axis=-1
    )
    return Window(
        center_x=(width + 1) / 2 * (gx + 1),
        center_y=(height + 1) / 2 * (gy + 1),
        stride=(max(height, width) - 1) / (glimpse - 1) * tf.exp(log_stride),
        variance=tf.exp(log_variance),
        intensity=tf.exp(log_intensity),
    )


def grid_offsets(glimpse: int) -> tf.Tensor:
    """i - N / 2 - 0.5 for i = 1..N: [N], symmetric about 0."""
    return tf.range(1, glimpse + 1, dtype=tf.float32) - glimpse / 2 - 0.5


def filter_rows(
    center: tf.Tensor, stride: tf.Tensor, variance: tf.Tensor, glimpse: int, size: int
) -> tf.Tensor:
    """One axis' filterbank [B, N, size]: row i is the normalised Gaussian over pixels 1..size
    centred at mu^i = center + (i - N / 2 - 0.5) stride with variance sigma^2 (eqs.
    19-20, 25-26)."""
    means = center[:, None] + grid_offsets(glimpse)[None, :] * stride[:, None]  # [B, N]
    pixels = tf.range(1, size + 1, dtype=tf.float32)  # [size]
    exponent = -tf.square(pixels[None, None, :] - means[:, :, None]) / (
        2.0 * variance[:, None, None]
    )
    return tf.nn.softmax(exponent, axis=-1)


def filterbanks(
    window: Window, glimpse: int, height: int, width: int
) -> tuple[tf.Tensor, tf.Tensor]:
    """(F_Y [B, N, H], F_X [B, N, W]) of a window."""
    return (
        filter_rows(window.center_y, window.stride, window.variance, glimpse, height),
        filter_rows(window.center_x, window.stride, window.variance, glimpse, width),
    )


def read(images: tf.Tensor, window: Window, glimpse: int) -> tf.Tensor:
    """gamma F_Y x F_X^T per channel (eq. 27): images [B, H, W, C] -> glimpses [B, N, N, C]."""
    filters_y, filters_x = filterbanks(window, glimpse, images.shape[1], images.shape[2])
    glimpses = tf.einsum("bjh,bhwc,biw->bjic", filters_y, images, filters_x)
    return glimpses * window.intensity[:, None, None, None]


def write(patches: tf.Tensor, window: Window, height: int, width: int) -> tf.Tensor:
    """1 / gamma F_Y^T w F_X per channel (eq. 29): patches [B, N, N, C] -> canvas update [B, H, W,
    C]."""
    filters_y, filters_x = filterbanks(window, patches.shape[1], height, width)
    canvas = tf.einsum("bjh,bjic,biw->bhwc", filters_y, patches, filters_x)
    return canvas / window.intensity[:, None, None, None]
