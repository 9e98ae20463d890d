"""The generator and critic networks of the GAN family (`vaegan_tf.models.gan`), as small builder
functions, and the two thin wrappers that make any of them conditional.

- `fc`: the fully connected GAN and CGAN of Srinivasan, Baur & Huber (2018), Sec. 3.2.1: G: z (100)
  -> FC 256 -> FC 512 -> FC 1024 -> FC 28*28; D: x -> FC 1024 -> FC 512 -> FC 256 -> FC 1, LeakyReLU
  everywhere, dropout 0.3. The report leaves open where the dropout goes, the LeakyReLU slope and
  the output activations; read as the public MNIST GAN these nets match (dropout after each of D's
  hidden layers, slope 0.2, tanh on G's output for data in [-1, 1], a logit out of D: the sigmoid
  lives in the loss). The report uses no batch norm in D ("it receives data from two sources") and
  lists none in G; both are options.
- `dcgan`: Radford, Metz & Chintala (2016), Figure 2 and Sec. 3, adapted to 28x28: z is projected to
  7x7x128 (a matrix multiply, "the result is reshaped"), one fractionally strided 5x5 convolution to
  14x14x64 and one to the 28x28 image (tanh); batch norm in G but at its output, ReLU. D mirrors it:
  5x5 stride-2 convolutions to 14x14x64 and 7x7x128, LeakyReLU 0.2, batch norm but on the input
  layer, no pooling and no hidden FC layer, then one linear output. Two stride-2 stages instead of
  the paper's four (64x64 images), with the widths of the authors' released code's last two stages
  (64 and 128 feature maps next to the image, doubling away from it); weights from N(0, 0.02)
  (Sec. 4).

Both architectures take their widths, activations and shapes from the config, defaults being the
nets above, so the course reports' nets are configs of these builders
(`vaegan_tf.models.course_reports`): `generator_units` / `critic_units` for `fc`; for `dcgan`
`generator_start` (the shape z is projected to) with `generator_deconvs` (filters, kernel, stride,
padding of each hidden transposed convolution) and `generator_output` (kernel, stride, padding of
the last, to the image's channels, tanh), and `critic_filters` (5x5 stride-2 'same' convolutions);
`generator_activation` / `critic_activation` replace ReLU / LeakyReLU; `critic_first_batch_norm`
puts batch norm on the critic's first layer too (Radford et al. leave it off).

`Generator` and `Critic` wrap a body network. Unconditional they pass z, or x, straight through.
Conditional (Mirza & Osindero 2014) they join the one-hot label y to the input: G's body gets
[z, y]; D's gets [flatten(x), y] (`fc`) or x with y as label maps, K constant planes stacked on its
channels (`dcgan`, the CDCGAN). The critic returns one score per image, [B]: D's logit for the GAN
losses, f(x) for the Wasserstein ones.
"""

from __future__ import annotations

import dataclasses
import math

import keras
import tensorflow as tf

from vaegan_tf.choices import check_choice
from vaegan_tf.models.layers import Network, conv_block, hidden_layers

ARCHITECTURES = ("fc", "dcgan")
PADDINGS = ("same", "valid")
LEAKY = (
    "leaky_relu"  # Keras' slope is 0.2, Radford et al.'s (Sec. 3); the fc nets read the same way
)


@dataclasses.dataclass(frozen=True)
class NetworkConfig:
    architecture: str = "fc"  # ARCHITECTURES
    generator_batch_norm: bool = False  # fc: none listed; dcgan: Radford et al. Sec. 3
    critic_batch_norm: bool = False  # Srinivasan et al. Sec. 3.2.1: none in D; dcgan: Radford's
    dropout: float = 0.3  # after each of the critic's hidden layers (Srinivasan et al.); 0: none
    init_stddev: float | None = (
        None  # N(0, stddev) weights (Radford et al. Sec. 4: 0.02); None: Keras'
    )
    # The builders' shapes (module docstring); None: the nets of Srinivasan et al. and Radford et al.
    generator_units: tuple[int, ...] | None = None  # fc: (256, 512, 1024)
    critic_units: tuple[int, ...] | None = None  # fc: (1024, 512, 256)
    generator_activation: str | None = None  # fc: LeakyReLU; dcgan: ReLU
    critic_activation: str | None = None  # LeakyReLU
    generator_start: tuple[int, int, int] | None = None  # dcgan: (H/4, W/4, 128)
    generator_deconvs: tuple[tuple[int, int, int, str], ...] | None = None  # ((64, 5, 2, "same"),)
    generator_output: tuple[int, int, str] = (5, 2, "same")  # the last deconv's kernel, stride
    critic_filters: tuple[int, ...] | None = None  # dcgan: (64, 128)
    critic_first_batch_norm: bool = False  # dcgan: batch norm on the first conv too

    def __post_init__(self):
        check_choice(self.architecture, ARCHITECTURES, "GAN architecture")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout {self.dropout} must be in [0, 1)")
        if (self.generator_start is None) != (self.generator_deconvs is None):
            raise ValueError(
                "generator_start and generator_deconvs go together: give both or neither"
            )
        for padding in [d[3] for d in self.generator_deconvs or ()] + [self.generator_output[2]]:
            check_choice(padding, PADDINGS, "padding")


