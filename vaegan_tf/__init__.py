"""vaegan_tf: faithful TensorFlow 2 / Keras 3 reproductions of five documents on VAEs, GANs and hybrids."""

__version__ = "0.1.0"
