import csv
import dataclasses
import json
import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from absl import app, flags

from vaegan_tf import losses
from vaegan_tf.models.m2 import M2Config, build_m2, for_labels
from vaegan_tf.models.m2_authors import build_authors_m2
from vaegan_tf.studies.common import RunSettings


def test_unlabelled_bound_is_q_weighted_labelled_bounds_minus_entropy():
    bounds = tf.constant([[10.0, 20.0, 40.0]])
    logits = tf.math.log(tf.constant([[0.5, 0.25, 0.25]]))
    q = np.array([0.5, 0.25, 0.25])
    expected = (q * [10, 20, 40]).sum() - (-(q * np.log(q)).sum())  # 20 - 1.0397
    np.testing.assert_allclose(losses.unlabelled_bound(bounds, logits), [expected], rtol=1e-6)


def test_labelled_bound_and_classification_loss_by_hand():
    np.testing.assert_allclose(
        losses.labelled_bound(tf.constant([3.0]), tf.constant([1.0]), 10),
        [4.0 + math.log(10)],
        rtol=1e-6,
    )  # -log p(y) = log 10
    logits = tf.math.log(tf.constant([[0.2, 0.8]]))
    np.testing.assert_allclose(
        losses.classification_loss(tf.constant([1]), logits), [-math.log(0.8)], rtol=1e-6
    )


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
        np.testing.assert_allclose(
            table[:, label], losses.labelled_bound(reconstruction, kl, 10), rtol=1e-5
        )


@pytest.mark.parametrize("architecture", ["fc", "conv"])
def test_sum_over_labels_reads_h_once_with_the_same_values_and_gradients(architecture):
    """W [h, y] = W_h h + W_y y: the shared first layer (the default) gives the tiled computation's
    bounds and gradients, batch norm in training mode included."""
    model = tiny(architecture)
    assert model.shared_first_layer
    noise = tf.random.normal((10 * 4, 3), seed=3)
    model.draw_noise = lambda shape: noise  # the same z for both computations
    x = tf.random.uniform((4, 28, 28, 1), seed=2)

    def bounds(shared):
        with tf.GradientTape() as tape:
            h = model.trunk(x, training=True)
            table = model.bounds_for_every_label(x, h, training=True, shared_first_layer=shared)
            mean = tf.reduce_mean(table)
        return table, tape.gradient(mean, model.trainable_variables)

    (fast, fast_gradients), (tiled, tiled_gradients) = bounds(True), bounds(False)
    assert fast.shape == (4, 10)
    np.testing.assert_allclose(fast, tiled, rtol=1e-5)
    assert sum(g is not None for g in fast_gradients) == len(fast_gradients) - 2  # all but q's head
    for variable, a, b in zip(
        model.trainable_variables, fast_gradients, tiled_gradients, strict=True
    ):
        assert (a is None) == (b is None), variable.path
        if a is None:
            continue
        # float32 sums in another order: tolerance on the scale of each gradient
        scale = max(1.0, float(np.abs(b).max()))
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5 * scale, err_msg=variable.path)


@pytest.mark.parametrize("architecture", ["fc", "conv"])
def test_generative_interface(architecture):
    """sample / decode / reconstruct return images shaped like the data; decode is deterministic in
    z and reads y; reconstruct without labels uses argmax q(y|x)."""
    from vaegan_tf.models.interface import GenerativeModel

    model = tiny(architecture)
    assert isinstance(model, GenerativeModel) and model.latent_dim == 3
    z = tf.random.normal((4, 3), seed=5)
    labels = tf.constant([0, 3, 3, 9])
    first, second = model.decode(z, labels), model.decode(z, labels)
    assert first.shape == (4, 28, 28, 1)
    np.testing.assert_array_equal(first, second)
    np.testing.assert_allclose(model.decode(z, tf.one_hot(labels, 10)), first, rtol=1e-6)
    assert not np.allclose(model.decode(z, tf.constant([1, 3, 3, 9]))[0], first[0], atol=1e-6)
    assert float(tf.reduce_min(first)) >= 0 and float(tf.reduce_max(first)) <= 1
    with pytest.raises(ValueError, match="labels"):
        model.decode(z, None)
    assert model.sample(5).shape == (5, 28, 28, 1) and model.sample(2, labels=[4, 4]).shape == (
        2,
        28,
        28,
        1,
    )
    noise = tf.random.normal((2, 3), seed=6)
    model.draw_noise = lambda shape: noise
    np.testing.assert_allclose(
        model.sample(2, labels=[4, 7]), model.decode(noise, [4, 7]), rtol=1e-6
    )
    x = tf.random.uniform((3, 28, 28, 1), seed=7)
    rebuilt = model.reconstruct(x)
    assert rebuilt.shape == x.shape
    predicted = tf.argmax(model(x, training=False), -1, output_type=tf.int32)
    np.testing.assert_allclose(rebuilt, model.reconstruct(x, predicted), rtol=1e-6)
    mean = model.posterior(model.trunk(x), tf.one_hot(predicted, 10), training=False).mean()
    np.testing.assert_allclose(rebuilt, model.decode(mean, predicted), rtol=1e-6)


@pytest.mark.parametrize("architecture", ["fc", "conv"])
def test_one_training_step(architecture):
    model = tiny(architecture)
    x = tf.cast(tf.random.uniform((6, 28, 28, 1)) < 0.3, tf.float32)
    labels = tf.constant([0, 1, 2, 3, 4, 5])
    before = [w.numpy().copy() for w in model.trainable_weights]
    logs = model.train_step(((x[:4], labels[:4]), (x, labels)))
    assert {"loss", "labelled", "unlabelled", "classification", "accuracy"} <= set(logs)
    assert all(np.isfinite(float(v)) for v in logs.values())
    assert all(
        not np.allclose(b, w.numpy())
        for b, w in zip(before, model.trainable_weights, strict=True)
        if b.ndim == 2
    )  # every dense and conv kernel receives a gradient
    logits = model(x, training=False)
    assert logits.shape == (6, 10)
    # the error Table 1 reports is the share of images whose argmax q(y|x) is not their label
    logs = model.test_step((x, labels))
    assert set(logs) == {"error"}
    wrong = np.mean(np.argmax(logits, -1) != labels.numpy())
    assert float(logs["error"]) == pytest.approx(wrong)


