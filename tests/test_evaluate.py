import json

import keras
import numpy as np
import pytest

from vaegan_tf import evaluate, records, sample_metrics
from vaegan_tf.models.vae import VAEConfig, build_vae

TINY = VAEConfig(image_shape=(4, 4, 1), hidden_units=(8,), latent_dim=2)


@pytest.fixture(scope="module")
def vae_and_bits():
    keras.utils.set_random_seed(1)
    model = build_vae(TINY)
    bits = (np.random.default_rng(0).random((4, 4, 4, 1)) < 0.4).astype(np.float32)
    return model, bits


def test_single_importance_sample_is_the_elbo_in_expectation(vae_and_bits):
    """With k = 1 the estimate is one log weight log p(x, z) - log q(z | x), whose mean over draws
    is the ELBO the training step's terms give."""
    model, bits = vae_and_bits
    draws = 400
    log_weights = np.stack(
        [evaluate.importance_weighted_log_likelihood(model, bits, 1, seed=s) for s in range(draws)]
    )
    elbo_draws = 4000
    repeated = np.tile(bits, (elbo_draws, 1, 1, 1))
    reconstruction, kl = model.per_example_terms(repeated, training=False)
    elbo = -(reconstruction.numpy() + kl.numpy()).reshape(elbo_draws, len(bits))
    stderr = np.sqrt(log_weights.var(0) / draws + elbo.var(0) / elbo_draws)
    np.testing.assert_array_less(np.abs(log_weights.mean(0) - elbo.mean(0)), 4 * stderr + 1e-3)


def test_more_importance_samples_tighten_the_bound(vae_and_bits):
    model, bits = vae_and_bits
    single = np.mean(
        [evaluate.importance_weighted_log_likelihood(model, bits, 1, seed=s) for s in range(200)], 0
    )
    many = evaluate.importance_weighted_log_likelihood(model, bits, 500, chunk=128, seed=7)
    assert np.all(many > single)
    assert evaluate.heldout_nll(model, bits, 50, batch_size=2) == pytest.approx(
        -many.mean(), abs=0.5
    )
    with pytest.raises(ValueError):
        evaluate.importance_weighted_log_likelihood(model, bits, 0)


def test_heldout_elbo_reports_the_test_step_metrics(vae_and_bits):
    model, bits = vae_and_bits
    scores = evaluate.heldout_elbo(model, bits)
    assert set(scores) == {"loss", "reconstruction", "kl"}
    assert scores["loss"] == pytest.approx(scores["reconstruction"] + scores["kl"], rel=1e-5)


def test_binarization_is_fixed_by_its_seed(splits):
    first, again = evaluate.binarized(splits.test, 3), evaluate.binarized(splits.test, 3)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, evaluate.binarized(splits.test, 4))
    assert abs(first.mean() - splits.test.images.mean() / 255) < 0.01


@pytest.fixture(scope="module")
def untrained_evaluator():
    config = evaluate.EvaluatorConfig(feature_units=16)
    return evaluate.Evaluator(evaluate.build_classifier(config))


def test_sample_quality_of_real_against_itself_and_of_noise(untrained_evaluator, splits):
    images = splits.test.images[:100] / 255.0
    labels = splits.test.labels[:100]
    features, logits = untrained_evaluator.embed(images)
    scores = evaluate.sample_quality(untrained_evaluator, images, images, labels)
    assert scores["frechet_distance"] == pytest.approx(0.0, abs=1e-6)
    assert scores["sharpness_ratio"] == pytest.approx(1.0)
    assert scores["count"] == 100
    # conditional accuracy is the share of samples the evaluator reads as the label asked for
    assert scores["conditional_accuracy"] == np.mean(logits.argmax(1) == labels)
    predicted = logits.argmax(1)
    asked_for_what_it_reads = evaluate.sample_quality(
        untrained_evaluator, images, images, predicted
    )
    assert asked_for_what_it_reads["conditional_accuracy"] == 1.0
    # noise against the images: the samples' features against the reference's, not either alone
    noise = np.random.default_rng(1).random(images.shape)
    noise_features, noise_logits = untrained_evaluator.embed(noise)
    misread = (noise_logits.argmax(1) + 1) % 10
    against_noise = evaluate.sample_quality(untrained_evaluator, noise, images, misread)
    assert against_noise["conditional_accuracy"] == 0.0
    assert against_noise["frechet_distance"] == pytest.approx(
        sample_metrics.frechet_distance(noise_features, features), rel=1e-9
    )
    assert against_noise["frechet_distance"] > 0
    assert against_noise["inception_score"] == pytest.approx(
        sample_metrics.inception_score(noise_logits)[0], rel=1e-9
    )
    assert against_noise["sharpness_ratio"] == pytest.approx(
        sample_metrics.sharpness_ratio(noise, images), rel=1e-9
    )


