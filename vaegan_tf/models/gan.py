"""The GAN family: one adversarial model with pluggable networks and pluggable losses.

A generator G maps z ~ N(0, I) (and, conditional, a label y) to images in [-1, 1]; a critic scores
images (`vaegan_tf.models.networks`). Each training step is Algorithm 1 of Goodfellow et al. (2014)
with k = `critic_steps`: k critic updates, each on its own batch of m real images and m fresh fakes,
then one generator update on m fresh fakes. The losses, per example, with s(x) the critic's score:

- GAN critic (Goodfellow et al. eq. 1, D = sigmoid(s)): -log D(x) - log(1 - D(G(z))).
- `minimax` generator: log(1 - D(G(z))) (eq. 1, minimised by G; it saturates early in training).
- `non_saturating` generator: -log D(G(z)) (Goodfellow et al. Sec. 3; Srinivasan et al. had to
  switch to it, Sec. 4.2.1).
- `wasserstein` (Arjovsky et al. 2017, Algorithm 1): critic f(G(z)) - f(x), generator -f(G(z)), with
  the Lipschitz constraint kept by clipping every critic weight to [-c, c] after each critic update
  (`clip_value`) or by the gradient penalty of Gulrajani et al. (2017, eq. 3),
      lambda (||grad f(x^)||_2 - 1)^2 at x^ = eps x + (1 - eps) G(z), one eps ~ U[0, 1] per example.
The critic's loss is logged as its real term and its fake term (and the penalty).

Presets (paper-cited defaults): `GAN` and `CGAN` (the fc nets of Srinivasan, Baur & Huber 2018,
Sec. 3.2.1: z = 100, Adam 2e-4, dropout 0.3; non-saturating, their final choice), `DCGAN` and
`CDCGAN` (Radford et al. 2016: Adam 2e-4, beta1 0.5), `WGAN_CLIP` (Arjovsky et al.: RMSProp 5e-5,
c = 0.01, 5 critic steps, a DCGAN critic with batch norm as in their released main.py) and `WGAN_GP`
(Gulrajani et al.: lambda 10, 5 critic steps, no batch norm in the critic, Adam 1e-4 with beta1 0.5,
beta2 0.9). WGAN-GP's betas are those of the authors' released gan_mnist.py, which trained their
MNIST results; their Algorithm 1 says beta1 = 0 (set `OptimizerConfig(beta_1=0.0)` for it). Both
WGANs keep the DCGAN nets, the report's "Deconv architectures". Conditional presets join the one-hot
label to both networks' inputs (Mirza & Osindero 2014), as label maps for the conv critic.

Readings the papers leave open. Where the critic has batch norm, which images share a batch changes
its scores. `critic_batches="separate"` (the default) follows the released code of Radford et al.
(dcgan.torch's main.lua, whose D steps on a real-only and then a fakes-only batch and whose G step
scores a fakes-only batch) and of Arjovsky et al. (main.py: netD(real), then netD(fake)): each
batch is normalised by its own statistics, in the critic's steps and the generator's alike.
`"joint"` puts [real; fake] through one critic call in both steps (the generator's fakes are scored
beside the last critic batch's real images), as the suite's VAE-GAN hybrids judge; the one thing
never to do is mix the two, training the critic on joint batches and scoring the generator's fakes
alone, which an early dcgan.torch did: such a critic scores a fakes-only batch as real although it
tells the same fakes apart in a mixed batch, and the generator learns nothing. A conditional
generator is given the labels of the real batch beside it, so fakes follow the data's label
frequencies; the generator's step draws fresh z (Goodfellow et al. Algorithm 1).

The critic-to-generator step ratio under `tf.distribute`: each `fit` batch holds k * m images, the k
critic batches interleaved (critic step j takes rows j, j + k, j + 2k, ...). A mirrored run splits
the global batch into contiguous per-replica slices of k * m / R rows; each replica takes every k-th
of its rows for step j, so critic step j sees the same m images, spread over the replicas, as on one
device. The k critic updates are unrolled when the step is traced (k is a config constant), so each
optimizer apply, which synchronises the replicas, sits in straight-line code as in any Keras
`train_step`. An epoch is one pass of the critic over the N training images: N // (k m) steps, one
generator update each. Arjovsky et al.'s extra critic steps (100 for the first 25 generator updates
and every 500th) are left out: they would change how many images a step takes.

Interface (`vaegan_tf.models.interface`): `sample` and `decode` give images in [0, 1],
(G(z) + 1) / 2; `reconstruct` raises, a GAN has no encoder. Noise and interpolation weights come
from the model's seed generator folded with the replica id, so the replicas of a mirrored run draw
different z.

What each preset measured: `make hw4_gan`, `make hw4_cgan` and `make hw4_wgan` (results/hw4_gan/,
results/hw4_cgan/, results/hw4_wgan/).
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import keras
import tensorflow as tf

from vaegan_tf import optimizers
from vaegan_tf.choices import check_choice
from vaegan_tf.models import networks
from vaegan_tf.models.interface import labels_or_uniform, refuse_labels
from vaegan_tf.models.layers import every_layer

LOSSES = ("minimax", "non_saturating", "wasserstein")
CRITIC_BATCHES = ("separate", "joint")  # the module docstring's readings
OPTIMIZERS = ("adam", "rmsprop")


# Per-example losses: scores [B] -> [B]. Reduce them with tf.nn.compute_average_loss.


def discriminator_real_term(real_logits: tf.Tensor) -> tf.Tensor:
    """-log D(x) with D(x) = sigmoid(logit): the real half of Goodfellow et al.'s eq. 1, negated."""
    return tf.nn.softplus(-real_logits)