def _tiny_preset(full_size):
    from vaegan_tf.models.m2_authors import AuthorsM2Config
    from vaegan_tf.models.ssl_vae_gan import SSLVAEGANConfig

    def tiny_preset(row, protocol, labels=1000):
        config = full_size(row, protocol, labels)
        if isinstance(config, SSLVAEGANConfig):
            return dataclasses.replace(
                config, m2=dataclasses.replace(config.m2, hidden_units=16, latent_dim=3)
            )
        small_discriminator = (
            dict(discriminator_filters=(2, 2, 2), discriminator_units=(8, 4))
            if isinstance(config, AuthorsM2Config) and row == "conv+gan"
            else {}
        )
        return dataclasses.replace(config, hidden_units=16, latent_dim=3, **small_discriminator)

    return tiny_preset


@pytest.mark.usefixtures("eager_steps")
def test_table1_runs_every_cell_it_is_given(splits, tmp_path, monkeypatch):
    """The table's harness (either protocol: each row's step is tested apart) on the fastest row."""
    from vaegan_tf.studies import table1, table1_report

    protocol = "authors_code"
    tiny_preset = _tiny_preset(table1.preset)
    monkeypatch.setattr(table1, "preset", tiny_preset)
    base = dataclasses.replace(
        table1.SSLStudyConfig(),
        labelled_batch_size=10,
        batch_size=20,
        label_subset="random",
        run=RunSettings(work_root=str(tmp_path), steps_per_epoch=2),
    )
    config = table1.Table1Config(
        rows=("fc",), labels=(30, 20), seeds=(0, 1), epochs={"fc": 1}, base=base, protocol=protocol
    )
    seen = []
    cells = table1.run(config, splits, after_each_cell=seen.append)
    assert [sum(c["status"] == "pending" for c in cells_) for cells_ in seen] == [3, 2, 1, 0]
    measured = [c for c in cells if c["status"] == "measured"]
    assert len(measured) == 4 and all(c["protocol"] == protocol for c in measured)
    # errors are counts over the whole splits: k / 100 validation and k / 200 test images
    for cell in measured:
        # the learning curve, one entry per epoch, ends at the error the cell reports
        assert cell["validation_error_by_epoch"] == pytest.approx([cell["validation_error"]])
        for key, count in (("validation_error", 100), ("test_error", 200)):
            assert cell[key] * count == pytest.approx(round(cell[key] * count), abs=1e-4), cell
    again = table1.run(config, splits)  # an interrupted `make table1` loads its finished cells
    assert all(c["loaded_finished_run"] for c in again) and not any(
        c["loaded_finished_run"] for c in measured
    )
    assert [c["test_error"] for c in again] == [c["test_error"] for c in cells]
    # loaded cells record where they were trained (None: at the commit that loaded them)
    assert all("trained_at_commit" in c and c["trained_at_commit"] is None for c in again)
    table1_report.write_results(tmp_path / "again", again, config, "make table1", started=0.0)
    readme = (tmp_path / "again" / "README.md").read_text()
    assert "4 of the measured cells were trained by an earlier, interrupted run" in readme
    assert "cells.csv gives the commit each was trained at (trained_at_commit" in readme

    table1_report.write_results(
        tmp_path / "table1_quick", seen[1], config, "make table1 QUICK=1", started=0.0
    )
    partial = (tmp_path / "table1_quick" / "README.md").read_text()
    assert (tmp_path / "table1_quick" / "learning_curves.png").stat().st_size > 0
    assert "![validation error after each epoch](learning_curves.png)" in partial
    with open(tmp_path / "table1_quick" / "cells.csv", newline="") as handle:
        assert "validation_error_by_epoch" not in next(csv.reader(handle))
    assert "2 of 4 cells measured" in partial and "Not complete" in partial
    assert f"| {protocol} | fc | 20 | pending |" in partial
    assert (
        "the full schedule would train for about" in partial
    )  # from the speed of the cells just trained
    # a fresh machine (no work/) keeps the cells the written table measured and trains only the
    # others (a table of three measured cells: one cell left to train)
    table1_report.write_results(
        tmp_path / "three_cells", seen[2], config, "make table1 QUICK=1", started=0.0
    )
    fresh = dataclasses.replace(
        config,
        base=dataclasses.replace(
            base, run=RunSettings(work_root=str(tmp_path / "fresh"), steps_per_epoch=2)
        ),
    )
    # gathered from a table beside it, as a run of some rows in another process writes one
    refilled = table1.run(
        fresh, splits, earlier=table1_report.earlier_cells(tmp_path / "refilled", family="three")
    )
    assert [bool(c.get("kept_from_earlier_table")) for c in refilled] == [True, True, True, False]
    assert [c["test_error"] for c in refilled[:3]] == [c["test_error"] for c in cells[:3]]
    assert not refilled[3]["loaded_finished_run"]  # trained here, not found in work/
    # --gather: the same table written from the cells found, training nothing
    with monkeypatch.context() as patched:
        patched.setattr(table1, "train_and_measure", lambda *args: pytest.fail("trained"))
        gathered = table1.run(
            fresh,
            earlier=table1_report.earlier_cells(tmp_path / "gathered", family="three"),
            train=False,
        )
    assert [c["status"] for c in gathered] == ["measured"] * 3 + ["pending"]
    assert [c["test_error"] for c in gathered[:3]] == [c["test_error"] for c in cells[:3]]
    table1_report.write_results(
        tmp_path / "refilled", refilled, fresh, "make table1 QUICK=1", started=0.0
    )
    assert (
        "3 of the measured cells were kept from this table as an earlier invocation wrote it or "
        "from results/three_cells" in (tmp_path / "refilled" / "README.md").read_text()
    )
    study = dataclasses.replace(base, num_labelled=20, epochs=1, model=tiny_preset("fc", protocol))
    assert table1.cell_identity(study) == table1.cell_identity(
        dataclasses.replace(
            study, name="elsewhere", run=RunSettings(work_root="/elsewhere", steps_per_epoch=2)
        )
    )
    assert table1.cell_identity(study) != table1.cell_identity(dataclasses.replace(study, epochs=2))

    table1_report.write_results(
        tmp_path / "table1_quick", again, config, "make table1 QUICK=1", started=0.0
    )
    table = (tmp_path / "table1_quick" / "table1.md").read_text()
    fc = next(
        line for line in table.splitlines() if line.startswith(f"| {protocol} | fc | 30 | 0 1 |")
    )
    errors = [c["test_error"] for c in again[:2]]
    assert f"{100 * np.mean(errors):.2f}% ± {100 * np.std(errors, ddof=1):.2f}" in fc
    assert f"| {100 * min(errors):.2f}% |" in fc  # the best seed
    readme = (tmp_path / "table1_quick" / "README.md").read_text()
    assert (
        "Not complete" not in readme
        and "4 of the measured cells were trained by an earlier" in readme
    )
    assert (
        "A short schedule" in readme
        and "make table1 QUICK=1" in readme
        and table.split("\n", 2)[2] in readme
    )
    with open(tmp_path / "table1_quick" / "table1.csv") as stream:
        summary = list(csv.DictReader(stream))
    assert tuple(summary[0]) == table1_report.SUMMARY_COLUMNS and len(summary) == 2
    assert [
        (line["protocol"], line["model"], line["labels"], line["seeds"]) for line in summary
    ] == [(protocol, "fc", "30", "0 1"), (protocol, "fc", "20", "0 1")]
    assert float(summary[0]["test_error_mean"]) == pytest.approx(np.mean(errors))
    assert float(summary[0]["best_test_error"]) == pytest.approx(min(errors))


