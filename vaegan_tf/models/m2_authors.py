"""Semi-supervised M2 as the code behind Table 1 of Chen, Fang, Ju (2016) trained it: a port of
their repository (Jianbo-Lab/deep-learning-project: core/m2.py with networks/ssl_fc.py or
networks/ssl_conv.py for the FC and conv rows, core/m2gan.py with networks/sslgan_conv2.py for
"convolutional with GAN").

It is neither the paper's text (Sec. 2.3 describes Kingma et al.'s M2, `vaegan_tf.models.m2`) nor a
"soft-label M2". Per example, with p = sigmoid(decoder logits), pixels x in [0, 1] (grey, not
binarised), one reparameterised z and a uniform p(y):
    labelled (x, y):  L(x, y) + alpha * (-log q(y|x)),
        L(x, y) = -sum_pixels [x log p + (1 - x) log(1 - p)] + KL(q(z|x,y) || N(0, I)) + log K,
    unlabelled x:     L(x, c) + S(x),   c = stop_gradient(q(.|x)),   S(x) = -log sum_k q_k c_k.
q(y|x) enters the unlabelled batch as a constant soft label (their code computes it in one session
run and feeds it back through a placeholder): the reconstruction and the KL send it no gradient,
there is no sum over labels, and the class head learns from unlabelled images through S alone. The
gradient of S in the logits is q_j (1 - q_j / sum_k q_k^2): the largest q grows, the rest shrink,
i.e. entropy minimisation (soft self-training), the opposite sign of M2's +H(q) (their commit "Fixed
bug in SSL" set it). alpha = 55000 / 10 = 5500 for both label counts, as their notebooks pass it;
all terms are batch means.

`conv+gan` (core/m2gan.py) replaces the pixel likelihood by the discriminator:
    generator, labelled:   KL + [sum over the batch] ||f_l(x) - f_l(x~)||^2 + CE(D(Dec(z_p, y)), y)
                           + alpha * (-log q(y|x)),
    discriminator:         CE(D(x), y) + CE(D(Dec(z_p, y)), fake),
with x~ = Dec(z, y), z ~ q(z|x,y), z_p ~ N(0, I), f_l the discriminator's FC-500 layer; no pixel
loss and no GAN term on reconstructions. Unlabelled batches use c for y; their real images' GAN
target is c cast to integers, which truncates it to zeros (so CE(D(x), .) and CE(D(Dec(z_p, c)), .)
vanish unless some q_k is exactly 1.0 in float32, which `floor` keeps): the generator pays KL +
feature distance + S, the discriminator only its fake term. The feature distance is summed, not
averaged, over the batch (of 100). The discriminator's logits pass through a sigmoid before the
softmax cross-entropy, a quirk of their code kept here by `sigmoid_before_softmax` (False gives
plain logits).

Networks (their files; biases right before batch norm are dropped, as batch norm removes them):
- `fc` (networks/ssl_fc.py at the commit whose logs give 5.05% / 11.97%): x -> 500 -> 500 (BN,
  softplus) = h; log sigma^2 = linear(h); q = softmax(BN(linear(h, 10))), batch norm on the class
  logits; mu = linear(softplus(BN(linear([h, y], 500)))); decoder [z, y] -> 500 -> 500 (BN,
  softplus) -> linear 784 -> BN -> sigmoid. Their `linear` op initialises weights N(0, 1 / fan_in).
- `conv` (networks/ssl_conv.py): conv5-20 (BN, ReLU) -> max-pool 2 -> conv5-50 (BN, ReLU) -> pool ->
  flatten (2450 = h, no FC-1024); q = softmax(BN(FC 10)); mu as fc with `hidden_units`; decoder z ->
  FC500 -> FC2450 -> 7x7x50 -> nearest 2x upsample -> deconv5-20 -> upsample -> deconv5-1 (each BN,
  ReLU) -> flatten -> FC512 (BN, ReLU) -> FC784 -> BN -> sigmoid. With `decoder_sees_label=False`
  the decoder never sees y, as in the version behind their 4.83% (1000 labels; hidden 500, z = 50:
  the line concatenating y was commented out, "accidentally" says a later commit); True concatenates
  y after the last deconv and has two FC512 layers, the later version their 600-label checkpoint
  (6.2%) was built with (hidden 1024, z = 100; its training run is not recorded).
- `conv+gan` (networks/sslgan_conv2.py): the conv encoder with q = softmax(FC 10) (no batch norm on
  the logits; `class_logits_batch_norm=True` restores the FC and conv rows' class head); decoder
  [z, y] -> FC 7*7*128 -> deconv5-64 s2 -> deconv5-32 s2 (BN, ReLU) -> 1x1 deconv -> sigmoid;
  discriminator conv3-16, conv3-32, conv3-64, stride 1 (BN, ReLU) -> FC512 (ReLU) -> FC500 (ReLU)
  = f_l -> FC11, called on each batch of images apart (each normalised by its own statistics).
Their conv networks use slim's defaults: Glorot-uniform weights, ReLU. Batch norm everywhere: decay
0.999, epsilon 1e-3, scale and offset.

Loop (`vaegan_tf.studies.table1.alternating_stream`): each epoch every labelled batch, then every
unlabelled batch, batch 100; one Adam (TF1 defaults, epsilon 1e-8) for labelled and one for
unlabelled batches over all variables, four for conv+gan (generator and discriminator, each kind of
batch). With a decay, the rate is multiplied by it after steps 1, 1001, 2001, ... counted over both
kinds of batch, as their loop does: step k (from 0) runs at rate * decay^ceil(k / 1000). The
conv+gan generator and discriminator gradients both come from one forward pass: their discriminator
step reuses the prior samples the generator step drew, and neither step changes what the other
differentiates.

Readings where a faithful port had to choose:
- Their unlabelled step runs the encoder once in training mode to get q, then again for the loss;
  each run moves the batch-norm moving averages. Here q comes from the loss's own pass (one update
  per step): training is the same, only the inference-time statistics average over a window twice as
  long.
- Their FC batch norm (a `tf.cond` over two precomputed branches) also moved its moving averages
  during evaluation, towards the test batches' statistics; not copied.
- log(1e-10 + p) in their losses is computed here from logits (the same away from p < 1e-10).
- Their data reader keeps file order in the first epoch and shuffles afterwards; here every epoch is
  shuffled.
Evaluation: argmax q(y|x), batch norm in inference mode, on the 5,000 validation and 10,000 test
images. What it measured: results/table1_authors_code/README.md.
"""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from vaegan_tf import distribute, losses, optimizers
from vaegan_tf.choices import check_choice
from vaegan_tf.models.latent import bernoulli_pixels, diagonal_normal, standard_normal
from vaegan_tf.models.layers import BatchNormalization, Network