def discriminator_fake_term(fake_logits: tf.Tensor) -> tf.Tensor:
    """-log(1 - D(G(z))): the fake half of eq. 1, negated."""
    return tf.nn.softplus(fake_logits)


def minimax_generator_loss(fake_logits: tf.Tensor) -> tf.Tensor:
    """log(1 - D(G(z))), which G minimises in eq. 1 (Goodfellow et al. 2014)."""
    return -tf.nn.softplus(fake_logits)


def non_saturating_generator_loss(fake_logits: tf.Tensor) -> tf.Tensor:
    """-log D(G(z)): "train G to maximize log D(G(z))" (Goodfellow et al. 2014, Sec. 3)."""
    return tf.nn.softplus(-fake_logits)


def critic_real_term(real_scores: tf.Tensor) -> tf.Tensor:
    """-f(x): the real half of the critic's loss, Arjovsky et al. (2017) Algorithm 1, line 5."""
    return -real_scores


def critic_fake_term(fake_scores: tf.Tensor) -> tf.Tensor:
    """f(G(z)): the fake half of the critic's loss (Algorithm 1, line 5)."""
    return fake_scores


def wasserstein_generator_loss(fake_scores: tf.Tensor) -> tf.Tensor:
    """-f(G(z)) (Arjovsky et al. Algorithm 1, line 10)."""
    return -fake_scores


def gradient_penalty(critic, real: tf.Tensor, fake: tf.Tensor, epsilon: tf.Tensor) -> tf.Tensor:
    """(||grad_x^ f(x^)||_2 - 1)^2 at x^ = eps x + (1 - eps) x~, Gulrajani et al. (2017) eq. 3
    without its lambda. `critic` maps images [B, ...] to scores [B]; real, fake [B, ...]; epsilon
    [B], one weight per example -> [B]. Call it under the critic's tape: the penalty is a
    function of its weights."""
    weights = tf.reshape(epsilon, [-1] + [1] * (real.shape.rank - 1))
    mixed = weights * real + (1.0 - weights) * fake
    with tf.GradientTape() as tape:
        tape.watch(mixed)
        scores = critic(mixed)
    gradients = tape.gradient(scores, mixed)
    squared_norms = tf.reduce_sum(tf.square(gradients), axis=list(range(1, real.shape.rank)))
    return tf.square(
        tf.sqrt(squared_norms + 1e-12) - 1.0
    )  # 1e-12: a finite gradient at a zero norm


@dataclasses.dataclass(frozen=True)
class LossPair:
    """The critic's real and fake terms and the generator's loss, each per example."""

    real_term: callable
    fake_term: callable
    generator: callable


LOSS_PAIRS = {
    "minimax": LossPair(discriminator_real_term, discriminator_fake_term, minimax_generator_loss),
    "non_saturating": LossPair(
        discriminator_real_term, discriminator_fake_term, non_saturating_generator_loss
    ),
    "wasserstein": LossPair(critic_real_term, critic_fake_term, wasserstein_generator_loss),
}


