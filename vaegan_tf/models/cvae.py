"""The conditional variational auto-encoder (Sohn et al. 2015) as built in Chen, Fang, Ju (2016), Secs. 2.2,
4.3 and 4.4.

Encoder Q(z|x, y) and decoder p(x|y, z) both take the side information y, trained on the negative
conditional ELBO L(x, y) of Sec. 2.2 (Gaussian posterior with diagonal covariance, N(0, I) prior,
independent Bernoulli pixels, one reparameterised z, closed-form KL). y is a one-hot label or part of an
image (the left half, Sec. 4.4.1). Both of the paper's networks:
- `conv` (Sec. 4.3, the CVAE of Figure 6): encoder conv5-28 -> conv5-56 -> conv5-108, each stride 2,
  'same' padding, BN + ReLU; flatten; [features, y] -> linear heads for mu and log sigma^2 (z = 50).
  Decoder [z, y] -> FC (H/4)*(W/4)*128 (BN, ReLU) -> reshape -> deconv5-64 s2 -> deconv5-32 s2 (BN, ReLU)
  -> a 5x5 stride-1 deconv to the image channels, logits. For SVHN (32x32x3) every width is multiplied by
  `width_scale` = 8/7 and rounded (28, 56, 108, 128, 64, 32 -> 32, 64, 123, 146, 73, 37).
- `fc` (Sec. 4.4, completion and style transfer): [flatten(x), y] -> 200 -> 200 softplus (BN) -> mu,
  log sigma^2; [z, y] -> 200 -> 200 softplus (BN) -> pixel logits.
`sample(count, y)` decodes a fresh z ~ N(0, I) with y (Secs. 2.2, 4.3); `encode_mean(x, y)` gives the code of a
base image for style transfer (Sec. 4.4.2: encode, then decode with another label).

Readings of what the paper leaves open (the authors' code, Jianbo-Lab/deep-learning-project):
- p(z|y) in the bound of Sec. 2.2 is taken to be N(0, I), independent of y: the paper generates with
  z ~ N(0, I) whatever the condition.
- The conv encoder's "Input y : [10]" joins after the convolutions: y is concatenated to the flattened
  conv5-108 features, and "FC-50 -> Sigma" is a linear head for log sigma^2.
- The conv decoder's "deconv5-32 -> output x" is read as deconv5-32 (stride 2) followed by its own output
  layer, a 5x5 stride-1 deconv to the image channels (sigmoid inside the Bernoulli); every deconv and conv
  is 5x5 with 'same' padding, so 7 -> 14 -> 28 (MNIST) and 8 -> 16 -> 32 (SVHN: the decoder starts at
  side / 4, which the paper's "same structure for SVHN" implies). ReLU everywhere (DCGAN, Sec. 4.3).
- "The number of neurons at each layer increases by 8/7" scales every hidden layer (filters, the FC
  before the reshape, and the FC networks' units), never z, the condition or the output channels.
- In completion (Sec. 4.4.1) the decoder outputs the whole image given the left half, and the loss is
  over all pixels; `condition_dim` is then the flattened half (392 for 28x28x1, 1536 for 32x32x3).
Weights use Keras' default initialisers (the paper: zero-centred normal, scale unstated).

Leaves out: the CVAE-GAN (Sec. 3.2) and the VAE-GAN (Sec. 3.1), which live in their own modules, and
the figures themselves (experiment bodies build on this model).
What it measured: results/figure6/README.md (`conv`), results/figure8/README.md and
results/figure9/README.md (`fc`).
"""

from __future__ import annotations

import dataclasses
import math

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from vaegan_tf import losses, optimizers
from vaegan_tf.choices import check_choice
from vaegan_tf.models.latent import GaussianLatentModel, bernoulli_pixels, diagonal_normal
from vaegan_tf.models.layers import Network, conv_block, deconv_decoder_layers, hidden_layers

tfd = tfp.distributions
ARCHITECTURES = ("conv", "fc")


@dataclasses.dataclass(frozen=True)
class CVAEConfig:
    architecture: str = "conv"  # Sec. 4.3 (label-conditional generation); "fc": Sec. 4.4
    image_shape: tuple[int, int, int] = (28, 28, 1)  # Sec. 4.2: MNIST; SVHN is (32, 32, 3)
    condition_dim: int = (
        10  # Sec. 4.3: "Input y : [10]"; Sec. 4.4.1: 392 for the left half of 28x28
    )
    latent_dim: int = 50  # Sec. 4.3 (FC-50 heads) and Sec. 4.4
    width_scale: float = (
        1.0  # Sec. 4.3: SVHN "the number of neurons at each layer increases by 8/7"
    )
    fc_hidden_units: tuple[int, ...] = (200, 200)  # Sec. 4.4: "a simple fully-connected CVAE"
    fc_activation: str = (
        "softplus"  # Sec. 4.4 (the authors' FC CVAE, Jianbo-Lab/deep-learning-project)
    )
    batch_norm: bool = (
        True  # Sec. 4: "added to all fully connected and convolutional layers except the output"
    )
    learning_rate: float = 1e-3  # Sec. 4: VAEs without GANs
    seed: int = 0

    def __post_init__(self):
        check_choice(self.architecture, ARCHITECTURES, "CVAE architecture")
        height, width, _ = self.image_shape
        if self.architecture == "conv" and (height % 4 or width % 4):
            raise ValueError(
                f"the conv CVAE decoder upsamples side / 4 twice; image_shape {self.image_shape} "
                "needs height and width divisible by 4"
            )

    def scaled(self, units: int) -> int:
        """A hidden layer's width times `width_scale`, rounded (at least 1)."""
        return max(1, round(units * self.width_scale))


