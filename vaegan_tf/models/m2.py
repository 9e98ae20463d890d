"""Semi-supervised "M2" (Kingma et al. 2014) as described in Chen, Fang, Ju (2016), Secs. 2.3 and
4.5.

q(y|x) is a classifier, q(z|x,y) a Gaussian whose variance depends on x alone and whose mean sees
the label (the paper's encoder: h1 -> Sigma(x), pi(x); [h1, y] -> FC -> mu(x, y)), p(x|y,z)
Bernoulli pixels. Labelled pairs pay L(x, y) + alpha * (-log q(y|x)); unlabelled images pay U(x),
summed exactly over the ten labels with the entropy of q(y|x). Both of the paper's networks: `fc`
(1024-1024, batch norm, softplus, z = 50) and `conv` (conv5-20, pool, conv5-50, pool, FC-1024
encoder; FC-500, FC-7*7*50, upsample, deconv5-20, upsample, deconv5-1, then [., y] -> FC-512 ->
FC-784 decoder; ReLU, batch norm).

Training follows Kingma et al. (2014): every minibatch mixes a labelled and an unlabelled batch; the
loss is mean_labelled [L + alpha CE] + mean_unlabelled U with alpha = 0.1 * N / N_labelled (the
reading common to public M2 reimplementations: the two batch means weigh the same, not each by its
share of the data, which would give the labelled term under 2% of the weight). What the authors'
code did instead, the code behind the paper's Table 1, is `vaegan_tf.models.m2_authors`. The
SSL-VAE-GAN built on it: `vaegan_tf.models.ssl_vae_gan`.
What it measured (Table 1, and the other weighting tried): results/table1_quick/README.md and
HISTORY.md beside it.
"""

from __future__ import annotations

import dataclasses

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from vaegan_tf import losses, optimizers
from vaegan_tf.choices import check_choice
from vaegan_tf.models.interface import labels_or_uniform
from vaegan_tf.models.latent import bernoulli_pixels, diagonal_normal, standard_normal
from vaegan_tf.models.layers import Network, conv_block, hidden_layers

tfd = tfp.distributions
ARCHITECTURES = ("fc", "conv")
PROTOCOLS = ("kingma",)  # the authors' code: vaegan_tf.models.m2_authors


@dataclasses.dataclass(frozen=True)
class M2Config:
    architecture: str = "fc"
    image_shape: tuple[int, int, int] = (28, 28, 1)
    num_classes: int = 10
    hidden_units: int = 1024  # Sec. 4.5, both networks
    latent_dim: int = 50  # Sec. 4.5
    batch_norm: bool = True  # Sec. 4
    learning_rate: float = 3e-4  # Kingma et al. 2014 (the paper's VAEs: 1e-3)
    alpha: float = 0.1 * 55000 / 1000  # 0.1 * N / N_labelled (`for_labels`)
    protocol: str = (
        "kingma"  # the only one; a field so that configs (and cell identities) stay as they were
    )
    learning_rate_decay: float | None = (
        None  # a factor every 1000 steps (`adam_for`); Kingma et al.: none
    )
    seed: int = 0

    def __post_init__(self):
        check_choice(self.architecture, ARCHITECTURES, "M2 architecture")
        check_choice(
            self.protocol,
            PROTOCOLS,
            "M2 protocol",
            hint=" (the authors' code is vaegan_tf.models.m2_authors)",
        )


def for_labels(
    config: M2Config, num_labelled: int, num_total: int, alpha_scale: float = 0.1
) -> M2Config:
    """The classification weight for `num_labelled` labels among `num_total` training images."""
    return dataclasses.replace(config, alpha=alpha_scale * (num_total / num_labelled))


def tile_labels(t: tf.Tensor, k: int) -> tf.Tensor:
    """t [B, ...] repeated K times along the batch, label-major: [K*B, ...]."""
    return tf.tile(t, tf.concat([[k], tf.ones(tf.rank(t) - 1, tf.int32)], 0))