@dataclasses.dataclass(frozen=True)
class OptimizerConfig:
    name: str = "adam"  # OPTIMIZERS
    learning_rate: float = 2e-4  # Srinivasan et al. Sec. 3.2.1; Radford et al. Sec. 4
    beta_1: float = 0.9  # Adam: Keras' default (the fc GAN's report gives none)
    beta_2: float = 0.999
    rho: float = 0.99  # RMSProp's decay: PyTorch's default, which Arjovsky et al.'s main.py used

    def __post_init__(self):
        check_choice(self.name, OPTIMIZERS, "optimizer")

    def build(self) -> keras.optimizers.Optimizer:
        if self.name == "rmsprop":
            return keras.optimizers.RMSprop(self.learning_rate, rho=self.rho)
        return optimizers.Adam(self.learning_rate, beta_1=self.beta_1, beta_2=self.beta_2)


@dataclasses.dataclass(frozen=True)
class GANConfig:
    networks: networks.NetworkConfig = networks.FC  # Srinivasan et al. Sec. 3.2.1
    image_shape: tuple[int, int, int] = (28, 28, 1)
    latent_dim: int = 100  # Srinivasan et al. Sec. 3.2.1
    num_classes: int | None = (
        None  # conditional (CGAN, CDCGAN) on one-hot labels of this many classes
    )
    loss: str = "non_saturating"  # LOSSES
    clip_value: float | None = None  # Arjovsky et al.: 0.01
    gradient_penalty_weight: float = 0.0  # Gulrajani et al.: lambda = 10; 0: no penalty
    critic_steps: int = 1  # critic updates per generator update (Goodfellow et al.'s k)
    # CRITIC_BATCHES: real and fake images in batches of their own (Radford et al.'s and Arjovsky
    # et al.'s released code) or in one (module docstring); only a batch-norm critic tells them apart
    critic_batches: str = "separate"
    generator_optimizer: OptimizerConfig = OptimizerConfig()
    critic_optimizer: OptimizerConfig = OptimizerConfig()
    seed: int = 0

    def __post_init__(self):
        check_choice(self.loss, LOSSES, "GAN loss")
        check_choice(self.critic_batches, CRITIC_BATCHES, "critic batches")
        if self.critic_steps < 1:
            raise ValueError(f"critic_steps {self.critic_steps} must be at least 1")
        if self.loss != "wasserstein" and (self.clip_value or self.gradient_penalty_weight):
            raise ValueError(
                "clipping and the gradient penalty constrain a Wasserstein critic: "
                "set loss='wasserstein'"
            )


GAN = GANConfig()
CGAN = dataclasses.replace(GAN, num_classes=10)
_RADFORD_ADAM = OptimizerConfig(learning_rate=2e-4, beta_1=0.5)  # Radford et al. Sec. 4
DCGAN = dataclasses.replace(
    GAN, networks=networks.DCGAN, generator_optimizer=_RADFORD_ADAM, critic_optimizer=_RADFORD_ADAM
)
CDCGAN = dataclasses.replace(DCGAN, num_classes=10)
_ARJOVSKY_RMSPROP = OptimizerConfig("rmsprop", learning_rate=5e-5)  # Arjovsky et al. Algorithm 1
WGAN_CLIP = dataclasses.replace(
    DCGAN,
    loss="wasserstein",
    clip_value=0.01,
    critic_steps=5,
    generator_optimizer=_ARJOVSKY_RMSPROP,
    critic_optimizer=_ARJOVSKY_RMSPROP,
)
_GULRAJANI_ADAM = OptimizerConfig(learning_rate=1e-4, beta_1=0.5, beta_2=0.9)  # their gan_mnist.py
WGAN_GP = dataclasses.replace(
    DCGAN,
    networks=dataclasses.replace(networks.DCGAN, critic_batch_norm=False),
    loss="wasserstein",
    gradient_penalty_weight=10.0,
    critic_steps=5,
    generator_optimizer=_GULRAJANI_ADAM,
    critic_optimizer=_GULRAJANI_ADAM,
)
PRESETS = {
    "gan": GAN,
    "cgan": CGAN,
    "dcgan": DCGAN,
    "cdcgan": CDCGAN,
    "wgan_clip": WGAN_CLIP,
    "wgan_gp": WGAN_GP,
}


class CriticTerms(NamedTuple):
    """The critic's per-example loss [B] and its parts: real term, fake term, weighted penalty."""

    total: tf.Tensor
    real: tf.Tensor
    fake: tf.Tensor
    penalty: tf.Tensor


def interleaved_batches(batch: tf.Tensor, count: int) -> list[tf.Tensor]:
    """`count` batches from one, batch j taking rows j, j + count, ... (module docstring: the same
    rows on one device as over mirrored replicas). [count * m, ...] -> count x [m, ...]."""
    grouped = tf.reshape(batch, [-1, count, *batch.shape[1:]])
    return [grouped[:, j] for j in range(count)]