tfd = tfp.distributions
ARCHITECTURES = ("fc", "conv", "conv+gan")


@dataclasses.dataclass(frozen=True)
class AuthorsM2Config:
    architecture: str = "fc"
    image_shape: tuple[int, int, int] = (28, 28, 1)
    num_classes: int = 10
    hidden_units: int = 500  # their FC width, and the conv mean branch's (the paper says 1024)
    latent_dim: int = 50
    decoder_sees_label: bool = True  # conv only; False: the decoder behind their 4.83%
    alpha: float = 55000 / 10  # their notebooks, for 600 and 1000 labels alike
    learning_rate: float = 1e-3  # fc; conv 5e-4; conv+gan 1e-4
    learning_rate_decay: float | None = None  # conv: 0.99, conv+gan: 0.95 per `decay_steps`
    decay_steps: int = 1000
    batch_norm_momentum: float = 0.999  # tf.contrib batch_norm decay
    batch_norm_epsilon: float = 1e-3
    adam_epsilon: float = 1e-8  # tf.train.AdamOptimizer
    kl_weight: float = 1.0  # conv+gan: m2gan's alpha, beta, gamma
    similarity_weight: float = 1.0
    gan_weight: float = 1.0
    discriminator_filters: tuple[int, ...] = (16, 32, 64)
    discriminator_units: tuple[int, int] = (512, 500)
    sigmoid_before_softmax: bool = True  # their discriminator's quirk (module docstring)
    # None: their networks' choice, batch norm on the class logits except in conv+gan
    # (sslgan_conv2.py dropped it); True / False overrides it
    class_logits_batch_norm: bool | None = None
    # the weight of S(x) on unlabelled batches: 1 in their code; 0 is an ablation (no S at all),
    # which asks whether S is what collapses the conv+gan q(y|x) to one class
    sharpening_weight: float = 1.0
    seed: int = 0
    protocol: ClassVar[str] = "authors_code"

    def __post_init__(self):
        check_choice(self.architecture, ARCHITECTURES, "authors' M2 architecture")

    @property
    def normalises_class_logits(self) -> bool:
        if self.class_logits_batch_norm is not None:
            return self.class_logits_batch_norm
        return self.architecture != "conv+gan"


