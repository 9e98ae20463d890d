"""Building blocks every model of the suite is made of: dense stacks, Sec. 4.3's convolution blocks and
its deconvolutional decoder (Chen, Fang, Ju 2016), and `Network`, the stack every model's
sub-networks are. Batch norm (`BatchNormalization`) is synchronized, so a mirrored replica normalises
with the statistics of the global batch, as one device would."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterable

import keras
import tensorflow as tf


def every_layer(layer: keras.layers.Layer):
    """`layer` and, through the public `layers` of the models in it, every layer inside."""
    yield layer
    for child in getattr(layer, "layers", ()):
        yield from every_layer(child)


@keras.saving.register_keras_serializable(package="vaegan_tf")
class BatchNormalization(keras.layers.BatchNormalization):
    """Keras' batch norm (Ioffe & Szegedy 2015, Algorithm 1: y = gamma (x - mu_B) / sqrt(sigma_B^2
    + epsilon) + beta over the batch's moments, moving averages for inference), synchronized over
    replicas by default. Its training pass over channels-last 4-D float32 activations on one
    replica runs TensorFlow's fused kernel (`FusedBatchNormV3`, oneDNN's on a CPU): one op forward
    and one backward where Keras takes a dozen for the moments, normalisation and their gradients,
    the larger share of a convolutional step's element-wise time. Same equations, same weights and
    checkpoints. Both compute two-pass moments; the kernel's rounding is a few float32 ulp larger
    than Keras' and depends on how its threads split the batch, so two algebraically equal
    computations through it agree to about 1e-5 rather than 1e-7 (set `use_fused_kernel` to False
    on the class to compare such computations bit for bit). Everything else (inference, 2-D
    inputs, masks, several replicas, bfloat16 inputs, renorm) is Keras' own path."""

    use_fused_kernel = True  # the class-wide switch between the kernel and Keras' path

    def __init__(self, synchronized=True, **kwargs):
        super().__init__(synchronized=synchronized, **kwargs)

    def _fused_applies(self, inputs, training, mask) -> bool:
        replica = tf.distribute.get_replica_context()
        return bool(
            self.use_fused_kernel
            and training
            and self.trainable
            and not self.renorm
            and mask is None
            and len(inputs.shape) == 4
            and self.axis in (-1, 3)
            and inputs.dtype == tf.float32
            and self.epsilon >= 1.001e-5  # the kernel's floor (cuDNN's)
            and replica is not None
            and replica.num_replicas_in_sync == 1
        )

    def call(self, inputs, training=None, mask=None):
        if not self._fused_applies(inputs, training, mask):
            return super().call(inputs, training=training, mask=mask)
        channels = inputs.shape[-1]
        gamma = self.gamma if self.scale else tf.ones([channels])
        beta = self.beta if self.center else tf.zeros([channels])
        outputs, mean, unbiased_variance = tf.compat.v1.nn.fused_batch_norm(
            inputs, gamma, beta, epsilon=self.epsilon, data_format="NHWC", is_training=True
        )
        # The kernel hands back the Bessel-corrected variance for the moving average; Keras (and
        # the normalisation itself) uses the biased one.
        count = tf.cast(tf.reduce_prod(tf.shape(inputs)[:-1]), tf.float32)
        variance = unbiased_variance * (count - 1.0) / tf.maximum(count, 1.0)
        self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
        self.moving_variance.assign(
            self.moving_variance * self.momentum + variance * (1.0 - self.momentum)
        )
        return outputs


@contextlib.contextmanager
def population_statistics(
    model: keras.layers.Layer, forward: Callable[[tf.Tensor], object], batches: Iterable
):
    """Inside the block, every batch norm layer of `model` that `forward(batch)` runs in training
    mode holds, as its moving mean and variance, the average of its batch moments over `batches`
    under the current weights: the population statistics of Ioffe & Szegedy (2015), Algorithm 2,
    steps 8-11 ("precise BN" in Wu & Johnson 2021, Sec. 3), in place of an exponential average that
    trails weights which moved during training. The variance is averaged as Keras' moving average
    takes it (biased, per batch). On leaving, every moving statistic and momentum is restored, so
    the model is as it was. Runs `forward` eagerly: the momentum is read at each call."""
    norms = [layer for layer in every_layer(model) if isinstance(layer, BatchNormalization)]
    saved = [
        (layer, layer.momentum, layer.moving_mean.numpy(), layer.moving_variance.numpy())
        for layer in norms
    ]
    try:
        for count, batch in enumerate(batches):
            for layer in norms:  # the running mean of the batch moments seen so far
                layer.momentum = count / (count + 1.0)
            forward(batch)
        yield model
    finally:
        for layer, momentum, mean, variance in saved:
            layer.momentum = momentum
            layer.moving_mean.assign(mean)
            layer.moving_variance.assign(variance)


