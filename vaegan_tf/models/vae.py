"""The plain variational auto-encoder (Kingma & Welling 2013) as reviewed in Chen, Fang, Ju (2016), Sec. 2.1.

Fully connected encoder and decoder, Gaussian posterior with diagonal covariance, standard normal prior and
independent Bernoulli pixels (all TFP distributions), trained on the negative ELBO of eq. (1) with the
reparameterisation trick and the closed-form KL. The default network is the paper's own fully connected
one (Sec. 4.4: two hidden layers of 200 softplus units, z = 50) with its training details (Sec. 4: batch
norm on every layer but the outputs, Adam, lr 1e-3, batch 100). Leaves out: convolutional variants and
other layer sizes live in the configs of the experiments that need them; `decoder="deconv"` swaps in
Sec. 4.3's convolutional decoder (the VAE-GAN's, `vae_gan` says why). `encoder="conv"` puts
convolutions before the linear heads: the conv VAE of Srinivasan, Baur & Huber (2018), Sec.
3.1.2 ("2 layers, kernel size 3, stride 1, padding 1"; the filter counts, which they do not give,
are `encoder_filters`), each with the config's batch norm and activation, flattened into the heads;
its decoder stays the dense one.
Other nets are configs of the same blocks (the course reports' VAEs,
`vaegan_tf.models.course_reports`): per-layer activations (`encoder_activations`,
`decoder_activations`), a decoder of its own widths (`decoder_hidden_units`), dropout after every
dense hidden layer (`dropout`, a rate), the conv encoder's kernel and stride, and the deconv
decoder's hidden filters and strides and its last layer's stride (`layers.deconv_decoder_layers`).
What the paper's VAE measured (held-out NLL, samples): results/vae_mnist/README.md.
"""

from __future__ import annotations

import dataclasses
import math

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from vaegan_tf import losses, optimizers
from vaegan_tf.choices import check_choice
from vaegan_tf.models.interface import refuse_labels
from vaegan_tf.models.latent import GaussianLatentModel, bernoulli_pixels, diagonal_normal
from vaegan_tf.models.layers import Network, conv_block, deconv_decoder_layers, hidden_layers

tfd = tfp.distributions


@dataclasses.dataclass(frozen=True)
class VAEConfig:
    image_shape: tuple[int, int, int] = (28, 28, 1)
    hidden_units: tuple[int, ...] = (200, 200)  # Chen et al. Sec. 4.4, fully connected CVAE
    activation: str = "softplus"  # Sec. 4.4
    latent_dim: int = 50  # Sec. 4.4
    batch_norm: bool = (
        True  # Sec. 4: "added to all fully connected and convolutional layers except the output"
    )
    learning_rate: float = 1e-3  # Sec. 4: VAEs without GANs
    seed: int = 0
    decoder: str = (
        "dense"  # "deconv": Sec. 4.3's convolutional decoder (`deconv_decoder_layers`), z alone in
    )
    encoder: str = (
        "dense"  # "conv": convolutions (`encoder_filters`, 3x3, stride 1, same) before the heads
    )
    encoder_filters: tuple[int, ...] = (
        16,
        32,
    )  # the conv encoder's (Srinivasan et al. give no counts)
    # Other nets of the same blocks (module docstring); the defaults are the nets above.
    encoder_kernel_size: int = 3  # the conv encoder's (Srinivasan et al.)
    encoder_strides: int = 1
    encoder_activations: tuple[str, ...] | None = None  # one per hidden layer; None: `activation`
    decoder_hidden_units: tuple[int, ...] | None = None  # None: hidden_units reversed
    decoder_activations: tuple[str, ...] | None = None  # one per decoder layer; None: `activation`
    dropout: float = 0.0  # a rate, after every dense hidden layer of both networks
    deconv_filters: tuple[int, ...] = (64, 32)  # the deconv decoder's hidden layers (Sec. 4.3)
    deconv_strides: tuple[int, ...] = (2, 2)
    deconv_output_stride: int = 1

    def __post_init__(self):
        check_choice(self.decoder, DECODERS, "VAE decoder")
        check_choice(self.encoder, ENCODERS, "VAE encoder")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout {self.dropout} is a rate: it must be in [0, 1)")
        for name, units in (
            ("encoder_activations", self.hidden_units),
            ("decoder_activations", self.decoder_units),
        ):
            given = getattr(self, name)
            if given is not None and len(given) != len(units):
                raise ValueError(
                    f"{name} has {len(given)} entries for {len(units)} layers: give one per layer"
                )

    @property
    def decoder_units(self) -> tuple[int, ...]:
        """The dense decoder's hidden widths: its own, or the encoder's reversed."""
        return self.decoder_hidden_units or tuple(self.hidden_units[::-1])


