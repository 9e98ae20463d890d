"""What the VAE-GAN hybrids share: a generator (a VAE, CVAE or M2) and a discriminator, each with its own
Adam (the generator's is Keras' `optimizer`), built before training, and loss trackers for `fit`."""

from __future__ import annotations

import keras
import tensorflow as tf


class AdversarialModel(keras.Model):
    def __init__(self, tracker_names: tuple[str, ...], **kwargs):
        super().__init__(**kwargs)
        self.trackers = {name: keras.metrics.Mean(name) for name in tracker_names}

    @property
    def metrics(self):
        return list(self.trackers.values())

    def compile(self, generator_optimizer, discriminator_optimizer, **kwargs):
        super().compile(optimizer=generator_optimizer, **kwargs)
        self.generator_optimizer, self.discriminator_optimizer = (
            generator_optimizer,
            discriminator_optimizer,
        )

    def build_networks(
        self, generator: keras.Model, discriminator: keras.Model, image_shape
    ) -> AdversarialModel:
        """Builds both networks and both optimizers (so a backup restores every slot)."""
        generator.build_for_training()
        discriminator(tf.zeros((1, *image_shape)), training=False)
        self.generator_optimizer.build(generator.trainable_variables)
        self.discriminator_optimizer.build(discriminator.trainable_variables)
        self.built = (
            True  # its parts are; `fit` would otherwise try to build it by calling it on x alone
        )
        return self

    def judge(self, *images, training: bool) -> list[tuple[tf.Tensor, tf.Tensor]]:
        """The discriminator's (logits, f_l) for each batch of images, from one call on all of them. Batch
        norm then normalises real, reconstructed and generated images with the same statistics: called on
        each batch apart, it would normalise each by its own, so f_l(x~) could match f_l(x) without x~
        resembling x, and the discriminator could tell the batches apart by their statistics alone."""
        sizes = tf.stack([tf.shape(batch)[0] for batch in images])
        logits, features = self.discriminator(tf.concat(images, 0), training=training)
        return list(
            zip(
                tf.split(logits, sizes, num=len(images)),
                tf.split(features, sizes, num=len(images)),
                strict=False,
            )
        )

    def record(self, **values) -> dict:
        """Updates the named trackers with per-example values and returns their running means."""
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return {name: self.trackers[name].result() for name in values}