def condition_vector(y, condition_dim: int) -> tf.Tensor:
    """The decoder's and encoder's y, float32 [B, condition_dim]: integer labels [B] become one-hot over
    `condition_dim` classes; anything else (a float condition, e.g. image halves [B, H, W/2, C]) is
    flattened to [B, condition_dim]."""
    y = tf.convert_to_tensor(y)
    if y.dtype.is_integer and y.shape.rank == 1:
        return tf.one_hot(y, condition_dim, dtype=tf.float32)
    return tf.reshape(tf.cast(y, tf.float32), [-1, condition_dim])


def _networks(config: CVAEConfig):
    """(x -> features, [features, y] -> 2 * latent, [z, y] -> image logits) as lists of layers."""
    bn, s, latent, shape = config.batch_norm, config.scaled, config.latent_dim, config.image_shape
    if config.architecture == "fc":
        units = [s(u) for u in config.fc_hidden_units]
        features = [keras.layers.Flatten()]
        head = [*hidden_layers(units, config.fc_activation, bn), keras.layers.Dense(2 * latent)]
        decoder = [
            *hidden_layers(units[::-1], config.fc_activation, bn),
            keras.layers.Dense(math.prod(shape)),
            keras.layers.Reshape(shape),
        ]
        return features, head, decoder
    features = [
        *conv_block(s(28), 2, bn),
        *conv_block(s(56), 2, bn),
        *conv_block(s(108), 2, bn),
        keras.layers.Flatten(),
    ]
    head = [keras.layers.Dense(2 * latent)]
    return features, head, deconv_decoder_layers(shape, bn, s)


class CVAE(GaussianLatentModel):
    """(x, y) -> Q(z|x, y) -> z -> p(x|y, z). Exposes `posterior`, `likelihood`, `prior` for evaluation.
    y is int labels [B] or a float condition reshapeable to [B, condition_dim] (see `condition_vector`)."""

    def __init__(self, config: CVAEConfig = CVAEConfig(), **kwargs):
        super().__init__(config.latent_dim, config.seed, **kwargs)
        self.config = config
        features, head, decoder = _networks(config)
        self.features = Network(features, name="features")
        self.encoder_head = Network(head, name="encoder_head")
        self.decoder = Network(decoder, name="decoder")

    def build_for_training(self) -> CVAE:
        self(
            (tf.zeros((1, *self.config.image_shape)), tf.zeros((1, self.config.condition_dim))),
            training=False,
        )
        return self

    def condition(self, y) -> tf.Tensor:
        return condition_vector(y, self.config.condition_dim)

    def posterior(self, x, y, training: bool) -> tfd.Distribution:
        h = tf.concat([self.features(x, training=training), self.condition(y)], -1)
        mean, log_variance = tf.split(self.encoder_head(h, training=training), 2, axis=-1)
        return diagonal_normal(mean, tf.exp(0.5 * log_variance))

    def likelihood(self, z, y, training: bool) -> tfd.Distribution:
        logits = self.decoder(tf.concat([z, self.condition(y)], -1), training=training)
        return bernoulli_pixels(logits)

    def per_example_terms(self, x, y, training: bool):
        """(-log p(x|y, z) [B], KL(Q(z|x, y) || p(z)) [B]) for one reparameterised z per example."""
        posterior = self.posterior(x, y, training)
        likelihood = self.likelihood(self.reparameterised_sample(posterior), y, training)
        return losses.reconstruction_nll(x, likelihood), losses.kl_to_prior(posterior, self.prior())

    def call(self, inputs, training=False):
        """Reconstruction means (Bernoulli probabilities) of x given y, through one posterior sample."""
        x, y = inputs
        return self.likelihood(
            self.reparameterised_sample(self.posterior(x, y, training)), y, training
        ).mean()

    @property
    def num_classes(self) -> int:
        """A label condition's class count (what `sample` draws labels from when given none); a CVAE
        conditioned on image halves must be given its condition."""
        return self.config.condition_dim

    def decode(self, z, y, training: bool = False) -> tf.Tensor:
        """Bernoulli means of p(x|y, z) for given codes z [B, latent_dim]: same z, different models."""
        return self.likelihood(z, y, training).mean()

    def encode_mean(self, x, y) -> tf.Tensor:
        """The posterior mean of z for (x, y): the 'code' carrying the style of x (Sec. 4.4.2)."""
        return self.posterior(x, y, training=False).mean()

    def elbo_inputs(self, data) -> tuple:
        return data[0], data[1]


def build_cvae(config: CVAEConfig = CVAEConfig()) -> CVAE:
    """A built, compiled CVAE; call inside `strategy.scope()`."""
    model = CVAE(config)
    model.compile(optimizer=optimizers.Adam(config.learning_rate))
    return model.build_for_training()