def test_table1_reference_columns():
    from vaegan_tf.studies import table1_report

    cells = [
        {
            "protocol": "kingma",
            "row": "fc",
            "labels": 1000,
            "seed": 0,
            "status": "measured",
            "validation_error": 0.05,
            "test_error": 0.06,
            "epochs": 100,
            "wall_seconds": 60.0,
        },
        {"protocol": "authors_code", "row": "conv", "labels": 600, "seed": 0, "status": "pending"},
    ]
    table = table1_report.table1_markdown(cells)
    fc = next(line for line in table.splitlines() if "| fc | 1000 |" in line)
    for reference in (
        "5.10%",
        "4.70% / 5.10%",
        "5.05% (other runs 9.14, 9.58, 7.38)",
        "3.60%",
        "2.40%",
    ):
        assert reference in fc, reference
    conv = next(line for line in table.splitlines() if "| conv | 600 |" in line)
    for reference in ("pending", "6.20%", "7.00% / 7.20%", "4.94%", "2.59%"):
        assert reference in conv, reference
    assert table.index("| kingma |") < table.index("| authors_code |")
    assert "Diagnostic" not in table  # no cell measured it


def test_table1_reports_the_recalibrated_diagnostic_apart_from_the_error():
    from vaegan_tf.studies import table1_report

    cells = [
        {
            "protocol": "authors_code",
            "row": "conv+gan-bn-logits",
            "labels": 1000,
            "seed": seed,
            "status": "measured",
            "validation_error": 0.89,
            "test_error": 0.88,
            "test_error_recalibrated": recalibrated,
            "epochs": 20,
            "wall_seconds": 60.0,
        }
        for seed, recalibrated in ((0, 0.10), (1, 0.20))
    ]
    line = table1_report.summary(cells)[0]
    assert line["test_error_mean"] == pytest.approx(0.88)
    assert line["test_error_recalibrated_mean"] == pytest.approx(0.15)
    table = table1_report.table1_markdown(cells)
    assert "| 88.00% ± 0.00 |" in table
    assert "authors_code conv+gan-bn-logits 1000: 15.00%." in table


def test_full_schedule_estimate_scales_the_measured_speed():
    from vaegan_tf.studies import table1, table1_report

    config = {"base": {"run": {"steps_per_epoch": 100}, "batch_size": 100}, "protocol": "kingma"}
    cells = [
        {
            "row": "fc",
            "labels": 1000,
            "status": "measured",
            "epochs": 5,
            "wall_seconds": 500.0,
        },  # 1 s a step
        {
            "row": "conv",
            "labels": 600,
            "status": "measured",
            "epochs": 5,
            "wall_seconds": 1000.0,
        },  # 2 s
        {"row": "conv+gan", "labels": 600, "status": "pending"},
        {
            "row": "conv",
            "labels": 1000,
            "status": "measured",
            "epochs": 5,
            "wall_seconds": 1500.0,
            "loaded_finished_run": True,
        },
    ]  # reused only for the same schedule: its wall time is this schedule's
    hours = table1_report.full_schedule_hours(cells, config)
    full = table1.EPOCHS["kingma"]
    assert hours == pytest.approx(
        {
            "fc 1000": 540 * full["fc"] / 3600,
            "conv 600": 2 * 544 * full["conv"] / 3600,
            "conv 1000": 3 * 540 * full["conv"] / 3600,
        }
    )
    authors = table1_report.full_schedule_hours(cells[:1], {**config, "protocol": "authors_code"})
    assert authors["fc 1000"] == pytest.approx(
        550 * 20 / 3600
    )  # plus a pass over the labelled batches
    assert (
        table1_report.full_schedule_hours(
            cells, {**config, "base": {**config["base"], "run": {"steps_per_epoch": None}}}
        )
        == {}
    )