def preset(architecture: str, num_labelled: int) -> AuthorsM2Config:
    """Their settings for a Table 1 cell: fc lr 1e-3, no decay; conv lr 5e-4 x0.99 per 1000 steps
    with the 1000-label network (decoder without y, hidden 500, z = 50), or for 600 labels the
    network of their 6.2% checkpoint (y after the last deconv, hidden 1024, z = 100); conv+gan lr
    1e-4 (their checkpoint name) with m2gan's default decay 0.95, hidden 1024 and z = 100 as their
    last conv experiment script (no run of it was recorded)."""
    if architecture == "fc":
        return AuthorsM2Config()
    if architecture == "conv":
        network = (
            dict(hidden_units=1024, latent_dim=100, decoder_sees_label=True)
            if num_labelled == 600
            else dict(hidden_units=500, latent_dim=50, decoder_sees_label=False)
        )
        return AuthorsM2Config(
            architecture="conv", learning_rate=5e-4, learning_rate_decay=0.99, **network
        )
    if architecture == "conv+gan":
        return AuthorsM2Config(
            architecture="conv+gan",
            hidden_units=1024,
            latent_dim=100,
            learning_rate=1e-4,
            learning_rate_decay=0.95,
        )
    check_choice(architecture, ARCHITECTURES, "authors' M2 architecture")
    raise AssertionError(f"architecture {architecture!r} is listed but has no preset")


def sharpening_term(class_logits: tf.Tensor) -> tf.Tensor:
    """S(x) = -log sum_k q_k stop_gradient(q_k), their unlabelled extra term. [B, K] -> [B]."""
    q = tf.nn.softmax(class_logits)
    return -tf.math.log(tf.reduce_sum(q * tf.stop_gradient(q), axis=-1))


def _batch_norm(config: AuthorsM2Config):
    return BatchNormalization(
        momentum=config.batch_norm_momentum, epsilon=config.batch_norm_epsilon
    )


def _initializer(config: AuthorsM2Config):
    """Their `linear` op's N(0, 1 / fan_in) for the FC network; slim's Glorot uniform for the
    others."""
    if config.architecture == "fc":
        return keras.initializers.VarianceScaling(
            1.0, mode="fan_in", distribution="untruncated_normal"
        )
    return "glorot_uniform"


def _dense(units, config, activation=None, batch_norm=True) -> list[keras.layers.Layer]:
    """Dense (no bias before batch norm) -> (BN) -> (activation)."""
    layers = [
        keras.layers.Dense(units, use_bias=not batch_norm, kernel_initializer=_initializer(config))
    ]
    layers += [_batch_norm(config)] if batch_norm else []
    return layers + ([keras.layers.Activation(activation)] if activation else [])


def _conv(filters, kernel, config, transpose=False, strides=1) -> list[keras.layers.Layer]:
    layer = (keras.layers.Conv2DTranspose if transpose else keras.layers.Conv2D)(
        filters, kernel, strides=strides, padding="same", use_bias=False
    )
    return [layer, _batch_norm(config), keras.layers.Activation("relu")]