FC = NetworkConfig()
DCGAN = NetworkConfig(
    "dcgan", generator_batch_norm=True, critic_batch_norm=True, dropout=0.0, init_stddev=0.02
)


def _initialised(
    layers: list[keras.layers.Layer], stddev: float | None
) -> list[keras.layers.Layer]:
    """Sets N(0, stddev) kernels on layers not yet built (`layers.conv_block` takes no
    initialiser)."""
    if stddev is not None:
        for layer in layers:
            if hasattr(layer, "kernel_initializer"):
                layer.kernel_initializer = keras.initializers.RandomNormal(0.0, stddev)
    return layers


def fc_generator_body(image_shape, config: NetworkConfig = FC, units=None) -> keras.Sequential:
    """[z (, y)] -> FC 256 -> FC 512 -> FC 1024 (LeakyReLU) -> FC H*W*C, tanh -> [B, H, W, C], or
    the config's widths and activation (`units` overrides both the config and the default)."""
    units = units or config.generator_units or (256, 512, 1024)
    activation = config.generator_activation or LEAKY
    layers = [
        *hidden_layers(units, activation, config.generator_batch_norm),
        keras.layers.Dense(math.prod(image_shape), activation="tanh"),
        keras.layers.Reshape(image_shape),
    ]
    return Network(_initialised(layers, config.init_stddev), name="generator_body")


def fc_critic_body(config: NetworkConfig = FC, units=None) -> keras.Sequential:
    """[flatten(x) (, y)] -> FC 1024 -> FC 512 -> FC 256 (LeakyReLU, dropout) -> FC 1, a score, or
    the config's widths and activation (`units` overrides both)."""
    units = units or config.critic_units or (1024, 512, 256)
    activation = config.critic_activation or LEAKY
    layers = []
    for width in units:
        layers += hidden_layers((width,), activation, config.critic_batch_norm)
        if config.dropout:
            layers.append(keras.layers.Dropout(config.dropout))
    layers.append(keras.layers.Dense(1))
    return Network(_initialised(layers, config.init_stddev), name="critic_body")


def deconv_side(side: int, kernel: int, stride: int, padding: str) -> int:
    """The side a Keras transposed convolution makes of `side`: side * stride ('same') or
    (side - 1) * stride + kernel ('valid')."""
    return side * stride if padding == "same" else (side - 1) * stride + kernel