# Table 1's cells (default config, kingma) as `make table1` at e52c687 identified them: cells
# measured there are kept by later runs only while these stay the same (seed: identity)
KINGMA_CELL_IDENTITIES = {
    ("fc", 1000): {0: "4cb238e214291b74", 1: "c761f9501e9837c3", 2: "5eeac21b59dd1850"},
    ("fc", 600): {0: "fae1ae5df472ed65", 1: "d2e695ae3cb9f394", 2: "4abc44518561017f"},
    ("conv", 1000): {0: "fa3dd8c18f79d311", 1: "4cc0d920ce84858b", 2: "b4855744cb61159f"},
    ("conv", 600): {0: "152726e9b2e74bd8", 1: "fa198f8342e5833c", 2: "bdae9503438a08a1"},
    ("conv+gan", 1000): {0: "3387c2f3f3689c0e", 1: "02a8896d7c902c88", 2: "a4e2104828550742"},
    ("conv+gan", 600): {0: "7737b5e06eae1a00", 1: "360ddf055f7959ca", 2: "f38f366163485142"},
}
# and the model fingerprints their backups and finished weights are stored under (seed 0)
KINGMA_MODEL_SIGNATURES = {
    ("fc", 1000): "cec89e698bff3d1a",
    ("fc", 600): "dd1467257674a8c9",
    ("conv", 1000): "d9048903f88eb99b",
    ("conv", 600): "95877a589a167b49",
    ("conv+gan", 1000): "d899f813462e540b",
    ("conv+gan", 600): "bd33cfb8f8c6d975",
}


def test_kingma_cells_keep_their_identities():
    from vaegan_tf import training
    from vaegan_tf.studies import table1

    config = table1.Table1Config()
    for (row, labels), by_seed in KINGMA_CELL_IDENTITIES.items():
        for seed, identity in by_seed.items():
            study = dataclasses.replace(
                config.base,
                name="x",
                num_labelled=labels,
                seed=seed,
                epochs=config.epochs[row],
                model=table1.preset(row, config.protocol),
            )
            assert table1.cell_identity(study) == identity, (row, labels, seed)
        model = table1.for_cell(table1.preset(row, "kingma", labels), labels, 55000, seed=0)
        described = table1.model_description(model)
        assert training.signature(described) == KINGMA_MODEL_SIGNATURES[(row, labels)], (
            row,
            labels,
        )


# authors_code cells (seed 0) as the committed results/table1_authors_code* tables identify them,
# and the model fingerprints their backups are stored under (conv+gan's from the run begun at
# fbd3049): (identity, model signature)
AUTHORS_CODE_CELLS = {
    ("fc", 1000): ("4a5d287ca2a3859e", "2f6136e55fb6bb74"),
    ("fc", 600): ("9f1525a149404589", "2f6136e55fb6bb74"),
    ("conv", 1000): ("4fbf06c9d8c0c62f", "86e496eb59898f86"),
    ("conv", 600): ("8a6b04d3cc3675ce", "1d4475cd0d2cf3db"),
    ("conv+gan", 1000): ("5458f21c90acc32a", "d9780428c34b822d"),
    ("conv+gan", 600): ("2612509c056e0e00", "d9780428c34b822d"),
}


def test_authors_code_cells_keep_their_identities():
    from vaegan_tf import training
    from vaegan_tf.studies import table1

    base = dataclasses.replace(table1.Table1Config().base, label_subset="random")
    for (row, labels), (identity, signature) in AUTHORS_CODE_CELLS.items():
        model = table1.preset(row, "authors_code", labels)
        study = dataclasses.replace(
            base, name="x", num_labelled=labels, seed=0, epochs=20, model=model
        )
        assert table1.cell_identity(study) == identity, (row, labels)
        described = table1.model_description(table1.for_cell(model, labels, 55000, seed=0))
        assert training.signature(described) == signature, (row, labels)


def test_the_bn_logits_row_is_m2gan_with_batch_norm_on_the_class_logits():
    from vaegan_tf.studies import table1

    gan = table1.preset("conv+gan", "authors_code", 1000)
    bn = table1.preset("conv+gan-bn-logits", "authors_code", 1000)
    assert bn == dataclasses.replace(gan, class_logits_batch_norm=True)
    assert "conv+gan-bn-logits" not in table1.rows_of("kingma")
    assert table1.REFERENCE_ROW["conv+gan-bn-logits"] == "conv+gan"

    def class_head_layers(config):
        model = build_authors_m2(dataclasses.replace(config, hidden_units=16, latent_dim=3))
        return [type(layer).__name__ for layer in model.m2.class_head.layers]

    assert class_head_layers(gan) == ["Dense"]
    assert class_head_layers(bn) == ["Dense", "BatchNormalization"]
    # a new model description, so its cells and backups are never the conv+gan row's
    assert table1.model_description(bn) != table1.model_description(gan)