class Network(keras.Sequential):
    """A stack of layers whose output is float32 under any dtype policy. Under Keras'
    `mixed_bfloat16` the layers inside compute in bfloat16 (their inputs are cast on the way in);
    what leaves the network meets float32 noise, labels, distributions and losses, which take it
    in float32, as the mixed-precision guide of Keras asks of a model's outputs. Under float32 the
    cast is the identity."""

    def call(self, inputs, training=None, mask=None):
        outputs = super().call(inputs, training=training, mask=mask)
        return keras.tree.map_structure(lambda tensor: keras.ops.cast(tensor, "float32"), outputs)


def hidden_layers(
    units, activation, batch_norm: bool, dropout: float = 0.0
) -> list[keras.layers.Layer]:
    """Dense -> (batch norm) -> activation (-> dropout at `dropout`, a rate), for each width (Sec. 4:
    batch norm on every layer but the outputs; the Dense then needs no bias, batch norm's offset
    plays its part). `activation` is one name for every layer or a sequence of one per width."""
    activations = [activation] * len(units) if isinstance(activation, str) else list(activation)
    if len(activations) != len(units):
        raise ValueError(
            f"{len(activations)} activations for {len(units)} layers: give one per layer"
        )
    layers = []
    for width, layer_activation in zip(units, activations, strict=True):
        layers.append(keras.layers.Dense(width, use_bias=not batch_norm))
        if batch_norm:
            layers.append(BatchNormalization())
        layers.append(keras.layers.Activation(layer_activation))
        if dropout:
            layers.append(keras.layers.Dropout(dropout))
    return layers


def conv_block(
    filters: int,
    strides: int,
    batch_norm: bool,
    transpose: bool = False,
    activation: str = "relu",
    kernel_size: int = 5,
    padding: str = "same",
) -> list[keras.layers.Layer]:
    """A (transposed) convolution -> (batch norm) -> activation: Sec. 4.3's 5x5 'same' ReLU blocks
    by default."""
    layer = (keras.layers.Conv2DTranspose if transpose else keras.layers.Conv2D)(
        filters, kernel_size, strides=strides, padding=padding, use_bias=not batch_norm
    )
    norm = [BatchNormalization()] if batch_norm else []
    return [layer, *norm, keras.layers.Activation(activation)]


def deconv_decoder_layers(
    image_shape,
    batch_norm: bool,
    width=lambda units: units,
    filters=(64, 32),
    strides=(2, 2),
    output_stride: int = 1,
    start_filters: int = 128,
) -> list[keras.layers.Layer]:
    """Sec. 4.3's decoder (the CVAE's) by default: FC (H/4)*(W/4)*128 (BN, ReLU) -> reshape ->
    deconv5-64 s2 -> deconv5-32 s2 (BN, ReLU) -> a 5x5 stride-1 deconv to the image channels,
    logits. `width` scales the hidden widths (SVHN's 8/7); `filters` and `strides` are the hidden
    5x5 'same' deconvolutions, `output_stride` the last one's, and the FC layer projects to the side
    that they upsample to the image's."""
    if len(filters) != len(strides):
        raise ValueError(f"{len(filters)} deconv filter counts for {len(strides)} strides")
    scale = math.prod(strides) * output_stride
    if image_shape[0] % scale or image_shape[1] % scale:
        raise ValueError(
            f"deconvolutions of strides {tuple(strides)} then {output_stride} upsample {scale}x: "
            f"image_shape {tuple(image_shape)} needs height and width divisible by {scale}"
        )
    start = (image_shape[0] // scale, image_shape[1] // scale, width(start_filters))
    layers = [*hidden_layers((math.prod(start),), "relu", batch_norm), keras.layers.Reshape(start)]
    for count, stride in zip(filters, strides, strict=True):
        layers += conv_block(width(count), stride, batch_norm, transpose=True)
    layers.append(
        keras.layers.Conv2DTranspose(image_shape[-1], 5, strides=output_stride, padding="same")
    )
    return layers