def generator_plan(image_shape, config: NetworkConfig, filters=None):
    """(start shape, hidden deconvs, output deconv) of the dcgan generator: the config's, or
    Radford et al.'s adapted to the image (`filters`, (start, deconv) widths, overrides them);
    raises if the deconvolutions do not make the image's height and width."""
    if filters is not None or config.generator_start is None:
        filters = filters or (128, 64)
        if image_shape[0] % 4 or image_shape[1] % 4:
            raise ValueError(
                f"the dcgan nets upsample side / 4 twice; image_shape {image_shape} needs height "
                "and width divisible by 4"
            )
        start = (image_shape[0] // 4, image_shape[1] // 4, filters[0])
        return start, ((filters[1], 5, 2, "same"),), (5, 2, "same")
    start, deconvs, output = (
        config.generator_start,
        config.generator_deconvs,
        config.generator_output,
    )
    sides = []
    for axis in (0, 1):
        side = start[axis]
        for _, kernel, stride, padding in (*deconvs, (None, *output)):
            side = deconv_side(side, kernel, stride, padding)
        sides.append(side)
    if tuple(sides) != tuple(image_shape[:2]):
        raise ValueError(
            f"generator_start {start} through generator_deconvs {deconvs} and generator_output "
            f"{output} makes {sides[0]}x{sides[1]} images, not {image_shape[0]}x{image_shape[1]}: "
            "change a kernel, stride or padding"
        )
    return start, deconvs, output


def dcgan_generator_body(
    image_shape, config: NetworkConfig = DCGAN, filters=None
) -> keras.Sequential:
    """[z (, y)] -> project to (H/4)x(W/4)x128 (BN, ReLU) -> deconv5 64 s2 (BN, ReLU) -> deconv5 C
    s2, tanh -> [B, H, W, C]; or the config's projection, deconvolutions and activation
    (`generator_plan`)."""
    bn = config.generator_batch_norm
    activation = config.generator_activation or "relu"
    start, deconvs, (kernel, stride, padding) = generator_plan(image_shape, config, filters)
    layers = [*hidden_layers((math.prod(start),), activation, bn), keras.layers.Reshape(start)]
    for width, size, step, pad in deconvs:
        layers += conv_block(
            width, step, bn, transpose=True, activation=activation, kernel_size=size, padding=pad
        )
    layers.append(
        keras.layers.Conv2DTranspose(
            image_shape[-1], kernel, strides=stride, padding=padding, activation="tanh"
        )
    )
    return Network(_initialised(layers, config.init_stddev), name="generator_body")


def dcgan_critic_body(config: NetworkConfig = DCGAN, filters=None) -> keras.Sequential:
    """x (with label maps) -> conv5 64 s2 (LeakyReLU) -> conv5 128 s2 (BN, LeakyReLU) -> FC 1, a
    score; or the config's filters and activation. No batch norm on the input layer (Radford et al.
    Sec. 3) unless `critic_first_batch_norm`."""
    filters = filters or config.critic_filters or (64, 128)
    activation = config.critic_activation or LEAKY
    first_bn = config.critic_batch_norm and config.critic_first_batch_norm
    layers = [*conv_block(filters[0], 2, first_bn, activation=activation)]
    for width in filters[1:]:
        layers += conv_block(width, 2, config.critic_batch_norm, activation=activation)
        if config.dropout:
            layers.append(keras.layers.Dropout(config.dropout))
    layers += [keras.layers.Flatten(), keras.layers.Dense(1)]
    return Network(_initialised(layers, config.init_stddev), name="critic_body")


def one_hot(labels, num_classes: int, dtype=tf.float32) -> tf.Tensor:
    return tf.one_hot(tf.cast(labels, tf.int32), num_classes, dtype=dtype)


class Generator(keras.Model):
    """z [B, latent_dim] (and labels [B]) -> images [B, H, W, C] in [-1, 1]."""

    def __init__(self, body: keras.Model, num_classes: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.body, self.num_classes = body, num_classes

    def call(self, z, labels=None, training=False):
        if self.num_classes:
            # z arrives in the compute dtype (a Keras model casts its input): so do the labels
            z = tf.concat([z, one_hot(labels, self.num_classes, z.dtype)], -1)
        return self.body(z, training=training)


class Critic(keras.Model):
    """images [B, H, W, C] (and labels [B]) -> one score per image [B]. `label_maps`: the
    conditional label joins as K planes on the image's channels (CDCGAN); else the body gets a
    flat vector."""

    def __init__(
        self, body: keras.Model, num_classes: int | None = None, label_maps: bool = False, **kwargs
    ):
        super().__init__(**kwargs)
        self.body, self.num_classes, self.label_maps = body, num_classes, label_maps

    def call(self, images, labels=None, training=False):
        inputs = images if self.label_maps else keras.ops.reshape(images, (tf.shape(images)[0], -1))
        if self.num_classes:
            y = one_hot(labels, self.num_classes, inputs.dtype)
            if self.label_maps:
                y = tf.broadcast_to(
                    y[:, None, None, :], [*tf.unstack(tf.shape(images)[:3]), self.num_classes]
                )
            inputs = tf.concat([inputs, y], -1)
        return tf.squeeze(self.body(inputs, training=training), -1)


def build_networks(config: NetworkConfig, image_shape, num_classes: int | None = None):
    """(Generator, Critic) of `config.architecture`, conditional on `num_classes` labels if
    given."""
    if config.architecture == "fc":
        generator_body, critic_body = fc_generator_body(image_shape, config), fc_critic_body(config)
    else:
        generator_body, critic_body = (
            dcgan_generator_body(image_shape, config),
            dcgan_critic_body(config),
        )
    label_maps = config.architecture == "dcgan"
    return (
        Generator(generator_body, num_classes, name="generator"),
        Critic(critic_body, num_classes, label_maps=label_maps, name="critic"),
    )