def test_the_no_sharpening_ablation_drops_s_from_the_unlabelled_loss_alone():
    from vaegan_tf.models import m2_authors
    from vaegan_tf.studies import table1

    gan = table1.preset("conv+gan", "authors_code", 1000)
    ablation = table1.preset("conv+gan-no-sharpening", "authors_code", 1000)
    assert ablation == dataclasses.replace(gan, sharpening_weight=0.0)
    assert table1.REFERENCE_ROW["conv+gan-no-sharpening"] == "conv+gan"
    assert "conv+gan-no-sharpening" not in table1.rows_of("kingma")
    assert table1.model_description(ablation) != table1.model_description(gan)
    assert "sharpening_weight" not in table1.model_description(gan)  # earlier cells' identity
    x = tf.random.uniform((4, 28, 28, 1), seed=1)
    y = tf.constant([0, 1, 2, 3])

    def generator_loss(config, labelled):
        tiny = dataclasses.replace(config, hidden_units=16, latent_dim=3)
        keras.utils.set_random_seed(0)
        model = build_authors_m2(tiny)
        keras.utils.set_random_seed(1)  # the same noise draws in both models
        flags_ = tf.fill([4, 1], float(labelled))
        generator, *_ = model.per_example_losses(x, y, flags_, training=True)
        logits = model(x, training=True)
        return generator.numpy(), m2_authors.sharpening_term(logits).numpy()

    with_s, s = generator_loss(gan, labelled=False)
    without_s, _ = generator_loss(ablation, labelled=False)
    np.testing.assert_allclose(with_s - without_s, s, rtol=1e-4, atol=1e-4)
    assert np.all(s > 0)  # -log sum q^2 > 0 unless q is one-hot
    np.testing.assert_allclose(
        generator_loss(gan, labelled=True)[0], generator_loss(ablation, labelled=True)[0], rtol=1e-6
    )

    def class_head_moves_on_an_unlabelled_step(config):
        model = build_authors_m2(dataclasses.replace(config, hidden_units=16, latent_dim=3))
        kernel = model.m2.class_head.layers[0].kernel
        before = kernel.numpy().copy()
        model.train_step((x, y, tf.zeros(4, tf.int32)))
        return not np.allclose(before, kernel.numpy())

    # q(y|x) is fed back as a constant: unlabelled images teach the class head through S alone
    assert class_head_moves_on_an_unlabelled_step(gan)
    assert not class_head_moves_on_an_unlabelled_step(ablation)


# the ordered weight shapes of the kingma models at e52c687, whose backups and finished weights must
# load
KINGMA_WEIGHT_SHAPES = {
    "fc": "0728f72c129db76a",
    "conv": "08e21135dc7a76fb",
    "conv+gan": "b00a040e42ff584d",
}


@pytest.mark.parametrize("row", sorted(KINGMA_WEIGHT_SHAPES))
def test_kingma_models_keep_their_weights_in_order(row):
    import hashlib

    from vaegan_tf.studies import table1

    config = table1.for_cell(table1.preset(row, "kingma"), 1000, 55000, seed=0)
    model = table1.builder(config)(config)
    shapes = [tuple(weight.shape) for weight in model.weights]
    assert hashlib.sha256(repr(shapes).encode()).hexdigest()[:16] == KINGMA_WEIGHT_SHAPES[row]


def test_pixel_row_is_the_gan_row_keeping_the_likelihood():
    from vaegan_tf.studies import table1

    gan, pixel = table1.preset("conv+gan", "kingma"), table1.preset("conv+gan+pixel", "kingma")
    assert (
        pixel == dataclasses.replace(gan, pixel_reconstruction=True)
        and not gan.pixel_reconstruction
    )
    assert set(table1.ROWS + table1.EXTRA_ROWS) <= {
        row for protocol in table1.PROTOCOLS for row in table1.rows_of(protocol)
    }


def test_the_conv_no_y_row_is_the_1000_label_network_read_against_the_conv_row(tmp_path):
    from vaegan_tf.studies import table1, table1_report

    no_y = table1.preset("conv-no-y", "authors_code", 600)
    assert no_y == table1.preset("conv", "authors_code", 1000)
    assert not no_y.decoder_sees_label and no_y.hidden_units == 500 and no_y.latent_dim == 50
    assert table1.preset("conv", "authors_code", 600).decoder_sees_label
    assert "conv-no-y" not in table1.rows_of("kingma")
    cell = {"protocol": "authors_code", "row": "conv-no-y", "labels": 600, "seed": 0}
    cell |= {"status": "measured", "validation_error": 0.07, "test_error": 0.065}
    cell |= {"epochs": 20, "wall_seconds": 60.0}
    (line,) = table1_report.summary([cell])
    assert line["paper_test_error"] == 0.062 and line["poster_test_error"] == 0.072
    assert "| 6.20% | 7.00% / 7.20% | 6.20% |" in table1_report.table1_markdown([cell])
    # its README says what the row is, and a bfloat16 table says it is one
    config = table1.Table1Config(
        rows=("conv-no-y",),
        labels=(600,),
        seeds=(0,),
        protocol="authors_code",
        epochs={"conv-no-y": 20},
        base=table1.SSLStudyConfig(run=RunSettings(precision="mixed_bfloat16")),
    )
    cell |= {"identity": "x", "commit": "abc"}
    table1_report.write_results(tmp_path, [cell], config, "make table1", 0.0)
    readme = (tmp_path / "README.md").read_text()
    assert "conv-no-y is not the paper's" in readme and "Precision `mixed_bfloat16`" in readme


