import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from vaegan_tf import data, distribute, training
from vaegan_tf.models.vae import VAE, VAEConfig, build_vae

# batch norm on, as in the paper
CONFIG = VAEConfig(image_shape=(4, 4, 1), hidden_units=(16, 8), latent_dim=3)


class NoiselessVAE(VAE):
    """Posterior noise is the one per-replica difference a one-device run would not have."""

    def draw_noise(self, shape):
        return tf.zeros(shape)


def one_step(strategy, x):
    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = NoiselessVAE(CONFIG)
        model.compile(optimizer=keras.optimizers.Adam(1e-2))
        model.build_for_training()
    dataset = tf.data.Dataset.from_tensor_slices((x, np.zeros(len(x), np.int32))).batch(len(x))
    history = model.fit(dataset, epochs=1, verbose=0, shuffle=False)
    return history.history, [w.numpy() for w in model.weights]


def test_mirrored_step_on_two_cpus_matches_one_device():
    x = (np.random.default_rng(0).random((8, 4, 4, 1)) < 0.5).astype(np.float32)
    # the suite's own: the two logical CPUs of conftest
    mirrored = distribute.make_strategy("mirrored")
    assert mirrored.num_replicas_in_sync == 2
    single_logs, single_weights = one_step(tf.distribute.OneDeviceStrategy("/cpu:0"), x)
    mirrored_logs, mirrored_weights = one_step(mirrored, x)
    np.testing.assert_allclose(mirrored_logs["loss"], single_logs["loss"], rtol=1e-5)
    for single, replicated in zip(single_weights, mirrored_weights, strict=True):
        np.testing.assert_allclose(replicated, single, rtol=1e-4, atol=1e-6)


def test_strategy_choices():
    assert isinstance(distribute.make_strategy("cpu"), tf.distribute.OneDeviceStrategy)
    # no GPU here
    assert isinstance(distribute.make_strategy("auto"), tf.distribute.OneDeviceStrategy)
    assert distribute.make_strategy("mirrored").num_replicas_in_sync == 2  # the two logical CPUs
    assert distribute.describe(distribute.make_strategy("cpu"))["replicas"] == 1
    with pytest.raises(ValueError, match="unknown strategy"):
        distribute.make_strategy("tpu")
    if not tf.config.list_logical_devices("GPU"):
        with pytest.raises(ValueError, match="no GPU"):
            distribute.make_strategy("gpu")


def test_multiworker_needs_tf_config_and_to_come_first(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="TF_CONFIG"):
        distribute.make_strategy("multiworker")
    tf.zeros(
        [1]
    ).numpy()  # this process's runtime has started: too late for collective ops, and said so
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_loopback_ports(2)]}
    monkeypatch.setenv(
        "TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 0}})
    )
    with pytest.raises(ValueError, match="must be created before TensorFlow runs anything"):
        distribute.make_strategy("multiworker")


def test_two_mirrored_runs_in_one_process(splits, tmp_path):
    """table1 builds a strategy per cell in one process; over CPUs, collective all-reduce keys of a
    second MirroredStrategy clashed with the first (seen in CI). Two runs must both train."""
    from vaegan_tf import data, training

    stream = data.pipeline(
        splits.train, batch_size=20, preprocessing="dynamic_binarize", shuffle=True, seed=0
    )
    outcomes = []
    for name in ("first", "second"):
        run = training.RunConfig(
            name, 1, strategy="mirrored", work_root=str(tmp_path), steps_per_epoch=2, verbose=0
        )
        outcomes.append(
            training.train(
                run, lambda: build_vae(VAEConfig(hidden_units=(8,), latent_dim=2)), stream
            )
        )
    # the same seeded run twice: the second strategy trains exactly as the first did
    first, second = outcomes
    assert int(second.model.optimizer.iterations.numpy()) == 2
    np.testing.assert_allclose(second.history["loss"], first.history["loss"], rtol=1e-6)
    for a, b in zip(first.model.weights, second.model.weights, strict=True):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-6, atol=1e-7)


TESTS = Path(__file__).resolve().parent
RNG_IMAGES = np.random.default_rng(1).integers(0, 256, (8, 4, 4, 1), dtype=np.uint8)


def build_noiseless():
    model = NoiselessVAE(CONFIG)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    return model.build_for_training()


def one_harness_step(strategy: str, work_root: str) -> training.TrainingOutcome:
    """One step of the suite's harness on a global batch of all 8 images, thresholded
    (deterministic)."""
    stream = data.pipeline(
        data.Split(RNG_IMAGES, np.arange(8) % 10),
        batch_size=8,
        preprocessing="threshold",
        shuffle=True,
        seed=0,
    )
    run = training.RunConfig(
        "step", 1, strategy=strategy, work_root=work_root, steps_per_epoch=1, verbose=0
    )
    return training.train(run, build_noiseless, stream)


def multiworker_child(out: str, work_root: str) -> None:
    """What each worker process runs: the harness under MultiWorkerMirroredStrategy, its results
    saved."""
    distribute.make_strategy("multiworker")  # first thing, as an experiment's entry point does
    outcome = one_harness_step("multiworker", work_root)
    np.savez(
        out,
        loss=np.array(outcome.history["loss"]),
        replicas=outcome.strategy.num_replicas_in_sync,
        **{f"w{i}": w.numpy() for i, w in enumerate(outcome.model.weights)},
    )


def free_loopback_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for each in sockets:
        each.bind(("127.0.0.1", 0))
    ports = [each.getsockname()[1] for each in sockets]
    for each in sockets:
        each.close()
    return ports


@pytest.mark.slow
def test_two_workers_on_localhost_take_the_step_one_device_takes(tmp_path):
    """MultiWorkerMirroredStrategy for real: two processes on 127.0.0.1, one CPU each, TF_CONFIG,
    the suite's pipeline (auto-sharded by data) and harness. Each worker sees half the global batch;
    their synchronized step must equal one device's step on the whole batch."""
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_loopback_ports(2)]}
    workers = []
    for index in range(2):
        code = (
            f"import sys; sys.path[:0] = [{str(TESTS)!r}]; import test_distribute; "
            f"test_distribute.multiworker_child({str(tmp_path / f'worker{index}.npz')!r}, "
            f"{str(tmp_path / 'cluster')!r})"
        )
        env = {
            **os.environ,
            "TF_CPP_MIN_LOG_LEVEL": "3",
            "TF_CONFIG": json.dumps(
                {"cluster": cluster, "task": {"type": "worker", "index": index}}
            ),
        }
        workers.append(
            subprocess.Popen(
                [sys.executable, "-c", code],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    try:
        errors = [worker.communicate(timeout=240)[1] for worker in workers]
    except subprocess.TimeoutExpired:
        pytest.fail("the two workers did not finish one step within 240 s")
    finally:
        for worker in workers:
            worker.kill()
    for worker, error in zip(workers, errors, strict=True):
        assert worker.returncode == 0, error[-3000:]
    single = one_harness_step("cpu", str(tmp_path / "single"))
    for index in range(2):
        result = np.load(tmp_path / f"worker{index}.npz")
        assert int(result["replicas"]) == 2
        np.testing.assert_allclose(result["loss"], single.history["loss"], rtol=1e-5)
        for i, weight in enumerate(single.model.weights):
            np.testing.assert_allclose(result[f"w{i}"], weight.numpy(), rtol=1e-4, atol=1e-6)
    # the chief (worker 0) finished the run; the other worker logged in a folder of its own
    assert (tmp_path / "cluster" / "step" / "finished.json").exists()
    assert (tmp_path / "cluster" / "step" / "worker-1" / "log.csv").exists()