def _networks(config: M2Config):
    """(x -> h1, [h1, y] -> mu hidden, [z, y] or z -> decoder trunk, decoder head) for the
    architecture."""
    units, bn, pixels = config.hidden_units, config.batch_norm, 784
    if config.architecture == "fc":
        trunk = [keras.layers.Flatten(), *hidden_layers((units, units), "softplus", bn)]
        mean_hidden = hidden_layers((units,), "softplus", bn)
        decoder = [*hidden_layers((units, units), "softplus", bn), keras.layers.Dense(pixels)]
        return trunk, mean_hidden, decoder, None
    trunk = [
        *conv_block(20, 1, bn),
        keras.layers.MaxPooling2D(),
        *conv_block(50, 1, bn),
        keras.layers.MaxPooling2D(),
        keras.layers.Flatten(),
        *hidden_layers((units,), "relu", bn),
    ]
    mean_hidden = hidden_layers((units,), "relu", bn)
    decoder = [
        *hidden_layers((500, 7 * 7 * 50), "relu", bn),
        keras.layers.Reshape((7, 7, 50)),
        keras.layers.UpSampling2D(),
        *conv_block(20, 1, bn, transpose=True),
        keras.layers.UpSampling2D(),
        *conv_block(1, 1, bn, transpose=True),
        keras.layers.Flatten(),
    ]
    head = [*hidden_layers((512,), "relu", bn), keras.layers.Dense(pixels)]
    return trunk, mean_hidden, decoder, head