def test_table1_says_where_each_learning_curve_is_lowest(tmp_path):
    """The schedule of `kingma` is chosen from the curves: the epoch of each seed's lowest
    validation error (the first, on ties) goes to cells.csv and the README."""
    from vaegan_tf.studies import table1, table1_report

    base = {"protocol": "kingma", "row": "fc", "labels": 1000, "status": "measured"}
    base |= {"validation_error": 0.05, "test_error": 0.05, "epochs": 4, "wall_seconds": 60.0}
    cells = [
        base | {"seed": 0, "validation_error_by_epoch": [0.3, 0.1, 0.1, 0.2]},
        base | {"seed": 1, "validation_error_by_epoch": [0.3, 0.2, 0.15, 0.05]},
        base | {"seed": 2, "status": "pending"},
    ]
    assert table1_report.lowest_validation_error(cells[0]) == {
        "lowest_validation_error": 0.1,
        "lowest_validation_epoch": 2,
    }
    assert table1_report.lowest_validation_error(cells[2]) == {}
    config = table1.Table1Config(rows=("fc",), labels=(1000,), epochs={"fc": 4})
    table1_report.write_results(tmp_path, cells, config, "make table1", 0.0)
    with open(tmp_path / "cells.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["lowest_validation_epoch"] for row in rows] == ["2", "4", ""]
    assert (
        "- kingma fc, 1000 labels: lowest validation error at epoch 2 of 4 (seed 0, 10.00%), "
        "4 of 4 (seed 1, 5.00%)" in (tmp_path / "README.md").read_text()
    )


def test_alternating_stream_runs_labelled_then_unlabelled_batches(splits):
    """The authors' loop: each epoch every labelled batch, then every unlabelled one."""
    from vaegan_tf.studies import table1

    config = table1.SSLStudyConfig(num_labelled=100, batch_size=50)
    labelled, unlabelled = table1.split_labels(splits, 100, seed=0)
    stream, steps = table1.alternating_stream(labelled, unlabelled, config)
    assert steps == 2 + 4  # 100 labelled and 200 unlabelled images in batches of 50
    flags = [bool(flag[0]) for _, _, flag in stream.take(2 * steps)]
    assert flags == ([True] * 2 + [False] * 4) * 2


def test_the_paper_protocol_is_gone():
    """It reproduced neither the paper's text nor the authors' code (issue 14)."""
    from vaegan_tf.studies import table1

    with pytest.raises(ValueError, match="m2_authors"):
        M2Config(protocol="paper")
    with pytest.raises(ValueError, match="protocol"):
        table1.preset("fc", "paper")


def test_table1_flags_are_checked_before_any_work(monkeypatch):
    """Bad --labels, --label_seeds or --rows fail in config_from_flags with a one-line UsageError;
    each protocol has its own default seeds and labelled subsets."""
    import importlib
    from pathlib import Path

    from absl import app, flags

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "experiments"))
    table1 = importlib.import_module("table1")

    def config(*argv):
        flags.FLAGS.unparse_flags()
        flags.FLAGS(["table1", *argv])
        return table1.config_from_flags()

    try:
        kingma = config()
        assert (kingma.seeds, kingma.base.label_subset, kingma.epochs["fc"]) == (
            (0, 1, 2),
            "balanced",
            100,
        )
        authors = config("--protocol=authors_code")
        assert authors.seeds == (0, 1, 2, 3, 4) and authors.base.label_subset == "random"
        assert authors.name == "table1_authors_code" and set(authors.epochs.values()) == {20}
        first = config("--protocol=authors_code", "--label_subset=first")
        assert (
            first.name == "table1_authors_code_first-labels" and first.base.label_subset == "first"
        )
        for argv, message in [
            (["--labels=1000,605"], "multiples of the 10 classes"),
            (["--labels=-100"], "multiples of the 10 classes"),
            (["--labels=1e3"], "--labels takes integers"),
            (["--label_seeds=0,x"], "--label_seeds takes integers"),
            (["--rows="], "--rows is empty"),
            (["--rows=fc,gan"], "unknown --rows"),
            (["--protocol=authors_code", "--rows=conv+gan+pixel"], "unknown --rows"),
        ]:
            with pytest.raises(app.UsageError, match=message) as raised:
                config(*argv)
            assert "\n" not in str(raised.value)
    finally:
        flags.FLAGS.unparse_flags()


def test_a_table_gathers_the_cells_of_the_partial_tables_beside_it(tmp_path):
    """Its own cells first, then those of every table of its family; other results are not read."""
    from vaegan_tf.studies import table1_report

    for name, cells in (
        ("table1_authors_code", [{"identity": "a"}]),
        ("table1_authors_code_rows-conv_labels-600", [{"identity": "b"}]),
        ("table1_authors_code_rows-conv_labels-1000", [{"identity": "c"}, {"identity": "a"}]),
        ("figure6", [{"identity": "d"}]),
    ):
        (tmp_path / name).mkdir()
        (tmp_path / name / "metrics.json").write_text(json.dumps(cells))
    gathered = table1_report.earlier_cells(tmp_path / "table1_authors_code")
    assert [(c["identity"], c["found_in"]) for c in gathered] == [
        ("a", "table1_authors_code"),
        ("c", "table1_authors_code_rows-conv_labels-1000"),
        ("a", "table1_authors_code_rows-conv_labels-1000"),
        ("b", "table1_authors_code_rows-conv_labels-600"),
    ]
    assert table1_report.earlier_cells(tmp_path / "table1") == [
        {"identity": "a", "found_in": "table1_authors_code"},
        {"identity": "c", "found_in": "table1_authors_code_rows-conv_labels-1000"},
        {"identity": "a", "found_in": "table1_authors_code_rows-conv_labels-1000"},
        {"identity": "b", "found_in": "table1_authors_code_rows-conv_labels-600"},
    ]  # a table not yet written gathers from its family alone


