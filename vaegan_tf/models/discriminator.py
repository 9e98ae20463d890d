"""The discriminator of Chen, Fang, Ju (2016), Sec. 4.3, shared by the CVAE-GAN (Sec. 3.2), the
VAE-GAN (Sec. 3.1) and the SSL-VAE-GAN (Sec. 3.3): conv3-16 -> conv3-32 -> conv3-64 -> FC-512 ->
FC-500 = f_l -> FC-(k+1), batch norm on every layer but the output, ReLU.

It returns the logits over k real classes and the fake class k + 1, and f_l, the layer whose
distance between x and its reconstruction is the learned similarity of Larsen et al. (2015). f_l
is taken before its batch norm and activation, as Larsen et al. take their feature layer. The
convolutions have stride 2 by default, as Sec. 4.3's text says ("we replace pooling by strided
convolutions"); the authors' code used stride 1. Its blocks are the suite's
(`vaegan_tf.models.layers`), which the GAN family's convolutional critic
(`vaegan_tf.models.networks`) is built from too."""

from __future__ import annotations

import dataclasses

import keras

from vaegan_tf.models.layers import BatchNormalization, Network, conv_block, hidden_layers


@dataclasses.dataclass(frozen=True)
class DiscriminatorConfig:
    filters: tuple[int, ...] = (16, 32, 64)  # Sec. 4.3, conv3
    stride: int = 2  # Sec. 4.3's text: strided convolutions; the authors' code: 1
    units: tuple[int, int] = (512, 500)  # FC-512, FC-500 = f_l
    activation: str = "relu"  # the paper's; LeakyReLU is the fix its closing remarks suggest
    num_classes: int = 10  # k; the output has k + 1 logits, the last for fake images
    batch_norm: bool = True  # Sec. 4: every layer but the output

    @property
    def fake_class(self) -> int:
        return self.num_classes


class Discriminator(keras.Model):
    """x -> (logits over k + 1 classes [B, k + 1], f_l(x) [B, units[1]])."""

    def __init__(self, config: DiscriminatorConfig = DiscriminatorConfig(), **kwargs):
        super().__init__(**kwargs)
        self.config = config
        bn, activation = config.batch_norm, config.activation
        convolutions = [
            layer
            for filters in config.filters
            for layer in conv_block(
                filters, config.stride, bn, activation=activation, kernel_size=3
            )
        ]
        hidden, feature = config.units
        self.trunk = Network(
            [*convolutions, keras.layers.Flatten(), *hidden_layers((hidden,), activation, bn)],
            name="trunk",
        )
        self.feature_layer = Network([keras.layers.Dense(feature)], name="f_l")
        norm = [BatchNormalization()] if bn else []
        self.head = Network(
            [
                *norm,
                keras.layers.Activation(activation),
                keras.layers.Dense(config.num_classes + 1),
            ],
            name="head",
        )

    def call(self, x, training=False):
        features = self.feature_layer(self.trunk(x, training=training))
        return self.head(features, training=training), features
