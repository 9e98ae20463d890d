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