def test_a_run_of_other_seeds_refuses_to_drop_a_tables_finished_cells(tmp_path, experiment):
    """A table's name has its rows and labels, not its seeds: a run of seed 1 where seed 0's
    finished cell was written stops before any work, naming the seeds that keep both; pending
    cells, cells this run has, and cells of the tables beside it do not stop it."""
    from absl import app

    from vaegan_tf.studies import table1, table1_report

    out = tmp_path / "table1_rows-fc_labels-1000"
    out.mkdir()
    finished = {"row": "fc", "labels": 1000, "seed": 0, "status": "measured"}
    pending = {"row": "fc", "labels": 1000, "seed": 2, "status": "pending"}
    (out / "metrics.json").write_text(json.dumps([finished, pending]))
    beside = tmp_path / "table1_rows-fc_labels-600"
    beside.mkdir()
    (beside / "metrics.json").write_text(json.dumps([{**finished, "labels": 600}]))

    def config(seeds, labels=(1000,)):
        return table1.Table1Config(rows=("fc",), labels=labels, seeds=seeds)

    assert [c["seed"] for c in table1_report.cells_left_out(out, config((1,)))] == [0]
    assert table1_report.cells_left_out(out, config((0, 1))) == []
    assert table1_report.cells_left_out(tmp_path / "table1_new", config((1,))) == []
    entry = experiment("table1")
    with pytest.raises(app.UsageError, match=r"seed 0\): .* --label_seeds=0,1 to keep") as raised:
        entry.refuse_to_drop_finished_cells(out, config((1,)))
    assert "--rows / --labels" not in str(raised.value)
    entry.refuse_to_drop_finished_cells(out, config((0, 1)))  # keeps it: no error
    with pytest.raises(app.UsageError, match="--rows / --labels that include them"):
        entry.refuse_to_drop_finished_cells(out, config((0,), labels=(600,)))


def test_gather_reports_the_cells_under_way(tmp_path, experiment, capsys):
    """--gather marks a pending cell "training" when a backup of that very cell (its model, seed,
    steps per epoch) is in work/ under any run of the table's family, with the epochs the backup
    holds; a finished run, another protocol's backup or a quick run's is not that cell."""
    from vaegan_tf import records, training
    from vaegan_tf.studies import table1, table1_report

    work = tmp_path / "work"
    config = table1.Table1Config(
        rows=("fc",),
        labels=(1000,),
        seeds=(0, 1),
        base=dataclasses.replace(table1.SSLStudyConfig(), run=RunSettings(work_root=str(work))),
    )
    # Kingma's M2 for 1000 of the 55,000 training images (alpha from both), seed 0
    fc_1000 = table1.for_cell(table1.preset("fc", "kingma", 1000), 1000, 55_000, 0)

    def backup(name, epochs_backed_up, logged, steps=540, model=fc_1000, seed=0, finished=False):
        folder = work / name
        (folder / "backup").mkdir(parents=True)
        signature = training.signature(records.jsonable(model))
        (folder / "run.json").write_text(
            json.dumps({"seed": seed, "steps_per_epoch": steps, "model": signature, "commit": "c0"})
        )
        (folder / "backup" / "training_metadata.json").write_text(
            json.dumps({"epoch": epochs_backed_up, "batch": 0})
        )
        (folder / "backup" / "progress.json").write_text(json.dumps({"wall_seconds": 600.0}))
        (folder / "log.csv").write_text(
            "epoch,loss,val_error\n" + "".join(f"{e},1.0,{v}\n" for e, v in enumerate(logged))
        )
        if finished:
            (folder / "finished.json").write_text("{}")

    # seed 0 from a run of some rows and labels: 3 epochs backed up, a 4th logged after it
    backup("table1_rows-fc_labels-1000_fc_1000_s0", 3, [0.09, 0.07, 0.08, 0.05])
    # not seed 1's: another protocol, a quick schedule, a finished run, another seed's backup
    authors = table1.for_cell(table1.preset("fc", "authors_code", 1000), 1000, 55_000, 1)
    backup("table1_authors_code_fc_1000_s1", 2, [0.1, 0.1], steps=560, model=authors, seed=1)
    # (each like seed 1's run but for the one thing it names)
    fc_1000_s1 = table1.for_cell(table1.preset("fc", "kingma", 1000), 1000, 55_000, 1)
    backup("table1_quick_fc_1000_s1", 2, [0.1, 0.1], steps=100, model=fc_1000_s1, seed=1)
    backup("table1_labels-1000_fc_1000_s1", 2, [0.1], model=fc_1000_s1, seed=1, finished=True)
    backup("table1_x_fc_1000_s1", 2, [0.1, 0.1], model=fc_1000_s1, seed=0)
    backup("table1_x_fc_1000_s1_mixed_bfloat16", 2, [0.1, 0.1], model=fc_1000_s1, seed=1)

    pending = [
        {"protocol": "kingma", "row": "fc", "labels": 1000, "seed": seed, "status": "pending"}
        for seed in (0, 1)
    ]
    cells = table1_report.training_cells(pending, config)
    assert cells[1] == pending[1]
    under_way = cells[0]
    assert under_way["status"] == "training" and under_way["epochs_done"] == 3
    assert under_way["validation_error_by_epoch"] == [0.09, 0.07, 0.08]  # not the unsaved 4th
    assert (under_way["epochs"], under_way["wall_seconds_so_far"]) == (100, 600.0)
    assert under_way["training_in"] == "table1_rows-fc_labels-1000_fc_1000_s0"

    table1_report.write_results(tmp_path / "table1", cells, config, "make table1", 0.0)
    readme = (tmp_path / "table1" / "README.md").read_text()
    assert "| kingma | fc | 1000 | pending; training: seed 0 |" in readme
    assert (
        "- kingma fc, 1000 labels, seed 0: 3 of 100 epochs in 10 min of training; validation "
        "error after epoch 3: 8.00%, lowest 7.00% (epoch 2); "
        "run folder `table1_rows-fc_labels-1000_fc_1000_s0` of the work root, begun at commit "
        "`c0`" in readme
    )
    assert "0 of 2 cells measured, 0 min of training" in readme  # progress is no result
    assert not (tmp_path / "table1" / "learning_curves.png").exists()
    # the entry point: `make table1 ARGS='--gather --rows=fc --labels=1000'` prints and writes it
    entry = experiment("table1")
    argv = ["--gather", "--rows=fc", "--labels=1000", "--label_seeds=0,1"]
    flags.FLAGS(["table1", *argv, f"--results_root={tmp_path}", f"--work_root={work}"])
    entry.main([])
    assert "seed 0: 3 of 100 epochs" in capsys.readouterr().out
    written = (tmp_path / "table1_rows-fc_labels-1000" / "README.md").read_text()
    assert "| kingma | fc | 1000 | pending; training: seed 0 |" in written
    assert (
        "Produced by `make table1 ARGS='--rows=fc --labels=1000 --label_seeds=0,1 --gather'`"
        in written
    )
    # a log not yet written (or mid-write) costs the curve, not the report
    (work / "table1_rows-fc_labels-1000_fc_1000_s0" / "log.csv").unlink()
    (without_log,) = table1_report.training_cells(pending[:1], config)
    assert (without_log["epochs_done"], without_log["validation_error_by_epoch"]) == (3, [])
    assert "seed 0: 3 of 100 epochs in 10 min of training; run folder" in "\n".join(
        table1_report.training_lines([without_log])
    )