DECODERS = ("dense", "deconv")
ENCODERS = ("dense", "conv")


def encoder_layers(config: VAEConfig) -> list[keras.layers.Layer]:
    """x -> flattened features: the dense hidden layers, or 3x3 stride-1 convolutions (`encoder="conv"`)."""
    if config.encoder == "conv":
        convolutions = [
            layer
            for filters in config.encoder_filters
            for layer in conv_block(
                filters,
                config.encoder_strides,
                config.batch_norm,
                activation=config.activation,
                kernel_size=config.encoder_kernel_size,
            )
        ]
        return [*convolutions, keras.layers.Flatten()]
    activations = config.encoder_activations or config.activation
    return [
        keras.layers.Flatten(),
        *hidden_layers(config.hidden_units, activations, config.batch_norm, config.dropout),
    ]


def decoder_layers(config: VAEConfig) -> list[keras.layers.Layer]:
    """z -> image logits: the dense hidden layers, or the deconv decoder (`decoder="deconv"`)."""
    if config.decoder == "deconv":
        return deconv_decoder_layers(
            config.image_shape,
            config.batch_norm,
            filters=config.deconv_filters,
            strides=config.deconv_strides,
            output_stride=config.deconv_output_stride,
        )
    activations = config.decoder_activations or config.activation
    return [
        *hidden_layers(config.decoder_units, activations, config.batch_norm, config.dropout),
        keras.layers.Dense(math.prod(config.image_shape)),
        keras.layers.Reshape(config.image_shape),
    ]


class VAE(GaussianLatentModel):
    """x -> Q(z|x) -> z -> p(x|z). Exposes `posterior`, `likelihood`, `prior` for evaluation."""

    def __init__(self, config: VAEConfig = VAEConfig(), **kwargs):
        super().__init__(config.latent_dim, config.seed, **kwargs)
        self.config = config
        self.encoder = Network(
            [*encoder_layers(config), keras.layers.Dense(2 * config.latent_dim)], name="encoder"
        )
        self.decoder = Network(decoder_layers(config), name="decoder")

    def build_for_training(self) -> VAE:
        self(tf.zeros((1, *self.config.image_shape)), training=False)
        return self

    def posterior(self, x, training: bool) -> tfd.Distribution:
        mean, log_variance = tf.split(self.encoder(x, training=training), 2, axis=-1)
        return diagonal_normal(mean, tf.exp(0.5 * log_variance))

    def likelihood(self, z, training: bool) -> tfd.Distribution:
        logits = self.decoder(z, training=training)
        return bernoulli_pixels(logits)

    def per_example_terms(self, x, training: bool):
        """(-log p(x|z) [B], KL(Q(z|x) || p(z)) [B]) for one reparameterised z per example."""
        posterior = self.posterior(x, training)
        likelihood = self.likelihood(self.reparameterised_sample(posterior), training)
        return losses.reconstruction_nll(x, likelihood), losses.kl_to_prior(posterior, self.prior())

    def call(self, x, training=False):
        """Reconstruction means (Bernoulli probabilities) of x, through one posterior sample."""
        return self.likelihood(
            self.reparameterised_sample(self.posterior(x, training)), training
        ).mean()

    def decode(self, z, labels=None, training: bool = False) -> tf.Tensor:
        """Bernoulli means of p(x|z) for codes z [B, latent_dim]."""
        refuse_labels("the VAE", labels)
        return self.likelihood(z, training).mean()

    def encode_mean(self, x, labels=None) -> tf.Tensor:
        """The posterior mean of z for x."""
        refuse_labels("the VAE", labels)
        return self.posterior(x, training=False).mean()


def build_vae(config: VAEConfig = VAEConfig()) -> VAE:
    """A built, compiled VAE; call inside `strategy.scope()`."""
    model = VAE(config)
    model.compile(optimizer=optimizers.Adam(config.learning_rate))
    return model.build_for_training()
