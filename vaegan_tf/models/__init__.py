"""Keras 3 subclassed models with custom `train_step`s, one module per family."""