def test_fingerprint_names_the_weights(untrained_evaluator, splits):
    images = splits.test.images[:20] / 255.0
    assert (
        evaluate.sample_quality(untrained_evaluator, images, images)["evaluator"]
        == untrained_evaluator.fingerprint
    )
    twin = evaluate.Evaluator(evaluate.build_classifier(evaluate.EvaluatorConfig(feature_units=16)))
    twin.classifier.set_weights(untrained_evaluator.classifier.get_weights())
    assert twin.fingerprint == untrained_evaluator.fingerprint
    weights = twin.classifier.get_weights()
    weights[0][0, 0, 0, 0] += 1e-3
    changed = evaluate.Evaluator(
        evaluate.build_classifier(evaluate.EvaluatorConfig(feature_units=16))
    )
    changed.classifier.set_weights(weights)
    assert changed.fingerprint != untrained_evaluator.fingerprint


def test_evaluator_refuses_images_outside_unit_range(untrained_evaluator):
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        untrained_evaluator.embed(-np.ones((2, 28, 28, 1)))


def test_load_evaluator_refuses_missing_weak_or_altered_classifier(
    untrained_evaluator, monkeypatch, tmp_path
):
    monkeypatch.setenv("VAEGAN_TF_EVALUATOR_DIR", str(tmp_path))
    with pytest.raises(evaluate.EvaluatorUnavailable, match="make evaluator"):
        evaluate.load_evaluator()
    untrained_evaluator.info = {
        "test_accuracy": 0.5,
        "config": evaluate.EvaluatorConfig(feature_units=16),
    }
    evaluate.save_evaluator(untrained_evaluator)
    with pytest.raises(evaluate.EvaluatorUnavailable, match="0.5000 < 0.992"):
        evaluate.load_evaluator()
    info_path = tmp_path / evaluate.INFO
    info = json.loads(info_path.read_text())
    info_path.write_text(json.dumps({**info, "test_accuracy": 0.995}))
    loaded = evaluate.load_evaluator()
    assert loaded.fingerprint == untrained_evaluator.fingerprint
    features, logits = loaded.embed(np.zeros((3, 28, 28, 1)))
    assert features.shape == (3, 16) and logits.shape == (3, 10)
    info_path.write_text(json.dumps({**info, "test_accuracy": 0.995, "fingerprint": "0" * 12}))
    with pytest.raises(evaluate.EvaluatorUnavailable, match="not the 000000000000"):
        evaluate.load_evaluator()


def test_train_evaluator_one_epoch_on_fake_data(tmp_path, splits, monkeypatch):
    monkeypatch.setenv("VAEGAN_TF_EVALUATOR_DIR", str(tmp_path / "evaluator"))
    config = evaluate.EvaluatorConfig(epochs=1, feature_units=8)
    evaluator = evaluate.train_evaluator(splits, config, work_root=str(tmp_path / "work"))
    assert evaluator.info["epochs"] == 1
    # what was saved is what loads, by its fingerprint; random images cannot be learnt, so the floor refuses it
    saved = json.loads((tmp_path / "evaluator" / evaluate.INFO).read_text())
    assert saved["fingerprint"] == evaluator.fingerprint and saved["test_accuracy"] < 0.5
    with pytest.raises(evaluate.EvaluatorUnavailable, match="< 0.992"):
        evaluate.load_evaluator()
    # the recorded test accuracy is the evaluator's own reading of the test split
    test_logits = evaluator.embed(splits.test.images / 255.0)[1]
    assert evaluator.info["test_accuracy"] == np.mean(test_logits.argmax(1) == splits.test.labels)
    # the baseline is training images scored against the test images: with a count of the whole
    # training split (300) it is all of them against all 200 test images
    baseline = evaluate.real_baseline(evaluator, splits, count=len(splits.train))
    by_hand = evaluate.sample_quality(
        evaluator, splits.train.images / 255.0, splits.test.images / 255.0, splits.train.labels
    )
    assert baseline["count"] == len(splits.train)
    for key in ("frechet_distance", "kid", "conditional_accuracy", "sharpness_ratio"):
        assert baseline[key] == pytest.approx(by_hand[key], rel=1e-6), key
    assert (
        baseline["frechet_distance"] > 0
    )  # train against test, not the test images against themselves
    out = tmp_path / "results"
    records.write_json(
        out / "metrics.json",
        {
            "test_accuracy": evaluator.info["test_accuracy"],
            "accuracy_floor": 0.992,
            "real_vs_real": baseline,
        },
    )
    records.write_json(out / "environment.json", records.environment(epochs=1, wall_seconds=2.0))
    readme = evaluate.write_readme(out).read_text()
    assert f"{baseline['frechet_distance']:.3f}" in readme and evaluator.fingerprint in readme
