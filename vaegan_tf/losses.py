"""Per-example losses, each from its paper's equation: [B, ...] -> [B]. Reduce them with
`tf.nn.compute_average_loss` so that the mean is over the global batch under any distribution strategy."""

from __future__ import annotations

import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions


def reconstruction_nll(x: tf.Tensor, likelihood: tfd.Distribution) -> tf.Tensor:
    """-log p(x | z) for one posterior sample z: the first term of Chen et al. (2016) eq. (1), negated.
    x [B, H, W, C], likelihood with event shape [H, W, C] -> [B]."""
    return -likelihood.log_prob(x)


def kl_to_prior(posterior: tfd.Distribution, prior: tfd.Distribution) -> tf.Tensor:
    """KL(Q(z | x) || p(z)), closed form for Gaussians: the second term of eq. (1). -> [B]."""
    return tfd.kl_divergence(posterior, prior)


def negative_elbo(reconstruction: tf.Tensor, kl: tf.Tensor) -> tf.Tensor:
    """L(x) = -E_{z~Q}[log p(x|z)] + KL(Q(z|x) || p(z)), Chen et al. (2016) eq. (1). [B], [B] -> [B]."""
    return reconstruction + kl


def labelled_bound(reconstruction: tf.Tensor, kl: tf.Tensor, num_classes: int) -> tf.Tensor:
    """L(x, y) = -E_{z~Q(z|x,y)}[log p(x|y,z) + log p(y)] + KL(Q(z|x,y) || p(z)), Chen et al. (2016)
    Sec. 2.3, with a uniform p(y) = 1 / num_classes. [B], [B] -> [B] (also [B, K], [B, K] -> [B, K])."""
    return reconstruction + kl + tf.math.log(float(num_classes))


def unlabelled_bound(labelled_bounds: tf.Tensor, class_logits: tf.Tensor) -> tf.Tensor:
    """U(x) = sum_y Q(y|x) L(x, y) - H(Q(y|x)), Sec. 2.3, summed exactly over the K labels.
    labelled_bounds [B, K] (L(x, y) for every y), class_logits [B, K] of Q(y|x) -> [B]."""
    q = tfd.Categorical(logits=class_logits)
    return tf.reduce_sum(q.probs_parameter() * labelled_bounds, axis=-1) - q.entropy()


def classification_loss(labels: tf.Tensor, class_logits: tf.Tensor) -> tf.Tensor:
    """-log Q(y|x), the extra term Kingma et al. (2014) weigh by alpha. [B] ints, [B, K] -> [B]."""
    return -tfd.Categorical(logits=class_logits).log_prob(labels)


def feature_distance(features_real: tf.Tensor, features_rebuilt: tf.Tensor) -> tf.Tensor:
    """||f_l(x) - f_l(x~)||^2, the learned-similarity reconstruction term of Chen et al. (2016) Sec. 3.1
    (Larsen et al. 2015) up to its 1 / 2 sigma^2 and constant. [B, F], [B, F] -> [B]."""
    return tf.reduce_sum(tf.square(features_real - features_rebuilt), axis=-1)


def class_cross_entropy(labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    """CrossEntropy(D(x), y) = -log D_y(x) over the k + 1 classes of Sec. 3.2. [B] ints, [B, k+1] -> [B]."""
    return tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=tf.cast(labels, tf.int32), logits=logits
    )


def soft_class_cross_entropy(targets: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    """-sum_c t_c log D_c(x) for a distribution t over the first K of the discriminator's K+1 classes
    (Sec. 3.3: a cross-entropy "averaged over Q(y|x)"; one-hot t gives `class_cross_entropy`).
    [B, K], [B, K+1] -> [B]."""
    log_probs = tf.nn.log_softmax(logits)[:, : tf.shape(targets)[-1]]
    return -tf.reduce_sum(targets * log_probs, axis=-1)


def feature_perceptual_loss(real_maps: tf.Tensor, rebuilt_maps: tf.Tensor) -> tf.Tensor:
    """The poster's feature perceptual loss of one layer, 1 / (2 C W H) sum_{c,w,h} (Phi(x) - Phi(x_bar))^2
    (Hou et al. 2016). [B, H, W, C], [B, H, W, C] -> [B]."""
    squared = tf.square(tf.cast(real_maps, tf.float32) - tf.cast(rebuilt_maps, tf.float32))
    return 0.5 * tf.reduce_mean(tf.reshape(squared, [tf.shape(squared)[0], -1]), axis=-1)
