"""Picks the `tf.distribute` strategy that places training on whatever hardware is there.

`auto` mirrors over all local GPUs (one GPU: a one-device strategy on it), else uses the CPU; `cpu`
and `gpu` force a single device; `mirrored` mirrors over all local devices of the fastest kind;
`multiworker` reads the cluster from TF_CONFIG (MultiWorkerMirroredStrategy). Models are built and
compiled inside `strategy.scope()` and reduce their per-example losses with
`tf.nn.compute_average_loss`, which divides by the global batch: Keras sums gradients over replicas.

Keras 3 cannot `fit` under MultiWorkerMirroredStrategy as released (keras-team/keras#20585, open);
`make_strategy("multiworker")` patches the two places that fail, for that strategy only
(`_keras_fit_under_multiworker`), and a test checks one step of two workers against one device.
"""

from __future__ import annotations

import json
import os

import tensorflow as tf

from vaegan_tf.choices import check_choice

STRATEGIES = ("auto", "cpu", "gpu", "mirrored", "multiworker")


def make_strategy(name: str = "auto") -> tf.distribute.Strategy:
    """Returns the strategy called `name`; raises ValueError with the fix for impossible
    requests."""
    check_choice(name, STRATEGIES, "strategy")
    if name == "multiworker":  # before anything lists devices, which would start the runtime
        return _multiworker()
    gpus = tf.config.list_logical_devices("GPU")
    if name == "gpu" and not gpus:
        raise ValueError(
            "strategy 'gpu' asked for, but TensorFlow sees no GPU (install tensorflow[and-cuda])"
        )
    if name == "cpu" or (name == "auto" and not gpus):
        return tf.distribute.OneDeviceStrategy("/cpu:0")
    if name == "mirrored":
        if gpus:
            return tf.distribute.MirroredStrategy([d.name for d in gpus])
        # Over CPUs, MirroredStrategy's collective all-reduce can mismatch when replicas issue the
        # many synchronized-batch-norm reductions in different orders under load (seen in CI);
        # reducing on one device has no such ordering constraint.
        return tf.distribute.MirroredStrategy(
            [d.name for d in tf.config.list_logical_devices("CPU")],
            cross_device_ops=tf.distribute.ReductionToOneDevice(),
        )
    if len(gpus) == 1:
        return tf.distribute.OneDeviceStrategy(gpus[0].name)
    return tf.distribute.MirroredStrategy([d.name for d in gpus])


# one per process: collective ops are configured once
_MULTIWORKER: list[tf.distribute.Strategy] = []


def _multiworker() -> tf.distribute.Strategy:
    """The process's MultiWorkerMirroredStrategy, created on the first call. It configures
    collective ops, which TensorFlow allows only before its runtime starts (before the first tensor
    or device listing): an entry point asks for it first thing (`experiments/common_flags.run`
    does)."""
    if _MULTIWORKER:
        return _MULTIWORKER[0]
    if "TF_CONFIG" not in os.environ:
        raise ValueError(
            "strategy 'multiworker' needs TF_CONFIG describing the cluster and this task"
        )
    json.loads(os.environ["TF_CONFIG"])  # a malformed TF_CONFIG fails here, with a clear JSON error
    _keras_fit_under_multiworker()
    try:
        _MULTIWORKER.append(tf.distribute.MultiWorkerMirroredStrategy())
    except RuntimeError as error:
        if "at program startup" not in str(error):
            raise
        raise ValueError(
            "strategy 'multiworker' must be created before TensorFlow runs anything: call "
            "distribute.make_strategy('multiworker') first (the experiments' entry points "
            "do)"
        ) from error
    return _MULTIWORKER[0]


def _keras_fit_under_multiworker() -> None:
    """Lets Keras 3's TensorFlow trainer `fit` and `evaluate` under MultiWorkerMirroredStrategy,
    where two of its steps fail (keras-team/keras#20585): before training it averages one input
    batch over every replica only to learn the batch's shapes, a cross-worker reduce of a nested
    structure that collective ops refuse; and it averages each step's metrics with `reduce("MEAN",
    axis=0)`, which fails on scalar metrics. For that strategy only, the shapes come from this
    worker's own replica (the same shapes) and the metrics are averaged over the replicas whole
    (axis=None), as under MirroredStrategy. Other strategies go through Keras's code untouched.
    Patches once per process."""
    from keras.src import tree
    from keras.src.backend.tensorflow import trainer

    if getattr(trainer, "_multiworker_patched_by_vaegan_tf", False):
        return
    multiworker = tf.distribute.MultiWorkerMirroredStrategy
    keras_build, keras_reduce = (
        trainer.TensorFlowTrainer._maybe_symbolic_build,
        trainer.reduce_per_replica,
    )

    def local(strategy, value):
        if isinstance(value, tf.distribute.DistributedValues):
            return strategy.experimental_local_results(value)[0]
        return value

    def maybe_symbolic_build(self, iterator=None, data_batch=None):
        strategy = self._distribute_strategy
        if iterator is None or not isinstance(strategy, multiworker):
            return keras_build(self, iterator=iterator, data_batch=data_batch)
        for _, _, batches in iterator:  # `fit` resets the iterator afterwards, as after Keras's own
            data_batch = tree.map_structure(lambda value: local(strategy, value), next(batches))
            break
        with strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    def reduce_per_replica(values, strategy, reduction):
        if reduction in ("auto", "mean") and isinstance(strategy, multiworker):
            return tree.map_structure(
                lambda value: strategy.reduce("MEAN", value, axis=None), values
            )
        return keras_reduce(values, strategy, reduction)

    trainer.TensorFlowTrainer._maybe_symbolic_build = maybe_symbolic_build
    trainer.reduce_per_replica = reduce_per_replica
    trainer._multiworker_patched_by_vaegan_tf = True


def describe(strategy: tf.distribute.Strategy) -> dict:
    """What ran where, for environment.json."""
    return {
        "strategy": type(strategy).__name__,
        "replicas": int(strategy.num_replicas_in_sync),
        "devices": list(getattr(strategy.extended, "worker_devices", ())),
    }


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes shared files: always, except on the non-chief workers of a
    cluster."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "chief" or (
        not has_chief and resolver.task_type == "worker" and resolver.task_id == 0
    )


def apply_if(condition: tf.Tensor, gradients, variables, optimizer, otherwise=None) -> None:
    """From a replica's `train_step`: `optimizer.apply(gradients, variables)` if `condition` (a
    scalar bool, the same on every replica), else `otherwise`'s apply, or no update at all. An
    optimizer's apply synchronises the replicas, which a branch in replica context may not contain,
    so the branch is taken in cross-replica context (`merge_call`) and each side runs the apply on
    every replica, as Keras' LossScaleOptimizer does to skip a step."""

    def apply_with(strategy, chosen, local_gradients):
        def run():
            if chosen is not None:
                strategy.extended.call_for_each_replica(
                    chosen.apply, args=(local_gradients, variables)
                )

        return run

    def branch(strategy, condition, gradients):
        condition = strategy.experimental_local_results(condition)[0]
        tf.cond(
            condition,
            apply_with(strategy, optimizer, gradients),
            apply_with(strategy, otherwise, gradients),
        )

    tf.distribute.get_replica_context().merge_call(branch, args=(condition, gradients))


def global_mean(per_example: tf.Tensor) -> tf.Tensor:
    """The mean of per-example values over the global batch, the same on every replica (a decision
    taken from it, such as skipping an update, is then taken alike everywhere)."""
    return tf.distribute.get_replica_context().all_reduce(
        "sum", tf.nn.compute_average_loss(per_example)
    )