class M2(keras.Model):
    """Classifier q(y|x) and conditional generator p(x|y,z) trained together on labelled and
    unlabelled x."""

    def __init__(self, config: M2Config = M2Config(), shared_first_layer: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.config = config
        # how the sum over labels runs the mean network (`posterior_for_every_label`); not in the
        # config, as both ways compute the same function with the same variables
        self.shared_first_layer = shared_first_layer
        trunk, mean_hidden, decoder, head = _networks(config)
        self.trunk = Network(trunk, name="trunk")
        self.class_head = Network([keras.layers.Dense(config.num_classes)], name="class_logits")
        self.log_variance_head = Network(
            [keras.layers.Dense(config.latent_dim)], name="log_variance"
        )
        self.mean_net = Network([*mean_hidden, keras.layers.Dense(config.latent_dim)], name="mean")
        self.decoder = Network(decoder, name="decoder")
        self.decoder_head = Network(head, name="decoder_head") if head else None
        self.noise = keras.random.SeedGenerator(config.seed)
        names = ("loss", "labelled", "unlabelled", "classification", "accuracy", "error")
        self.trackers = {name: keras.metrics.Mean(name) for name in names}

    @property
    def metrics(self):
        return list(self.trackers.values())

    def build_for_training(self) -> M2:
        x = tf.zeros((2, *self.config.image_shape))
        h = self.trunk(x, training=False)
        self.class_head(h)
        self.labelled_terms(x, h, tf.one_hot([0, 1], self.config.num_classes), training=False)
        # every part is; Keras loads weights (a finished Table 1 cell) only into a built model
        self.built = True
        return self

    def call(self, x, training=False):
        """Class logits of q(y|x)."""
        return self.class_head(self.trunk(x, training=training))

    def posterior(self, h, y_onehot, training: bool) -> tfd.Distribution:
        mean = self.mean_net(tf.concat([h, y_onehot], -1), training=training)
        scale = tf.exp(0.5 * self.log_variance_head(h))
        return diagonal_normal(mean, scale)

    def likelihood(self, z, y_onehot, training: bool) -> tfd.Distribution:
        if self.decoder_head is None:
            logits = self.decoder(tf.concat([z, y_onehot], -1), training=training)
        else:
            logits = self.decoder_head(
                tf.concat([self.decoder(z, training=training), y_onehot], -1), training=training
            )
        logits = tf.reshape(logits, [-1, *self.config.image_shape])
        return bernoulli_pixels(logits)

    def prior(self) -> tfd.Distribution:
        return standard_normal(self.config.latent_dim)

    def draw_noise(self, shape) -> tf.Tensor:
        return keras.random.normal(shape, seed=self.noise)

    # The suite's generative interface (`vaegan_tf.models.interface`): images in [0, 1] shaped
    # [B, H, W, C].

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    def label_vectors(self, labels) -> tf.Tensor:
        """Integer labels [B] as one-hot vectors; vectors [B, K] (one-hot or soft) as they are."""
        if labels is None:
            raise ValueError(
                "M2's decoder is conditional: give labels (ints [B] or vectors [B, K])"
            )
        labels = tf.convert_to_tensor(labels)
        if labels.dtype.is_integer:
            return tf.one_hot(labels, self.config.num_classes)
        return tf.cast(labels, tf.float32)

    def decode(self, z, labels, training: bool = False) -> tf.Tensor:
        """Bernoulli means of p(x|y,z) for codes z [B, latent_dim]: deterministic given z and y."""
        return self.likelihood(z, self.label_vectors(labels), training).mean()

    def sample(self, count: int, labels=None) -> tf.Tensor:
        """Images for fresh z ~ N(0, I) and the given labels, or labels drawn uniformly."""
        labels = labels_or_uniform(labels, count, self.config.num_classes, self.noise)
        return self.decode(self.draw_noise((count, self.config.latent_dim)), labels)

    def reconstruct(self, x, labels=None) -> tf.Tensor:
        """Images decoded from the posterior mean of z given x and its labels; without labels, the
        classifier's: argmax q(y|x)."""
        h = self.trunk(x, training=False)
        if labels is None:
            labels = tf.argmax(self.class_head(h), -1, output_type=tf.int32)
        y = self.label_vectors(labels)
        return self.decode(self.posterior(h, y, training=False).mean(), y)

    def posterior_for_every_label(self, h, training: bool) -> tfd.Distribution:
        """q(z|x,y) for each of the K labels, label-major: batch [K*B], as `posterior` of h tiled K
        times with labels 0..K-1 repeated B times. The mean network's first Dense on [h, y] is
        W_h h + W_y y (its one kernel, sliced): W_h h is computed once per image and the row W_y e_k
        added per label, instead of multiplying the tiled [h, y] by the whole kernel."""
        k, batch = self.config.num_classes, tf.shape(h)[0]
        first, *rest = self.mean_net.layers
        # in the layer's compute dtype, as the layer itself would (bfloat16 under mixed_bfloat16)
        dtype = first.compute_dtype
        kernel = tf.cast(first.kernel, dtype)
        width = h.shape[-1]
        per_image = tf.matmul(tf.cast(h, dtype), kernel[:width])  # [B, U]
        per_label = kernel[width:]  # [K, U]
        hidden = tf.reshape(per_label[:, None, :] + per_image[None], [k * batch, -1])
        if first.use_bias:
            hidden = hidden + tf.cast(first.bias, hidden.dtype)
        for layer in rest:
            hidden = layer(hidden, training=training)
        hidden = tf.cast(hidden, tf.float32)  # what `mean_net`, a `Network`, returns
        scale = tf.exp(0.5 * self.log_variance_head(h))
        return diagonal_normal(hidden, tf.tile(scale, [k, 1]))

    def labelled_terms(self, x, h, y_onehot, training: bool, posterior=None):
        """(-log p(x|y,z) [B], KL(q(z|x,y) || p(z)) [B]) for one reparameterised z; `posterior`
        given, h is not read."""
        if posterior is None:
            posterior = self.posterior(h, y_onehot, training)
        normal = posterior.distribution
        z = normal.loc + normal.scale * self.draw_noise(tf.shape(normal.loc))
        likelihood = self.likelihood(z, y_onehot, training)
        return losses.reconstruction_nll(x, likelihood), losses.kl_to_prior(posterior, self.prior())

    def bounds_for_every_label(self, x, h, training: bool, shared_first_layer=None) -> tf.Tensor:
        """L(x, y) for each of the K labels: [B, K] (one decoder pass over the K*B pairs). The mean
        network reads h once per image (`posterior_for_every_label`) unless `shared_first_layer` is
        False (default: the model's), which tiles h K times."""
        shared = self.shared_first_layer if shared_first_layer is None else shared_first_layer
        k, batch = self.config.num_classes, tf.shape(x)[0]
        labels = tf.one_hot(tf.repeat(tf.range(k), batch), k)
        posterior = self.posterior_for_every_label(h, training) if shared else None
        reconstruction, kl = self.labelled_terms(
            tile_labels(x, k), None if shared else tile_labels(h, k), labels, training, posterior
        )
        bounds = losses.labelled_bound(reconstruction, kl, k)
        return tf.transpose(tf.reshape(bounds, [k, batch]))

    def objective(self, labelled, unlabelled, training: bool):
        """Per-example terms of the mixed minibatch and the loss to minimise."""
        (x_l, y_l), x_u = labelled, unlabelled
        h_l = self.trunk(x_l, training=training)
        logits_l = self.class_head(h_l)
        reconstruction, kl = self.labelled_terms(
            x_l, h_l, tf.one_hot(y_l, self.config.num_classes), training
        )
        bound_l = losses.labelled_bound(reconstruction, kl, self.config.num_classes)
        cross_entropy = losses.classification_loss(y_l, logits_l)
        h_u = self.trunk(x_u, training=training)
        bound_u = losses.unlabelled_bound(
            self.bounds_for_every_label(x_u, h_u, training), self.class_head(h_u)
        )
        loss = tf.nn.compute_average_loss(
            bound_l + self.config.alpha * cross_entropy
        ) + tf.nn.compute_average_loss(bound_u)
        correct = tf.cast(
            tf.equal(tf.argmax(logits_l, -1, output_type=tf.int32), tf.cast(y_l, tf.int32)),
            tf.float32,
        )
        return loss, {
            "labelled": bound_l,
            "unlabelled": bound_u,
            "classification": cross_entropy,
            "accuracy": correct,
        }

    def train_step(self, data):
        labelled, (x_u, _) = data
        with tf.GradientTape() as tape:
            loss, terms = self.objective(labelled, x_u, training=True)
        gradients = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_variables, strict=True))
        # `loss` is this replica's share of the global-batch mean: the replicas' shares sum to it.
        self.trackers["loss"].update_state(
            loss * tf.cast(tf.distribute.get_strategy().num_replicas_in_sync, tf.float32)
        )
        for name, values in terms.items():
            self.trackers[name].update_state(values)
        return {name: self.trackers[name].result() for name in ("loss", *terms)}

    def test_step(self, data):
        x, y = data
        logits = self(x, training=False)
        wrong = tf.cast(
            tf.not_equal(tf.argmax(logits, -1, output_type=tf.int32), tf.cast(y, tf.int32)),
            tf.float32,
        )
        self.trackers["error"].update_state(wrong)
        return {"error": self.trackers["error"].result()}


def build_m2(config: M2Config = M2Config(), shared_first_layer: bool = True) -> M2:
    """A built, compiled M2; call inside `strategy.scope()`."""
    model = M2(config, shared_first_layer)
    model.compile(optimizer=adam_for(config))
    model.build_for_training()
    return model


def adam_for(config: M2Config) -> keras.optimizers.Optimizer:
    """Adam at the config's rate, with its step decay if it has one."""
    rate = config.learning_rate
    if config.learning_rate_decay:
        rate = keras.optimizers.schedules.ExponentialDecay(
            rate, 1000, config.learning_rate_decay, staircase=True
        )
    return optimizers.Adam(rate)
