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


def apply_if(condition: tf.Tensor, gradients, variables, optimizer, otherwise=None) -> None:
    """From a replica's `train_step`: `optimizer.apply(gradients, variables)` if `condition` (a scalar bool,
    the same on every replica), else `otherwise`'s apply, or no update at all. An optimizer's apply
    synchronises the replicas, which a branch in replica context may not contain, so the branch is taken in
    cross-replica context (`merge_call`) and each side runs the apply on every replica, as Keras'
    LossScaleOptimizer does to skip a step."""
    def apply_with(strategy, chosen, local_gradients):
        def run():
            if chosen is not None:
                strategy.extended.call_for_each_replica(chosen.apply, args=(local_gradients, variables))
        return run

    def branch(strategy, condition, gradients):
        condition = strategy.experimental_local_results(condition)[0]
        tf.cond(condition, apply_with(strategy, optimizer, gradients), apply_with(strategy, otherwise, gradients))

    tf.distribute.get_replica_context().merge_call(branch, args=(condition, gradients))


def global_mean(per_example: tf.Tensor) -> tf.Tensor:
    """The mean of per-example values over the global batch, the same on every replica (a decision taken
    from it, such as skipping an update, is then taken alike everywhere)."""
    return tf.distribute.get_replica_context().all_reduce("sum", tf.nn.compute_average_loss(per_example))
