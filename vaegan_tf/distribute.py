"""Picks the `tf.distribute` strategy that places training on whatever hardware is there.

`auto` mirrors over all local GPUs (one GPU: a one-device strategy on it), else uses the CPU; `cpu` and
`gpu` force a single device; `mirrored` mirrors over all local devices of the fastest kind; `multiworker`
reads the cluster from TF_CONFIG (MultiWorkerMirroredStrategy). Models are built and compiled inside
`strategy.scope()` and reduce their per-example losses with `tf.nn.compute_average_loss`, which divides
by the global batch: Keras sums gradients over replicas.
"""

from __future__ import annotations

import json
import os

import tensorflow as tf

STRATEGIES = ("auto", "cpu", "gpu", "mirrored", "multiworker")


def make_strategy(name: str = "auto") -> tf.distribute.Strategy:
    """Returns the strategy called `name`; raises ValueError with the fix for impossible requests."""
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")
    gpus = tf.config.list_logical_devices("GPU")
    if name == "multiworker":
        if "TF_CONFIG" not in os.environ:
            raise ValueError("strategy 'multiworker' needs TF_CONFIG describing the cluster and this task")
        json.loads(os.environ["TF_CONFIG"])  # a malformed TF_CONFIG fails here, with a clear JSON error
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "gpu" and not gpus:
        raise ValueError("strategy 'gpu' asked for, but TensorFlow sees no GPU (install tensorflow[and-cuda])")
    if name == "cpu" or (name == "auto" and not gpus):
        return tf.distribute.OneDeviceStrategy("/cpu:0")
    if name == "mirrored":
        if gpus:
            return tf.distribute.MirroredStrategy([d.name for d in gpus])
        # Over CPUs, MirroredStrategy's collective all-reduce can mismatch when replicas issue the many
        # synchronized-batch-norm reductions in different orders under load (seen in CI); reducing on one
        # device has no such ordering constraint.
        return tf.distribute.MirroredStrategy([d.name for d in tf.config.list_logical_devices("CPU")],
                                              cross_device_ops=tf.distribute.ReductionToOneDevice())
    if len(gpus) == 1:
        return tf.distribute.OneDeviceStrategy(gpus[0].name)
    return tf.distribute.MirroredStrategy([d.name for d in gpus])


def describe(strategy: tf.distribute.Strategy) -> dict:
    """What ran where, for environment.json."""
    return {
        "strategy": type(strategy).__name__,
        "replicas": int(strategy.num_replicas_in_sync),
        "devices": list(getattr(strategy.extended, "worker_devices", ())),
    }


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes shared files: always, except on the non-chief workers of a cluster."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "chief" or (not has_chief and resolver.task_type == "worker" and resolver.task_id == 0)