def _networks(config: AuthorsM2Config):
    """(trunk x -> h, class-logit head, mean hidden layers, decoder, decoder head or None); the
    decoder reads [z, y] (fc, conv+gan), z alone (conv), and the head [decoder(z), y] (conv that
    sees y)."""
    pixels = math.prod(config.image_shape)
    class_head = _dense(config.num_classes, config, batch_norm=config.normalises_class_logits)
    mean_hidden = _dense(config.hidden_units, config, "softplus")
    if (
        config.architecture == "fc"
    ):  # one width for every hidden layer, as their notebooks' SSL_*(500)
        units = config.hidden_units
        trunk = [
            keras.layers.Flatten(),
            *_dense(units, config, "softplus"),
            *_dense(units, config, "softplus"),
        ]
        decoder = [
            *_dense(units, config, "softplus"),
            *_dense(units, config, "softplus"),
            *_dense(pixels, config),
        ]
        return trunk, class_head, mean_hidden, decoder, None
    trunk = [
        *_conv(20, 5, config),
        keras.layers.MaxPooling2D(),
        *_conv(50, 5, config),
        keras.layers.MaxPooling2D(),
        keras.layers.Flatten(),
    ]
    height, width, channels = config.image_shape
    if config.architecture == "conv+gan":
        start = (height // 4, width // 4, 128)
        decoder = [
            *_dense(math.prod(start), config, "relu"),
            keras.layers.Reshape(start),
            *_conv(64, 5, config, transpose=True, strides=2),
            *_conv(32, 5, config, transpose=True, strides=2),
            keras.layers.Conv2DTranspose(channels, 1, padding="same"),
        ]
        return trunk, class_head, mean_hidden, decoder, None
    start = (height // 4, width // 4, 50)
    decoder = [
        *_dense(500, config, "relu"),
        *_dense(math.prod(start), config, "relu"),
        keras.layers.Reshape(start),
        keras.layers.UpSampling2D(),
        *_conv(20, 5, config, transpose=True),
        keras.layers.UpSampling2D(),
        *_conv(channels, 5, config, transpose=True),
        keras.layers.Flatten(),
    ]
    head = [*_dense(512, config, "relu"), *_dense(pixels, config)]
    if not config.decoder_sees_label:
        return trunk, class_head, mean_hidden, decoder + head, None
    return trunk, class_head, mean_hidden, decoder, [*_dense(512, config, "relu"), *head]


class AuthorsM2(keras.Model):
    """q(y|x), q(z|x,y) and p(x|y,z) of their code; trained on (x, y, is_labelled) batches that are
    all labelled or all unlabelled, one Adam per kind."""

    def __init__(self, config: AuthorsM2Config = AuthorsM2Config(), **kwargs):
        super().__init__(**kwargs)
        self.config = config
        trunk, class_head, mean_hidden, decoder, head = _networks(config)

        def dense_out(units, name):
            return keras.layers.Dense(units, kernel_initializer=_initializer(config), name=name)

        self.trunk = Network(trunk, name="trunk")
        self.class_head = Network(class_head, name="class_logits")
        self.log_variance_head = Network([dense_out(config.latent_dim, "log_variance")])
        self.mean_net = Network(
            [*mean_hidden, dense_out(config.latent_dim, "mean_out")], name="mean"
        )
        self.decoder = Network(decoder, name="decoder")
        self.decoder_head = Network(head, name="decoder_head") if head else None
        self.noise = keras.random.SeedGenerator(config.seed)
        self.trackers = {
            name: keras.metrics.Mean(name) for name in ("loss", "labelled", "unlabelled", "error")
        }

    @property
    def metrics(self):
        return list(self.trackers.values())

    @property
    def decoder_reads_label(self) -> bool:
        return self.config.architecture != "conv"

    def build_for_training(self) -> AuthorsM2:
        x = tf.zeros((2, *self.config.image_shape))
        h = self.trunk(x, training=False)
        self.class_head(h, training=False)
        self.labelled_terms(x, h, tf.one_hot([0, 1], self.config.num_classes), training=False)
        self.built = True
        return self

    def call(self, x, training=False):
        """Class logits of q(y|x)."""
        return self.class_head(self.trunk(x, training=training), training=training)

    def posterior(self, h, y, training: bool) -> tfd.Distribution:
        mean = self.mean_net(tf.concat([h, y], -1), training=training)
        scale = tf.exp(0.5 * self.log_variance_head(h))
        return diagonal_normal(mean, scale)

    def likelihood(self, z, y, training: bool) -> tfd.Distribution:
        if self.decoder_head is not None:
            logits = self.decoder_head(
                tf.concat([self.decoder(z, training=training), y], -1), training=training
            )
        else:
            logits = self.decoder(
                tf.concat([z, y], -1) if self.decoder_reads_label else z, training=training
            )
        logits = tf.reshape(logits, [-1, *self.config.image_shape])
        return bernoulli_pixels(logits)

    def prior(self) -> tfd.Distribution:
        return standard_normal(self.config.latent_dim)

    def draw_noise(self, shape) -> tf.Tensor:
        return keras.random.normal(shape, seed=self.noise)

    def sample_posterior(self, posterior: tfd.Distribution) -> tf.Tensor:
        normal = posterior.distribution
        return normal.loc + normal.scale * self.draw_noise(tf.shape(normal.loc))

    def labelled_terms(self, x, h, y, training: bool):
        """(-log p(x|y,z) [B], KL(q(z|x,y) || p(z)) [B]) for label vectors y [B, K] and one z."""
        posterior = self.posterior(h, y, training)
        likelihood = self.likelihood(self.sample_posterior(posterior), y, training)
        return losses.reconstruction_nll(x, likelihood), losses.kl_to_prior(posterior, self.prior())

    def labels_used(self, y, q, labelled):
        """The y of each example: its one-hot label where `labelled` [B, 1] is 1, else q held
        constant."""
        return labelled * tf.one_hot(y, self.config.num_classes) + (
            1.0 - labelled
        ) * tf.stop_gradient(q)

    def per_example_loss(self, x, y, labelled, training: bool) -> tf.Tensor:
        """Each example's loss [B]: L(x, y) + alpha CE if labelled, L(x, c) + S(x) if not
        (`labelled` [B, 1] of 1.0 / 0.0; an unlabelled example's y is never read)."""
        h = self.trunk(x, training=training)
        logits = self.class_head(h, training=training)
        reconstruction, kl = self.labelled_terms(
            x, h, self.labels_used(y, tf.nn.softmax(logits), labelled), training
        )
        bound = losses.labelled_bound(reconstruction, kl, self.config.num_classes)
        labelled = labelled[:, 0]
        return (
            bound
            + labelled * self.config.alpha * losses.classification_loss(y, logits)
            + (1.0 - labelled) * self.config.sharpening_weight * sharpening_term(logits)
        )

    def train_step(self, data):
        x, y, is_labelled = data
        labelled = tf.cast(is_labelled > 0, tf.float32)[:, None]
        with tf.GradientTape() as tape:
            per_example = self.per_example_loss(x, y, labelled, training=True)
            loss = tf.nn.compute_average_loss(per_example)
        # each kind of batch moves its own Adam; the other's moments and step count stay put
        distribute.apply_if(
            is_labelled[0] > 0,
            tape.gradient(loss, self.trainable_variables),
            self.trainable_variables,
            self.optimizer,
            otherwise=self.unlabelled_optimizer,
        )
        self.trackers["labelled"].update_state(per_example, sample_weight=labelled[:, 0])
        self.trackers["unlabelled"].update_state(per_example, sample_weight=1.0 - labelled[:, 0])
        self.trackers["loss"].update_state(per_example)
        return {name: self.trackers[name].result() for name in ("loss", "labelled", "unlabelled")}

    def test_step(self, data):
        x, y = data
        predicted = tf.argmax(self(x, training=False), -1, output_type=tf.int32)
        self.trackers["error"].update_state(
            tf.cast(tf.not_equal(predicted, tf.cast(y, tf.int32)), tf.float32)
        )
        return {"error": self.trackers["error"].result()}


class AuthorsDiscriminator(keras.Model):
    """networks/sslgan_conv2.py's D: x -> (scores over k + 1 classes, f_l(x))."""

    def __init__(self, config: AuthorsM2Config, **kwargs):
        super().__init__(**kwargs)
        convs = [
            layer for filters in config.discriminator_filters for layer in _conv(filters, 3, config)
        ]
        hidden, feature = config.discriminator_units
        self.trunk = Network(
            [*convs, keras.layers.Flatten(), keras.layers.Dense(hidden, activation="relu")],
            name="trunk",
        )
        self.feature_layer = Network([keras.layers.Dense(feature, activation="relu", name="f_l")])
        self.head = Network(
            [
                keras.layers.Dense(
                    config.num_classes + 1,
                    name="scores",
                    activation="sigmoid" if config.sigmoid_before_softmax else None,
                )
            ]
        )

    def call(self, x, training=False):
        features = self.feature_layer(self.trunk(x, training=training))
        return self.head(features), features


class AuthorsM2GAN(keras.Model):
    """core/m2gan.py: the conv+gan M2 against a (k+1)-class discriminator, four Adams."""

    def __init__(self, config: AuthorsM2Config, **kwargs):
        super().__init__(**kwargs)
        self.config = config
        self.m2 = AuthorsM2(config)
        self.discriminator = AuthorsDiscriminator(config)
        names = ("generator_loss", "discriminator_loss", "similarity", "classification", "error")
        self.trackers = {name: keras.metrics.Mean(name) for name in names}

    @property
    def metrics(self):
        return list(self.trackers.values())

    def build_for_training(self) -> AuthorsM2GAN:
        self.m2.build_for_training()
        self.discriminator(tf.zeros((1, *self.config.image_shape)), training=False)
        self.built = True
        return self

    def call(self, x, training=False):
        """Class logits of q(y|x)."""
        return self.m2(x, training=training)

    def per_example_losses(self, x, y, labelled, training: bool):
        """(generator loss, discriminator loss, feature distance, -log q(y|x)), each [B], of a batch
        that is all labelled or all unlabelled (`labelled` [B, 1] of 1.0 / 0.0)."""
        m2, k = self.m2, self.config.num_classes
        h = m2.trunk(x, training=training)
        logits = m2.class_head(h, training=training)
        q = tf.nn.softmax(logits)
        y_used = m2.labels_used(y, q, labelled)
        real_target = labelled * tf.one_hot(y, k) + (1.0 - labelled) * tf.floor(
            tf.stop_gradient(q)
        )  # int cast
        posterior = m2.posterior(h, y_used, training)
        rebuilt = m2.likelihood(m2.sample_posterior(posterior), y_used, training).mean()
        generated = m2.likelihood(
            m2.draw_noise(tf.shape(posterior.distribution.loc)), y_used, training
        ).mean()
        real_scores, real_features = self.discriminator(x, training=training)
        _, rebuilt_features = self.discriminator(rebuilt, training=training)
        generated_scores, _ = self.discriminator(generated, training=training)
        similarity = losses.feature_distance(real_features, rebuilt_features)
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        global_batch = tf.cast(
            tf.shape(x)[0] * replicas, tf.float32
        )  # the batch sum, as a batch mean
        labelled = labelled[:, 0]
        generator = (
            self.config.kl_weight * losses.kl_to_prior(posterior, m2.prior())
            + self.config.similarity_weight * global_batch * similarity
            + self.config.gan_weight
            * losses.soft_class_cross_entropy(real_target, generated_scores)
            + labelled * self.config.alpha * losses.classification_loss(y, logits)
            + (1.0 - labelled) * self.config.sharpening_weight * sharpening_term(logits)
        )
        fake = tf.fill(tf.shape(y), k)
        discriminator = losses.soft_class_cross_entropy(
            real_target, real_scores
        ) + losses.class_cross_entropy(fake, generated_scores)
        return generator, discriminator, similarity, losses.classification_loss(y, logits)

    def train_step(self, data):
        x, y, is_labelled = data
        labelled = tf.cast(is_labelled > 0, tf.float32)[:, None]
        with tf.GradientTape() as generator_tape, tf.GradientTape() as discriminator_tape:
            generator, discriminator, similarity, classification = self.per_example_losses(
                x, y, labelled, True
            )
            generator_loss = tf.nn.compute_average_loss(generator)
            discriminator_loss = tf.nn.compute_average_loss(discriminator)
        generator_variables = self.m2.trainable_variables
        discriminator_variables = self.discriminator.trainable_variables
        generator_gradients = generator_tape.gradient(generator_loss, generator_variables)
        discriminator_gradients = discriminator_tape.gradient(
            discriminator_loss, discriminator_variables
        )
        is_labelled_batch = is_labelled[0] > 0
        # the discriminator first: its rate, as the generator's, counts the generator steps so far
        distribute.apply_if(
            is_labelled_batch,
            discriminator_gradients,
            discriminator_variables,
            self.discriminator_optimizer,
            otherwise=self.unlabelled_discriminator_optimizer,
        )
        distribute.apply_if(
            is_labelled_batch,
            generator_gradients,
            generator_variables,
            self.optimizer,
            otherwise=self.unlabelled_optimizer,
        )
        self.trackers["generator_loss"].update_state(generator)
        self.trackers["discriminator_loss"].update_state(discriminator)
        self.trackers["similarity"].update_state(similarity)
        self.trackers["classification"].update_state(classification, sample_weight=labelled[:, 0])
        return {
            name: self.trackers[name].result()
            for name in ("generator_loss", "discriminator_loss", "similarity", "classification")
        }

    def test_step(self, data):
        x, y = data
        predicted = tf.argmax(self(x, training=False), -1, output_type=tf.int32)
        self.trackers["error"].update_state(
            tf.cast(tf.not_equal(predicted, tf.cast(y, tf.int32)), tf.float32)
        )
        return {"error": self.trackers["error"].result()}


def _adam(config: AuthorsM2Config, steps_taken) -> keras.optimizers.Optimizer:
    """Adam at the config's rate; with a decay, rate * decay^ceil(steps_taken() / decay_steps)."""
    if not config.learning_rate_decay:
        return optimizers.Adam(config.learning_rate, epsilon=config.adam_epsilon)
    rate, decay, every = config.learning_rate, config.learning_rate_decay, float(config.decay_steps)
    return optimizers.Adam(
        lambda: rate * decay ** tf.math.ceil(tf.cast(steps_taken(), tf.float32) / every),
        epsilon=config.adam_epsilon,
    )


def build_authors_m2(config: AuthorsM2Config = AuthorsM2Config()) -> AuthorsM2 | AuthorsM2GAN:
    """A built, compiled port of their model (AuthorsM2GAN for conv+gan) with every Adam built, so
    that a backup restores each; call inside `strategy.scope()`."""
    model = AuthorsM2GAN(config) if config.architecture == "conv+gan" else AuthorsM2(config)

    def steps_taken():  # generator steps of both kinds of batch
        return model.optimizer.iterations + model.unlabelled_optimizer.iterations

    model.compile(optimizer=_adam(config, steps_taken))
    model.unlabelled_optimizer = _adam(config, steps_taken)
    model.build_for_training()
    generator = model.m2 if isinstance(model, AuthorsM2GAN) else model
    pairs = [(model.optimizer, generator), (model.unlabelled_optimizer, generator)]
    if isinstance(model, AuthorsM2GAN):
        model.discriminator_optimizer = _adam(config, steps_taken)
        model.unlabelled_discriminator_optimizer = _adam(config, steps_taken)
        pairs += [
            (model.discriminator_optimizer, model.discriminator),
            (model.unlabelled_discriminator_optimizer, model.discriminator),
        ]
    for optimizer, part in pairs:
        optimizer.build(part.trainable_variables)
    return model