class GANModel(keras.Model):
    """G and a critic, trained by `config.loss` with `config.critic_steps` critic updates per
    generator update; data are (images in [-1, 1], labels) batches of critic_steps * m examples."""

    def __init__(
        self,
        config: GANConfig = GAN,
        generator: keras.Model | None = None,
        critic: keras.Model | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.config = config
        if generator is None or critic is None:
            built = networks.build_networks(config.networks, config.image_shape, config.num_classes)
            generator, critic = generator or built[0], critic or built[1]
        self.generator, self.critic = generator, critic
        # real and fake images share the critic's batches only where that changes the scores
        self.joint_batches = config.critic_batches == "joint" and any(
            isinstance(layer, keras.layers.BatchNormalization) for layer in every_layer(critic)
        )
        self.loss_pair = LOSS_PAIRS[config.loss]
        self.noise = keras.random.SeedGenerator(config.seed)
        names = ("generator_loss", "critic_loss", "critic_real", "critic_fake", "gradient_penalty")
        self.trackers = {name: keras.metrics.Mean(name) for name in names}

    @property
    def metrics(self):
        return list(self.trackers.values())

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    @property
    def num_classes(self) -> int | None:
        return self.config.num_classes

    def compile(self, generator_optimizer, critic_optimizer, **kwargs):
        super().compile(optimizer=generator_optimizer, **kwargs)
        self.generator_optimizer, self.critic_optimizer = generator_optimizer, critic_optimizer

    def build_for_training(self) -> GANModel:
        """Builds both networks and both optimizers (so a backup restores every slot)."""
        labels = tf.zeros((1,), tf.int32) if self.num_classes else None
        images = self.generator(tf.zeros((1, self.latent_dim)), labels, training=False)
        self.critic(images, labels, training=False)
        self.generator_optimizer.build(self.generator.trainable_variables)
        self.critic_optimizer.build(self.critic.trainable_variables)
        self.built = True
        return self

    def _replica_seed(self) -> tf.Tensor:
        """The next seed of the model's generator, folded with the replica id (module docstring)."""
        context = tf.distribute.get_replica_context()
        replica = 0 if context is None else context.replica_id_in_sync_group
        seed = self.noise.next() + tf.cast(tf.stack([0, replica]), "int64")
        return tf.cast(tf.math.floormod(seed, tf.int32.max - 1), tf.int32)

    def draw_noise(self, count) -> tf.Tensor:
        """z ~ N(0, I), [count, latent_dim]."""
        return tf.random.stateless_normal((count, self.latent_dim), seed=self._replica_seed())

    def draw_interpolation_weights(self, count) -> tf.Tensor:
        """eps ~ U[0, 1], one per example, [count] (Gulrajani et al. Algorithm 1, line 4)."""
        return tf.random.stateless_uniform((count,), seed=self._replica_seed())

    def critic_terms(self, real, fake, labels, training: bool) -> CriticTerms:
        """The critic's loss on m real and m generated images, scored in a batch each, or in one
        call when `joint_batches` (module docstring)."""
        count = tf.shape(real)[0]
        if self.joint_batches:
            scores = self.critic(tf.concat([real, fake], 0), _doubled(labels), training=training)
            real_scores, fake_scores = scores[:count], scores[count:]
        else:
            real_scores = self.critic(real, labels, training=training)
            fake_scores = self.critic(fake, labels, training=training)
        real_term = self.loss_pair.real_term(real_scores)
        fake_term = self.loss_pair.fake_term(fake_scores)
        penalty = tf.zeros_like(real_term)
        if self.config.gradient_penalty_weight:

            def critic(images):
                return self.critic(images, labels, training=training)

            epsilon = self.draw_interpolation_weights(count)
            penalty = self.config.gradient_penalty_weight * gradient_penalty(
                critic, real, fake, epsilon
            )
        return CriticTerms(real_term + fake_term + penalty, real_term, fake_term, penalty)

    def score_fakes(self, real, fake, labels) -> tf.Tensor:
        """The critic's training-mode scores of `fake` [m], batched as `critic_terms` batches them,
        so that batch norm normalises with the statistics the critic was trained on: a fakes-only
        batch, or with `joint_batches` one call on [real; fake]."""
        if not self.joint_batches:
            return self.critic(fake, labels, training=True)
        scores = self.critic(tf.concat([real, fake], 0), _doubled(labels), training=True)
        return scores[tf.shape(real)[0] :]

    def clip_critic(self) -> None:
        """Every critic weight into [-c, c] (Arjovsky et al. Algorithm 1, line 7); no-op without
        c."""
        if self.config.clip_value:
            c = self.config.clip_value
            for variable in self.critic.trainable_variables:
                variable.assign(tf.clip_by_value(variable, -c, c))

    def train_step(self, data):
        images, labels = data[0], data[1] if self.num_classes else None
        steps = self.config.critic_steps
        real_batches = interleaved_batches(images, steps)
        label_batches = interleaved_batches(labels, steps) if self.num_classes else [None] * steps
        count = tf.shape(real_batches[0])[0]
        for real, batch_labels in zip(
            real_batches, label_batches, strict=True
        ):  # unrolled: k is a constant
            # sample noise and generate m fakes, with the real images' labels when conditional
            fake = self.generator(self.draw_noise(count), batch_labels, training=True)
            # update the critic on its real and fake terms (and the gradient penalty)
            with tf.GradientTape() as tape:
                terms = self.critic_terms(real, fake, batch_labels, training=True)
                critic_loss = tf.nn.compute_average_loss(terms.total)
            gradients = tape.gradient(critic_loss, self.critic.trainable_variables)
            self.critic_optimizer.apply_gradients(
                zip(gradients, self.critic.trainable_variables, strict=True)
            )
            # keep the critic's weights in [-c, c] (weight clipping)
            self.clip_critic()
            self.record(
                critic_loss=terms.total,
                critic_real=terms.real,
                critic_fake=terms.fake,
                gradient_penalty=terms.penalty,
            )
        # sample fresh noise and update the generator against the updated critic, which batches
        # the fakes as it was trained to (`score_fakes`)
        with tf.GradientTape() as tape:
            fake = self.generator(self.draw_noise(count), batch_labels, training=True)
            per_example = self.loss_pair.generator(self.score_fakes(real, fake, batch_labels))
            generator_loss = tf.nn.compute_average_loss(per_example)
        gradients = tape.gradient(generator_loss, self.generator.trainable_variables)
        self.generator_optimizer.apply_gradients(
            zip(gradients, self.generator.trainable_variables, strict=True)
        )
        self.record(generator_loss=per_example)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def test_step(self, data):
        """The critic's terms and the generator's loss on held-out real images and as many fakes."""
        images, labels = data[0], data[1] if self.num_classes else None
        fake = self.generator(self.draw_noise(tf.shape(images)[0]), labels, training=False)
        terms = self.critic_terms(images, fake, labels, training=False)
        generator = self.loss_pair.generator(self.critic(fake, labels, training=False))
        self.record(
            critic_loss=terms.total,
            critic_real=terms.real,
            critic_fake=terms.fake,
            gradient_penalty=terms.penalty,
            generator_loss=generator,
        )
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def record(self, **values) -> None:
        for name, value in values.items():
            self.trackers[name].update_state(value)

    def call(self, z, labels=None, training=False):
        return self.generator(z, labels, training=training)

    # The suite's generative interface: images in [0, 1].

    def decode(self, z, labels=None) -> tf.Tensor:
        """(G(z) + 1) / 2 for codes z [B, latent_dim]; deterministic (dropout off, batch norm's
        moving statistics)."""
        if self.num_classes is None:
            refuse_labels("this GAN", labels)
        elif labels is None:
            raise ValueError("this GAN is conditional: give decode one label per code")
        z = tf.convert_to_tensor(z, tf.float32)
        return (self.generator(z, labels, training=False) + 1.0) / 2.0

    def sample(self, count: int, labels=None) -> tf.Tensor:
        """Images for fresh z ~ N(0, I); a conditional GAN given no labels draws them uniformly."""
        labels = labels_or_uniform(labels, count, self.num_classes, self.noise)
        if self.num_classes is None:
            refuse_labels("this GAN", labels)
        return self.decode(self.draw_noise(count), labels)

    def reconstruct(self, x, labels=None):
        raise NotImplementedError(
            "a GAN has no encoder, so it cannot reconstruct x: use decode(z) or sample(count)"
        )


def _doubled(labels):
    return None if labels is None else tf.concat([labels, labels], 0)


def build_gan(
    config: GANConfig = GAN, generator: keras.Model | None = None, critic: keras.Model | None = None
) -> GANModel:
    """A built, compiled GAN with one optimizer per network; call inside `strategy.scope()`.
    Networks not given are built from `config.networks`."""
    model = GANModel(config, generator, critic)
    model.compile(
        generator_optimizer=config.generator_optimizer.build(),
        critic_optimizer=config.critic_optimizer.build(),
    )
    return model.build_for_training()
