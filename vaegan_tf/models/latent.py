"""What every model with a Gaussian posterior and a standard normal prior shares: the prior, reparameterised
draws from a seeded generator, the negative-ELBO train / test steps with their trackers, and the suite's
generative interface (`vaegan_tf.models.interface`: `sample`, `decode`, `reconstruct`). A subclass gives
`posterior`, `likelihood`, `decode(z, labels, training)`, `encode_mean(x, labels)` and
`per_example_terms(*elbo_inputs(data), training)`."""

from __future__ import annotations

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from vaegan_tf import losses
from vaegan_tf.models.interface import labels_or_uniform

tfd = tfp.distributions


def standard_normal(dim: int) -> tfd.Distribution:
    """p(z) = N(0, I) over `dim` latent units, one event per example."""
    return tfd.Independent(tfd.Normal(tf.zeros(dim), 1.0), reinterpreted_batch_ndims=1)


def diagonal_normal(mean: tf.Tensor, scale: tf.Tensor) -> tfd.Distribution:
    """q(z|.) = N(mean, diag(scale^2)), [B, Z] each, one event per example."""
    return tfd.Independent(tfd.Normal(mean, scale), reinterpreted_batch_ndims=1)


def bernoulli_pixels(logits: tf.Tensor) -> tfd.Distribution:
    """p(x|.) over images [B, H, W, C]: independent Bernoulli pixels with these logits, in float32
    whatever the compute dtype."""
    return tfd.Independent(
        tfd.Bernoulli(logits=logits, dtype=tf.float32), reinterpreted_batch_ndims=3
    )


class GaussianLatentModel(keras.Model):
    num_classes: int | None = None  # label-conditional models: how many classes `sample` draws from

    def __init__(self, latent_dim: int, seed: int, **kwargs):
        super().__init__(**kwargs)
        self.latent_dim = latent_dim
        self.noise = keras.random.SeedGenerator(seed)
        self.trackers = {
            name: keras.metrics.Mean(name) for name in ("loss", "reconstruction", "kl")
        }

    @property
    def metrics(self):
        return list(self.trackers.values())

    def prior(self) -> tfd.Distribution:
        return standard_normal(self.latent_dim)

    def draw_noise(self, shape) -> tf.Tensor:
        return keras.random.normal(shape, seed=self.noise)

    def reparameterised_sample(self, posterior: tfd.Distribution) -> tf.Tensor:
        normal = posterior.distribution
        return normal.loc + normal.scale * self.draw_noise(tf.shape(normal.loc))

    def sample(self, count: int, labels=None) -> tf.Tensor:
        """Images (Bernoulli means of p(x|z, y)) for fresh z ~ N(0, I)."""
        labels = labels_or_uniform(labels, count, self.num_classes, self.noise)
        return self.decode(self.draw_noise((count, self.latent_dim)), labels)

    def reconstruct(self, x, labels=None) -> tf.Tensor:
        """Images decoded from the posterior mean code of x."""
        return self.decode(self.encode_mean(x, labels), labels)

    def elbo_inputs(self, data) -> tuple:
        """What `per_example_terms` takes from a batch: the images alone, by default."""
        return (data[0],)

    def _record(self, reconstruction, kl):
        self.trackers["loss"].update_state(losses.negative_elbo(reconstruction, kl))
        self.trackers["reconstruction"].update_state(reconstruction)
        self.trackers["kl"].update_state(kl)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def train_step(self, data):
        with tf.GradientTape() as tape:
            reconstruction, kl = self.per_example_terms(*self.elbo_inputs(data), training=True)
            loss = tf.nn.compute_average_loss(losses.negative_elbo(reconstruction, kl))
        gradients = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_variables, strict=False))
        return self._record(reconstruction, kl)

    def test_step(self, data):
        return self._record(*self.per_example_terms(*self.elbo_inputs(data), training=False))
