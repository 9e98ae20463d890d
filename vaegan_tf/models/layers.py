"""Building blocks every model of the suite is made of: dense stacks, Sec. 4.3's convolution blocks and
its deconvolutional decoder (Chen, Fang, Ju 2016). Batch norm is synchronized, so a mirrored replica
normalises with the statistics of the global batch, as one device would."""

from __future__ import annotations

import math

import keras


def hidden_layers(units, activation: str, batch_norm: bool) -> list[keras.layers.Layer]:
    """Dense -> (batch norm) -> activation, for each width (Sec. 4: batch norm on every layer but the
    outputs; the Dense then needs no bias, batch norm's offset plays its part)."""
    layers = []
    for width in units:
        layers.append(keras.layers.Dense(width, use_bias=not batch_norm))
        if batch_norm:
            layers.append(keras.layers.BatchNormalization(synchronized=True))
        layers.append(keras.layers.Activation(activation))
    return layers


def conv_block(
    filters: int,
    strides: int,
    batch_norm: bool,
    transpose: bool = False,
    activation: str = "relu",
    kernel_size: int = 5,
) -> list[keras.layers.Layer]:
    """A 'same' (transposed) convolution -> (batch norm) -> activation: Sec. 4.3's 5x5 ReLU blocks by
    default."""
    layer = (keras.layers.Conv2DTranspose if transpose else keras.layers.Conv2D)(
        filters, kernel_size, strides=strides, padding="same", use_bias=not batch_norm
    )
    norm = [keras.layers.BatchNormalization(synchronized=True)] if batch_norm else []
    return [layer, *norm, keras.layers.Activation(activation)]


def deconv_decoder_layers(
    image_shape, batch_norm: bool, width=lambda units: units
) -> list[keras.layers.Layer]:
    """Sec. 4.3's decoder (the CVAE's): FC (H/4)*(W/4)*128 (BN, ReLU) -> reshape -> deconv5-64 s2 ->
    deconv5-32 s2 (BN, ReLU) -> a 5x5 stride-1 deconv to the image channels, logits. `width` scales the
    hidden widths (SVHN's 8/7)."""
    start = (image_shape[0] // 4, image_shape[1] // 4, width(128))
    return [
        *hidden_layers((math.prod(start),), "relu", batch_norm),
        keras.layers.Reshape(start),
        *conv_block(width(64), 2, batch_norm, transpose=True),
        *conv_block(width(32), 2, batch_norm, transpose=True),
        keras.layers.Conv2DTranspose(image_shape[-1], 5, strides=1, padding="same"),
    ]
