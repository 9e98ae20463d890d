"""CVAE-GAN of Chen, Fang, Ju (2016), Sec. 3.2: a conditional VAE whose images a (k+1)-class discriminator
judges: the true class for real (x, y), the extra class k+1 for generated and reconstructed images.

Generator (encoder and decoder, one optimizer), the paper's L_G:
    kl_weight KL + similarity_weight ||f_l(x) - f_l(x~)||^2 + gan_weight [CE(D(Dec(z, y)), y) + CE(D(x~), y)]
with x~ = Dec(Enc(x, y), y) and f_l the discriminator's FC-500 layer (taken before its batch norm and
activation, as Larsen et al. take their feature layer). Discriminator (its own optimizer), the paper's L_D:
    CE(D(x), y) + CE(D(Dec(z, y)), fake) + CE(D(x~), fake).
Networks: the CVAE of Sec. 4.3 (`vaegan_tf.models.cvae`) and the discriminator of Sec. 4.3
(`vaegan_tf.models.discriminator`: conv3-16, conv3-32, conv3-64, FC-512, FC-500 = f_l, FC-(k+1); batch
norm but at the output, ReLU, the paper's closing remarks; LeakyReLU, their suggested fix, is an option).
Its convolutions have stride 2, as Sec. 4.3's text says ("we replace pooling by strided convolutions
(discriminator)"); the authors' code used stride 1, which `AUTHORS_CODE` keeps: its feature maps
stay 28 x 28, about 33 times the discriminator's multiply-adds per image. Updates alternate: a
discriminator step, then a generator step against the updated discriminator. Images fed to the
discriminator are Bernoulli means, in [0, 1] like the data.

`PAPER` is the equations with unit weights (1 / 2 sigma^2 = 1); `AUTHORS_CODE` is their code's choice
(alpha = 10 on the KL, beta = 1e-4 on the batch-summed feature distance, i.e. 1e-2 per example at batch
100, gamma = 1, no reconstruction term in L_D). lr 1e-4 (Sec. 4, VAEs with GANs). Leaves out: the
authors' sigmoid before the softmax (a quirk of their code) and their learning-rate decay.
What each preset measured (Figure 7): results/figure7/README.md (`AUTHORS_CODE`) and
results/figure7_paper/README.md (`PAPER`).
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf

from vaegan_tf import losses, optimizers
from vaegan_tf.models.adversarial import AdversarialModel
from vaegan_tf.models.cvae import CVAE, CVAEConfig, condition_vector
from vaegan_tf.models.discriminator import Discriminator, DiscriminatorConfig


@dataclasses.dataclass(frozen=True)
class CVAEGANConfig:
    cvae: CVAEConfig = CVAEConfig(learning_rate=1e-4)  # Sec. 4: lr 1e-4 for every VAE with a GAN
    discriminator: DiscriminatorConfig = DiscriminatorConfig()  # Sec. 4.3, k = 10 digits
    kl_weight: float = 1.0
    similarity_weight: float = 1.0
    gan_weight: float = 1.0
    reconstruction_in_discriminator: bool = True  # the paper's L_D; the authors' code left it out
    learning_rate: float = 1e-4

    @property
    def fake_class(self) -> int:
        return self.discriminator.fake_class


PAPER = CVAEGANConfig()
AUTHORS_CODE = dataclasses.replace(
    PAPER,
    kl_weight=10.0,
    similarity_weight=1e-4 * 100,
    gan_weight=1.0,
    reconstruction_in_discriminator=False,
    discriminator=DiscriminatorConfig(stride=1),
)


class CVAEGAN(AdversarialModel):
    def __init__(self, config: CVAEGANConfig = PAPER, **kwargs):
        super().__init__(
            ("generator_loss", "discriminator_loss", "kl", "similarity", "gan", "real_accuracy"),
            **kwargs,
        )
        self.config = config
        self.cvae = CVAE(config.cvae)
        self.discriminator = Discriminator(config.discriminator)

    def build_for_training(self) -> CVAEGAN:
        return self.build_networks(self.cvae, self.discriminator, self.config.cvae.image_shape)

    def call(self, inputs, training=False):
        return self.cvae(inputs, training=training)

    @property
    def latent_dim(self) -> int:
        return self.cvae.latent_dim

    def sample(self, count: int, labels=None) -> tf.Tensor:
        return self.cvae.sample(count, labels)

    def decode(self, z, labels) -> tf.Tensor:
        return self.cvae.decode(z, labels)

    def reconstruct(self, x, labels) -> tf.Tensor:
        return self.cvae.reconstruct(x, labels)

    def _images(self, x, y, training: bool):
        """(KL [B], reconstruction x~, prior sample Dec(z, y)), as Bernoulli means."""
        posterior = self.cvae.posterior(x, y, training)
        rebuilt = self.cvae.likelihood(
            self.cvae.reparameterised_sample(posterior), y, training
        ).mean()
        generated = self.cvae.decode(
            self.cvae.draw_noise(tf.shape(posterior.distribution.loc)), y, training
        )
        return losses.kl_to_prior(posterior, self.cvae.prior()), rebuilt, generated

    def discriminator_terms(self, x, labels, rebuilt, generated, training: bool):
        """Per-example L_D: [B]; and whether real images got their class."""
        fake = tf.fill(tf.shape(labels), self.config.fake_class)
        judged = (
            (x, generated, rebuilt)
            if self.config.reconstruction_in_discriminator
            else (x, generated)
        )
        (real_logits, _), *fakes = self.judge(*judged, training=training)
        loss = losses.class_cross_entropy(labels, real_logits)
        for fake_logits, _ in fakes:
            loss += losses.class_cross_entropy(fake, fake_logits)
        correct = tf.cast(
            tf.equal(tf.argmax(real_logits, -1, output_type=tf.int32), labels), tf.float32
        )
        return loss, correct

    def generator_terms(self, x, labels, kl, rebuilt, generated, training: bool):
        """Per-example (KL, feature distance, GAN cross-entropies), each [B]."""
        (_, real_features), (rebuilt_logits, rebuilt_features), (generated_logits, _) = self.judge(
            x, rebuilt, generated, training=training
        )
        gan = losses.class_cross_entropy(labels, generated_logits) + losses.class_cross_entropy(
            labels, rebuilt_logits
        )
        return kl, losses.feature_distance(real_features, rebuilt_features), gan

    def train_step(self, data):
        x, labels = data[0], tf.cast(data[1], tf.int32)
        y = condition_vector(labels, self.config.cvae.condition_dim)
        _, rebuilt, generated = self._images(x, y, training=True)
        with tf.GradientTape() as tape:
            d_per_example, correct = self.discriminator_terms(
                x, labels, rebuilt, generated, training=True
            )
            d_loss = tf.nn.compute_average_loss(d_per_example)
        variables = self.discriminator.trainable_variables
        self.discriminator_optimizer.apply_gradients(
            zip(tape.gradient(d_loss, variables), variables, strict=False)
        )
        with tf.GradientTape() as tape:
            kl, rebuilt, generated = self._images(x, y, training=True)
            kl, similarity, gan = self.generator_terms(
                x, labels, kl, rebuilt, generated, training=True
            )
            config = self.config
            g_per_example = (
                config.kl_weight * kl
                + config.similarity_weight * similarity
                + config.gan_weight * gan
            )
            g_loss = tf.nn.compute_average_loss(g_per_example)
        variables = self.cvae.trainable_variables
        self.generator_optimizer.apply_gradients(
            zip(tape.gradient(g_loss, variables), variables, strict=False)
        )
        return self.record(
            generator_loss=g_per_example,
            discriminator_loss=d_per_example,
            kl=kl,
            similarity=similarity,
            gan=gan,
            real_accuracy=correct,
        )

    def test_step(self, data):
        x, labels = data[0], tf.cast(data[1], tf.int32)
        y = condition_vector(labels, self.config.cvae.condition_dim)
        kl, rebuilt, generated = self._images(x, y, training=False)
        d_per_example, correct = self.discriminator_terms(
            x, labels, rebuilt, generated, training=False
        )
        kl, similarity, gan = self.generator_terms(
            x, labels, kl, rebuilt, generated, training=False
        )
        return self.record(
            discriminator_loss=d_per_example,
            kl=kl,
            similarity=similarity,
            gan=gan,
            real_accuracy=correct,
        )


def build_cvae_gan(config: CVAEGANConfig = PAPER) -> CVAEGAN:
    """A built, compiled CVAE-GAN with one Adam per network; call inside `strategy.scope()`."""
    model = CVAEGAN(config)
    model.compile(
        generator_optimizer=optimizers.Adam(config.learning_rate),
        discriminator_optimizer=optimizers.Adam(config.learning_rate),
    )
    return model.build_for_training()
