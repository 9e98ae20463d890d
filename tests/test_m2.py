import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from vaegan_tf import losses
from vaegan_tf.models.m2 import M2Config, build_m2, for_labels


def test_unlabelled_bound_is_q_weighted_labelled_bounds_minus_entropy():
    bounds = tf.constant([[10.0, 20.0, 40.0]])
    logits = tf.math.log(tf.constant([[0.5, 0.25, 0.25]]))
    q = np.array([0.5, 0.25, 0.25])
    expected = (q * [10, 20, 40]).sum() - (-(q * np.log(q)).sum())  # 20 - 1.0397
    np.testing.assert_allclose(losses.unlabelled_bound(bounds, logits), [expected], rtol=1e-6)


def test_labelled_bound_and_classification_loss_by_hand():
    np.testing.assert_allclose(losses.labelled_bound(tf.constant([3.0]), tf.constant([1.0]), 10),
                               [4.0 + math.log(10)], rtol=1e-6)  # -log p(y) = log 10
    logits = tf.math.log(tf.constant([[0.2, 0.8]]))
    np.testing.assert_allclose(losses.classification_loss(tf.constant([1]), logits), [-math.log(0.8)], rtol=1e-6)


def test_objective_weights_follow_kingma():
    config = for_labels(M2Config(), num_labelled=600, num_total=55000)
    assert config.alpha == pytest.approx(0.1 * 55000 / 600)
    with pytest.raises(ValueError, match="architecture"):
        M2Config(architecture="resnet")


def tiny(architecture):
    keras.utils.set_random_seed(0)
    return build_m2(M2Config(architecture=architecture, hidden_units=16, latent_dim=3))


def test_every_label_bounds_match_one_label_at_a_time():
    model = tiny("fc")
    model.draw_noise = lambda shape: tf.zeros(shape)  # the same z for both computations
    x = tf.cast(tf.random.uniform((3, 28, 28, 1), seed=2) < 0.3, tf.float32)
    h = model.trunk(x, training=False)
    table = model.bounds_for_every_label(x, h, training=False).numpy()
    assert table.shape == (3, 10)
    for label in (0, 7):
        reconstruction, kl = model.labelled_terms(x, h, tf.one_hot([label] * 3, 10), training=False)
        np.testing.assert_allclose(table[:, label], losses.labelled_bound(reconstruction, kl, 10), rtol=1e-5)


@pytest.mark.parametrize("architecture", ["fc", "conv"])
def test_one_training_step(architecture):
    model = tiny(architecture)
    x = tf.cast(tf.random.uniform((6, 28, 28, 1)) < 0.3, tf.float32)
    labels = tf.constant([0, 1, 2, 3, 4, 5])
    before = [w.numpy().copy() for w in model.trainable_weights]
    logs = model.train_step(((x[:4], labels[:4]), (x, labels)))
    assert {"loss", "labelled", "unlabelled", "classification", "accuracy"} <= set(logs)
    assert all(np.isfinite(float(v)) for v in logs.values())
    assert all(not np.allclose(b, w.numpy()) for b, w in zip(before, model.trainable_weights)
               if b.ndim == 2)  # every dense and conv kernel receives a gradient
    assert model(x, training=False).shape == (6, 10)
    assert set(model.test_step((x, labels))) == {"error"}


def test_table1_runs_every_implemented_cell_and_marks_the_rest(splits, tmp_path):
    import dataclasses

    from vaegan_tf.studies import ssl

    base = dataclasses.replace(ssl.SSLStudyConfig(), model=M2Config(hidden_units=8, latent_dim=2),
                               labelled_batch_size=10, batch_size=20, work_root=str(tmp_path))
    config = ssl.Table1Config(rows=("fc", "conv+gan"), labels=(20,), seeds=(0, 1), epochs={"fc": 1},
                              steps_per_epoch=2, base=base)
    cells = ssl.run_table1(config, splits)
    measured = [c for c in cells if c["status"] == "measured"]
    assert len(measured) == 2 and all(0 <= c["test_error"] <= 1 for c in measured)
    assert [c["status"] for c in cells if c["row"] == "conv+gan"] == ["not implemented yet"] * 2
    table = ssl.table1_markdown(cells)
    assert "| fc | 20 |" in table and "±" in table and "| conv+gan | 20 | not implemented yet |" in table
