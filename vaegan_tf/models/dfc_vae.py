"""Deep-feature-consistent VAE (the poster of Chen, Fang, Ju 2016, after Hou et al. 2016): a VAE whose pixel
reconstruction loss is replaced by the distance between feature maps of a fixed, pre-trained network.

Per layer l with C x W x H feature maps Phi^l, the poster's feature perceptual loss is
    L_rec^l = 1 / (2 C W H) * sum_{c,w,h} (Phi^l(x) - Phi^l(x_bar))^2,
and the model minimises KL(q(z|x) || p(z)) + perceptual_weight * sum_l L_rec^l. The poster's three steps:
pre-train a network for a prediction task, use its feature maps as the reconstruction loss, keep its
weights fixed while the VAE trains.

Open choices, written down: Hou et al. used VGG-19 pre-trained on ImageNet (relu1_1, relu2_1, relu3_1);
no such weights can be fetched here and VGG does not fit 28 x 28 grey digits, so the fixed network is a
small VGG-style digit classifier (`build_perceptual_network`: conv3-32, pool, conv3-64, pool, conv3-128,
dense 10), trained on the MNIST training images alone, different in architecture, seed and training from
the evaluator classifier that scores samples (the issue forbids using the evaluator itself: the loss would
then optimise the metric). Its three ReLU outputs are the feature layers. perceptual_weight: the poster
leaves it open and Hou et al.'s beta = 0.5 was tuned to VGG's activation scale; 784 here, so each layer's
mean squared error weighs like a sum over the 784 pixels, as the Bernoulli loss of the plain VAE does.
Encoder and decoder are the plain VAE's (Sec. 4.4: 2 x 200 softplus, z = 50); images are Bernoulli means.
What it measured: results/dfcvae/README.md.
"""

from __future__ import annotations

import dataclasses

import keras
import tensorflow as tf

from vaegan_tf import losses, optimizers
from vaegan_tf.models.layers import Network
from vaegan_tf.models.vae import VAE, VAEConfig

FEATURE_LAYERS = ("relu1", "relu2", "relu3")


@dataclasses.dataclass(frozen=True)
class DFCVAEConfig:
    vae: VAEConfig = VAEConfig()  # Sec. 4: lr 1e-3 for VAEs without GANs
    perceptual_weight: float = 784.0
    feature_layers: tuple[str, ...] = FEATURE_LAYERS


def build_perceptual_network(
    image_shape=(28, 28, 1), num_classes: int = 10, seed: int = 1
) -> keras.Sequential:
    """The compiled classifier whose ReLU feature maps define the perceptual loss (pre-trained separately)."""

    def initializer():
        return keras.initializers.GlorotUniform(seed=seed)

    def conv(filters, name):
        return keras.layers.Conv2D(
            filters,
            3,
            padding="same",
            activation="relu",
            name=name,
            kernel_initializer=initializer(),
        )

    model = Network(
        [
            keras.Input(image_shape),
            conv(32, "relu1"),
            keras.layers.MaxPooling2D(),
            conv(64, "relu2"),
            keras.layers.MaxPooling2D(),
            conv(128, "relu3"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(num_classes, kernel_initializer=initializer(), name="logits"),
        ],
        name="perceptual_network",
    )
    model.compile(
        optimizer=optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def feature_extractor(network: keras.Model, layers=FEATURE_LAYERS) -> keras.Model:
    """A frozen model mapping images to the listed layers' outputs."""
    extractor = keras.Model(
        network.inputs,
        [network.get_layer(name).output for name in layers],
        name="perceptual_features",
    )
    extractor.trainable = False
    return extractor


class DFCVAE(VAE):
    """The plain VAE with `per_example_terms` giving (perceptual reconstruction loss, KL)."""

    def __init__(self, config: DFCVAEConfig, features: keras.Model, **kwargs):
        super().__init__(config.vae, **kwargs)
        self.dfc_config, self.features = config, features

    def per_example_terms(self, x, training: bool):
        posterior = self.posterior(x, training)
        rebuilt = self.likelihood(self.reparameterised_sample(posterior), training).mean()
        reconstruction = tf.add_n(
            [
                losses.feature_perceptual_loss(real, mine)
                for real, mine in zip(
                    self.features(x, training=False),
                    self.features(rebuilt, training=False),
                    strict=False,
                )
            ]
        )
        return self.dfc_config.perceptual_weight * reconstruction, losses.kl_to_prior(
            posterior, self.prior()
        )


def build_dfc_vae(config: DFCVAEConfig, perceptual_network: keras.Model) -> DFCVAE:
    """A built, compiled DFC-VAE around a pre-trained network (frozen here); call inside `strategy.scope()`."""
    model = DFCVAE(config, feature_extractor(perceptual_network, config.feature_layers))
    model.compile(optimizer=optimizers.Adam(config.vae.learning_rate))
    return model.build_for_training()
