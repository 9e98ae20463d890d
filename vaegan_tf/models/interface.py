"""The one interface every generative model of the suite exposes, so that one set of study helpers
(`vaegan_tf.evaluate.decode_in_chunks`, `reconstruction_mse`, `measure_samples`) serves them all:

- `sample(count, labels=None)`: images for fresh codes z ~ p(z); a label-conditional model given no
  labels draws them uniformly (the marginal p(x) = sum_y p(y) p(x|y) with a uniform p(y)).
- `decode(z, labels=None)`: images for given codes [B, latent_dim], deterministic: the same z through
  two models differs by the model alone (Figures 7 and the VAE variants compare them so).
- `reconstruct(x, labels=None)`: images decoded from the posterior mean code of x (models with an
  encoder only; a GAN raises `NotImplementedError`).
Images are in [0, 1] with the data's shape ([B, H, W, C]); for likelihood models they are the Bernoulli
means of p(x|z), the images VAE papers show. Models with a posterior also give `posterior`,
`likelihood` and `prior`, what the importance-weighted NLL of `vaegan_tf.evaluate` needs.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import keras
import tensorflow as tf


@runtime_checkable
class GenerativeModel(Protocol):
    latent_dim: int

    def sample(self, count: int, labels=None) -> tf.Tensor: ...

    def decode(self, z, labels=None) -> tf.Tensor: ...

    def reconstruct(self, x, labels=None) -> tf.Tensor: ...


def labels_or_uniform(labels, count: int, num_classes: int | None, seed) -> tf.Tensor | None:
    """`labels` as given; for a label-conditional model (`num_classes`) given none, `count` labels
    drawn uniformly with the model's seed generator; None for an unconditional model."""
    if labels is not None or num_classes is None:
        return labels
    return keras.random.randint((count,), 0, num_classes, seed=seed, dtype="int32")


def refuse_labels(model_name: str, labels) -> None:
    """An unconditional model asked for a class fails loudly rather than ignore it."""
    if labels is not None:
        raise ValueError(f"{model_name} is unconditional: call it with labels=None")
