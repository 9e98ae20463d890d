"""SSL-VAE-GAN of Chen, Fang, Ju (2016), Sec. 3.3: the semi-supervised M2 joined to the (k+1)-class
discriminator of the CVAE-GAN (Sec. 3.2, `vaegan_tf.models.discriminator.Discriminator`).

Labelled (x, y) are treated as in the CVAE-GAN, plus M2's classification term:
    G_y(x) = KL(q(z|x,y) || p(z)) + ||f_l(x) - f_l(x~_y)||^2 + CE(D(Dec(z, y)), y) + CE(D(x~_y), y)
    L_G,labelled = G_y(x) + alpha * (-log q(y|x))
    L_D,labelled = CE(D(x), y) + CE(D(Dec(z, y)), fake) + CE(D(x~_y), fake)
with x~_y = Dec(Enc(x, y), y) and f_l the discriminator's FC-500 layer. Unlabelled x average every
term that needs a label over q(y|x):
    L_G,unobserved = sum_y q(y|x) G_y(x) - H(q(y|x)),   L_D,unobserved = sum_y q(y|x) L_D(x, y).
The paper prints "+ H(Q(y|x))" in L_G,unobserved but says the entropy "regularize[s] over Q as
before", i.e. as in U(x) = sum_y q L - H; a loss that rewarded confident q from the start would
collapse it, so the sign here is U's. The paper puts the KL outside the sum; q(z|x,y) depends on y,
so it is averaged too.

Fed as M2 (Kingma et al.'s protocol): every step a labelled and an unlabelled batch and the exact
sum over the ten labels (each unlabelled image is decoded once per label; the mean network's first
layer reads the image's features once, `M2.posterior_for_every_label`). The authors' code trained a
different model for this row, their m2gan (`vaegan_tf.models.m2_authors`). Updates alternate: a
discriminator step, then a generator step (encoder, classifier and decoder) against the updated
discriminator, one Adam each.

Options that are not the paper's:
- `pixel_reconstruction=True` keeps M2's Bernoulli reconstruction term beside the feature distance
  (what the paper fell back to for DRAW-GAN, Sec. 4.6); off by default, as Sec. 3.3.
- `q_learns_from_prior_samples=False` keeps every weighting but stops one gradient: the GAN term of
  the prior sample Dec(z, y) does not depend on x, yet weighted by q(y|x) it pulls q towards the
  labels whose samples fool D best, whatever x shows. The decoder still learns from it, weighted by
  q.
- `encoder_learns_from_gan=False` splits L_G's gradient by network as the VAE-GAN of Sec. 3.1 does
  after Larsen et al.: the encoder and q(y|x) minimise the labelled and unlabelled losses without
  the GAN terms (KL, feature distance, classification, entropy), the decoder those without the KL,
  weighted by q(y|x) held constant; the GAN gradient then reaches neither the classifier's trunk nor
  q.
The last two were leads for a conv+GAN row no worse than conv. Networks: M2's (Sec. 4.5, `conv` for
Table 1's "convolutional with GAN"), the discriminator of Sec. 4.3.
What it measured (Table 1's conv+GAN row, and what each option did): results/table1_quick/README.md
and HISTORY.md beside it; `pixel_reconstruction=True`: results/table1_quick_rows-conv+gan+pixel/.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import tensorflow as tf
import tensorflow_probability as tfp

from vaegan_tf import losses, optimizers
from vaegan_tf.models.adversarial import AdversarialModel
from vaegan_tf.models.cvae_gan import PAPER as CVAE_GAN_PAPER
from vaegan_tf.models.cvae_gan import CVAEGANConfig
from vaegan_tf.models.discriminator import Discriminator
from vaegan_tf.models.m2 import M2, M2Config, adam_for, tile_labels

tfd = tfp.distributions


class PairTerms(NamedTuple):
    """The generator's terms of (x, y) pairs, each [N] (or [B, K], one column per label): G_y(x);
    the feature distance; the two GAN cross-entropies (unweighted); the prior-sample one (weighted);
    the KL."""

    total: tf.Tensor
    similarity: tf.Tensor
    gan: tf.Tensor
    prior_gan: tf.Tensor
    kl: tf.Tensor


@dataclasses.dataclass(frozen=True)
class SSLVAEGANConfig:
    m2: M2Config = M2Config(
        architecture="conv", learning_rate=1e-4
    )  # Sec. 4: lr 1e-4 for VAEs with GANs
    discriminator: CVAEGANConfig = (
        CVAE_GAN_PAPER  # its `discriminator` config; k is the M2's `num_classes`
    )
    similarity_weight: float = 1.0
    gan_weight: float = 1.0
    pixel_reconstruction: bool = False
    q_learns_from_prior_samples: bool = (
        True  # the paper's sum over q (module docstring); False: ours
    )
    encoder_learns_from_gan: bool = (
        True  # the paper's one L_G; False: Larsen's split (module docstring)
    )

    @property
    def num_classes(self) -> int:
        return self.m2.num_classes


class SSLVAEGAN(AdversarialModel):
    def __init__(self, config: SSLVAEGANConfig = SSLVAEGANConfig(), **kwargs):
        super().__init__(
            (
                "generator_loss",
                "discriminator_loss",
                "classification",
                "similarity",
                "gan",
                "error",
            ),
            **kwargs,
        )
        self.config = config
        self.m2 = M2(config.m2)
        self.discriminator = Discriminator(
            dataclasses.replace(config.discriminator.discriminator, num_classes=config.num_classes)
        )

    def build_for_training(self) -> SSLVAEGAN:
        return self.build_networks(self.m2, self.discriminator, self.config.m2.image_shape)

    def call(self, x, training=False):
        """Class logits of q(y|x)."""
        return self.m2(x, training=training)

    def _images(self, x, h, y, training: bool, prior_y=None, posterior=None):
        """(KL [N], pixel NLL [N], reconstruction x~_y, prior sample Dec(z, prior_y)) for label
        vectors y [N, K]; prior_y defaults to y; `posterior` given, h is not read."""
        prior_y = y if prior_y is None else prior_y
        if posterior is None:
            posterior = self.m2.posterior(h, y, training)
        normal = posterior.distribution
        likelihood = self.m2.likelihood(
            normal.loc + normal.scale * self.m2.draw_noise(tf.shape(normal.loc)), y, training
        )
        generated = self.m2.likelihood(
            self.m2.draw_noise(tf.shape(normal.loc)), prior_y, training
        ).mean()
        return (
            losses.kl_to_prior(posterior, self.m2.prior()),
            losses.reconstruction_nll(x, likelihood),
            likelihood.mean(),
            generated,
        )

    def discriminator_terms(self, x, y, rebuilt, generated, training: bool) -> tf.Tensor:
        """Per-pair L_D(x, y) [N] for label vectors y [N, K] (one-hot or soft)."""
        fake = tf.fill(tf.shape(y)[:1], self.config.num_classes)
        (real_logits, _), (generated_logits, _), (rebuilt_logits, _) = self.judge(
            x, generated, rebuilt, training=training
        )
        return (
            losses.soft_class_cross_entropy(y, real_logits)
            + losses.class_cross_entropy(fake, generated_logits)
            + losses.class_cross_entropy(fake, rebuilt_logits)
        )

    def generator_terms(
        self, x, y, kl, pixel_nll, rebuilt, generated, training: bool, prior_y=None
    ):
        """PairTerms of label vectors y [N, K], the prior samples drawn with prior_y (default y)."""
        prior_y = y if prior_y is None else prior_y
        (_, real_features), (rebuilt_logits, rebuilt_features), (generated_logits, _) = self.judge(
            x, rebuilt, generated, training=training
        )
        similarity = losses.feature_distance(real_features, rebuilt_features)
        prior_gan = losses.soft_class_cross_entropy(prior_y, generated_logits)
        gan = prior_gan + losses.soft_class_cross_entropy(y, rebuilt_logits)
        per_pair = kl + self.config.similarity_weight * similarity + self.config.gan_weight * gan
        if self.config.pixel_reconstruction:
            per_pair += pixel_nll
        return PairTerms(per_pair, similarity, gan, self.config.gan_weight * prior_gan, kl)

    def _pairs(self, x, h, y, training: bool, discriminator: bool, prior_y=None, posterior=None):
        """L_D (discriminator=True) or the PairTerms of each (x, y) pair."""
        kl, pixel_nll, rebuilt, generated = self._images(x, h, y, training, prior_y, posterior)
        if discriminator:
            return self.discriminator_terms(x, y, rebuilt, generated, training)
        return self.generator_terms(x, y, kl, pixel_nll, rebuilt, generated, training, prior_y)

    def _every_label(self, x, h, training: bool, discriminator: bool, shared_first_layer=None):
        """L_D or the PairTerms of x with each of the K labels decoded, one column per label:
        [B, K]. The mean network reads h once per image (`M2.posterior_for_every_label`) unless
        `shared_first_layer` is False (default: the M2's), which tiles h K times."""
        shared = self.m2.shared_first_layer if shared_first_layer is None else shared_first_layer
        k, batch = self.config.num_classes, tf.shape(x)[0]
        labels = tf.one_hot(tf.repeat(tf.range(k), batch), k)
        posterior = self.m2.posterior_for_every_label(h, training) if shared else None
        terms = self._pairs(
            tile_labels(x, k),
            None if shared else tile_labels(h, k),
            labels,
            training,
            discriminator,
            posterior=posterior,
        )

        def by_label(t):
            return tf.transpose(tf.reshape(t, [k, batch]))

        return by_label(terms) if discriminator else PairTerms(*(by_label(t) for t in terms))

    def unlabelled_generator_loss(self, terms: PairTerms, q: tf.Tensor) -> tf.Tensor:
        """sum_y q(y|x) G_y(x) [B] from per-label terms [B, K] (the entropy apart). Without
        `q_learns_from_prior_samples`, the prior-sample GAN term is weighted by q held constant."""
        prior_weights = q if self.config.q_learns_from_prior_samples else tf.stop_gradient(q)
        return tf.reduce_sum(q * (terms.total - terms.prior_gan), -1) + tf.reduce_sum(
            prior_weights * terms.prior_gan, -1
        )

    def _split(
        self,
        pairs: PairTerms,
        extra,
        unlabelled: PairTerms | None = None,
        q=None,
        unlabelled_extra=None,
    ):
        """(encoder loss, decoder loss) of Larsen's split (module docstring): the encoder's without
        the GAN terms, the decoder's without the KL. `pairs` [B] with `extra` [B], the encoder's own
        classification or entropy terms; `unlabelled` per label [B, K], averaged over q (held
        constant for the decoder)."""
        encoder_pairs = pairs.total - self.config.gan_weight * pairs.gan + extra
        encoder = tf.nn.compute_average_loss(encoder_pairs)
        decoder = tf.nn.compute_average_loss(pairs.total - pairs.kl)
        if unlabelled is not None:
            encoder_terms = unlabelled.total - self.config.gan_weight * unlabelled.gan
            encoder += tf.nn.compute_average_loss(
                tf.reduce_sum(q * encoder_terms, -1) + unlabelled_extra
            )
            decoder += tf.nn.compute_average_loss(
                tf.reduce_sum(tf.stop_gradient(q) * (unlabelled.total - unlabelled.kl), -1)
            )
        return encoder, decoder

    @staticmethod
    def _gradients(loss_fn, variables):
        with tf.GradientTape() as tape:
            loss, report = loss_fn()
        return tape.gradient(loss, variables), report

    def _generator_gradients(self, loss_fn):
        """Gradients for every M2 variable: of the one L_G, or of Larsen's split (the decoder's
        variables from the decoder loss, the others from the encoder loss)."""
        variables = self.m2.trainable_variables
        with tf.GradientTape(
            persistent=not self.config.encoder_learns_from_gan
        ) as tape:  # two gradients
            loss, report = loss_fn()
        if self.config.encoder_learns_from_gan:
            gradients = tape.gradient(loss, variables)
        else:
            decoder_ids = {
                id(v)
                for part in (self.m2.decoder, self.m2.decoder_head)
                if part is not None
                for v in part.trainable_variables
            }
            parts = (
                [v for v in variables if id(v) not in decoder_ids],
                [v for v in variables if id(v) in decoder_ids],
            )
            found = {
                id(v): g
                for losses_part, part in zip(loss, parts, strict=True)
                for v, g in zip(part, tape.gradient(losses_part, part), strict=True)
            }
            gradients = [found[id(v)] for v in variables]
        del tape
        return gradients, variables, report

    def _kingma_losses(self, data, discriminator: bool):
        (x_l, y_l), (x_u, _) = data
        k = self.config.num_classes
        h_l, h_u = self.m2.trunk(x_l, training=True), self.m2.trunk(x_u, training=True)
        logits_l, logits_u = self.m2.class_head(h_l), self.m2.class_head(h_u)
        q = tfd.Categorical(logits=logits_u)
        if discriminator:
            h_l, h_u = tf.stop_gradient(h_l), tf.stop_gradient(h_u)
            d_l = self._pairs(x_l, h_l, tf.one_hot(y_l, k), True, True)
            d_u = tf.reduce_sum(
                tf.stop_gradient(q.probs_parameter()) * self._every_label(x_u, h_u, True, True), -1
            )
            loss = tf.nn.compute_average_loss(d_l) + tf.nn.compute_average_loss(d_u)
            return loss, {"discriminator_loss": tf.concat([d_l, d_u], 0)}
        pair = self._pairs(x_l, h_l, tf.one_hot(y_l, k), True, False)
        classification = losses.classification_loss(y_l, logits_l)
        every_label = self._every_label(x_u, h_u, True, False)
        g_u = self.unlabelled_generator_loss(every_label, q.probs_parameter()) - q.entropy()
        g_l = pair.total + self.m2.config.alpha * classification
        report = {
            "generator_loss": tf.concat([g_l, g_u], 0),
            "classification": classification,
            "similarity": pair.similarity,
            "gan": pair.gan,
        }
        if not self.config.encoder_learns_from_gan:
            return self._split(
                pair,
                self.m2.config.alpha * classification,
                every_label,
                q.probs_parameter(),
                -q.entropy(),
            ), report
        return tf.nn.compute_average_loss(g_l) + tf.nn.compute_average_loss(g_u), report

    def train_step(self, data):
        variables = self.discriminator.trainable_variables
        gradients, report = self._gradients(lambda: self._kingma_losses(data, True), variables)
        self.discriminator_optimizer.apply(gradients, variables)
        gradients, variables, generator_report = self._generator_gradients(
            lambda: self._kingma_losses(data, False)
        )
        self.generator_optimizer.apply(gradients, variables)
        return self.record(**report, **generator_report)

    def test_step(self, data):
        x, y = data
        predicted = tf.argmax(self(x, training=False), -1, output_type=tf.int32)
        return self.record(error=tf.cast(tf.not_equal(predicted, tf.cast(y, tf.int32)), tf.float32))


def build_ssl_vae_gan(config: SSLVAEGANConfig = SSLVAEGANConfig()) -> SSLVAEGAN:
    """A built, compiled SSL-VAE-GAN with one Adam per network; call inside `strategy.scope()`."""
    model = SSLVAEGAN(config)
    model.compile(
        generator_optimizer=adam_for(config.m2),
        discriminator_optimizer=optimizers.Adam(config.discriminator.learning_rate),
    )
    model.build_for_training()
    return model