@pytest.mark.usefixtures("eager_steps")
def test_probe_follows_the_cells_first_steps_and_names_a_collapse(
    splits, tmp_path, monkeypatch, experiment, capsys
):
    """--probe_steps: each cell's first steps in its own batch order (the authors' labelled batches
    first), q(y|x)'s class shares of each step's batch, and the step at which one class took it."""
    from vaegan_tf import data
    from vaegan_tf.studies import table1, table1_report

    monkeypatch.setattr(table1, "preset", _tiny_preset(table1.preset))
    base = dataclasses.replace(
        table1.SSLStudyConfig(),
        batch_size=20,
        labelled_batch_size=10,
        label_subset="random",
        run=RunSettings(work_root=str(tmp_path / "work")),
    )
    config = table1.Table1Config(
        rows=("fc",), labels=(40,), seeds=(0,), protocol="authors_code", base=base
    )
    study = table1.cell_study(config, {"row": "fc", "labels": 40, "seed": 0})
    rows = table1.probe_first_steps(study, splits, 4)
    # 40 labels make two labelled batches of 20, then the unlabelled ones
    assert [r["batch"] for r in rows] == ["labelled", "labelled", "unlabelled", "unlabelled"]
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    for row in rows:
        # a share of 20 images, at least the pigeonhole 2 of 20, in a class that exists
        assert row["top_class_share"] * 20 == pytest.approx(round(row["top_class_share"] * 20))
        assert 0.1 <= row["top_class_share"] <= 1 and 0 <= row["top_class"] < 10
        assert 0.1 <= row["mean_max_q"] <= 1 and row["class_logit_spread"] >= 0
    assert not (tmp_path / "work").exists()  # a diagnostic: no backup, no run folder
    # same seed, same steps: the same batches and, to float noise, the same q
    again = table1.probe_first_steps(study, splits, 4)
    assert [r["batch"] for r in again] == [r["batch"] for r in rows]
    assert [r["mean_max_q"] for r in again] == pytest.approx(
        [r["mean_max_q"] for r in rows], abs=1e-3
    )
    # kingma's mixed batches probe the unlabelled half
    kingma = dataclasses.replace(config, protocol="kingma", rows=("fc",))
    mixed = table1.probe_first_steps(
        table1.cell_study(kingma, {"row": "fc", "labels": 40, "seed": 0}), splits, 1
    )
    assert mixed[0]["batch"] == "mixed"

    def step(n, share, top=3):
        return {
            "step": n,
            "batch": "unlabelled",
            "top_class": top,
            "top_class_share": share,
            "mean_max_q": 0.5,
            "class_logit_spread": 1.0,
        }

    collapsing = [step(1, 0.3), step(2, 0.985), step(3, 0.99), step(4, 1.0)]
    assert table1_report.probe_summary(collapsing).startswith(
        "one class (digit 3) took 99% of the batch after step 3 of 4 (unlabelled batch)"
    )
    assert table1_report.probe_summary(collapsing[:2]).startswith(
        "no collapse in 2 steps: the largest class share of a batch was 98% (step 2)"
    )

    # the entry point writes results/<table>_probe/ and trains no cell
    monkeypatch.setattr(data, "load", lambda *args, **kwargs: splits)
    entry = experiment("table1")
    argv = ["--protocol=authors_code", "--rows=fc", "--labels=100", "--label_seeds=0"]
    flags.FLAGS(["table1", *argv, "--probe_steps=3", f"--results_root={tmp_path}"])
    monkeypatch.setattr(table1, "train_and_measure", None)  # any training of a cell fails
    entry.main([])
    out = tmp_path / "table1_authors_code_rows-fc_labels-100_probe"
    readme = (out / "README.md").read_text()
    assert (
        "Produced by `make table1 ARGS='--protocol=authors_code --rows=fc --labels=100 "
        "--label_seeds=0 --probe_steps=3'` at commit" in readme
    )
    assert "- authors_code fc, 100 labels, seed 0: " in readme
    with open(out / "probe.csv", newline="") as handle:
        written = list(csv.DictReader(handle))
    assert [(w["row"], w["step"]) for w in written] == [("fc", "1"), ("fc", "2"), ("fc", "3")]
    assert (out / "probe.png").stat().st_size > 0
    assert "seed 0: " in capsys.readouterr().out
    flags.FLAGS(["table1", *argv, "--probe_steps=3", "--gather"])
    with pytest.raises(app.UsageError, match="drop --gather"):
        entry.main([])
