"""make precision_table: the runs of a study at both precisions found by their folder names, the
spread over seeds, and the verdict against it, on fake results folders."""

import json
import math

import pytest
from absl import flags

from vaegan_tf import evaluate, records
from vaegan_tf.studies import precision_report
from vaegan_tf.studies.common import RunSettings


def write_hw4_vae(root, seed, precision, nll, fd):
    folder = root / RunSettings(seed=seed, precision=precision).named("hw4_vae")
    folder.mkdir(parents=True)
    models = {"vae": {"test_nll": nll, "sample_quality": {"frechet_distance": fd}}}
    (folder / "metrics.json").write_text(json.dumps({"models": models}))
    (folder / "environment.json").write_text(
        json.dumps(
            {"command": "make hw4_vae", "git_commit": "abcdef0", "epochs": 30, "cpu": "Zen 9"}
        )
    )
    (folder / "README.md").write_text("# hw4_vae")


def write_vae_mnist(root, seed, precision, elbo, nll, fd):
    folder = root / RunSettings(seed=seed, precision=precision).named("vae_mnist")
    folder.mkdir(parents=True)
    metrics = {
        "test_negative_elbo": elbo,
        "test_nll": nll,
        "importance_samples": 5000,
        "sample_quality": {"frechet_distance": fd, "evaluator": "vaevaevaevae"},
    }
    (folder / "metrics.json").write_text(json.dumps(metrics))


def write_table1(root, name, errors):
    folder = root / name
    folder.mkdir(parents=True)
    cells = [
        {
            "row": "fc",
            "labels": 1000,
            "seed": seed,
            "status": "measured",
            "test_error": error,
            "epochs": 20,
        }
        for seed, error in errors.items()
    ] + [{"row": "conv+gan", "labels": 1000, "seed": 0, "status": "pending"}]
    (folder / "metrics.json").write_text(json.dumps(cells))


def sample_quality(fd, accuracy=None):
    """A study's sample-quality block: its model (under any title) beside the real images."""
    measured = {"frechet_distance": fd, "evaluator": "gangangangan"}
    if accuracy is not None:
        measured["conditional_accuracy"] = accuracy
    real = {"frechet_distance": 0.5, "conditional_accuracy": 0.99}
    return {"sample_quality": {"DCGAN": measured, evaluate.REAL_IMAGES: real}}


def write_gan(root, name, fd, accuracy=None):
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps(sample_quality(fd, accuracy)))


def write_figure10(root, name, model, bound, fd=None, accuracy=None):
    folder = root / name / model
    folder.mkdir(parents=True)
    metrics = {"test_bound": {"bound": bound}}
    if fd is not None:
        metrics.update(sample_quality(fd, accuracy))
    (folder / "metrics.json").write_text(json.dumps(metrics))
    (folder / "environment.json").write_text(json.dumps({"git_commit": "fedcba9", "epochs": 91}))


@pytest.fixture
def results(tmp_path):
    root = tmp_path / "results"
    # NLL: bfloat16 0.5 nats worse, seeds 1 nat apart -> within; FD 30 worse, sd about 1 -> outside
    for seed, (nll, fd) in enumerate([(100.0, 20.0), (101.0, 21.0), (102.0, 22.0)]):
        write_hw4_vae(root, seed, "float32", nll, fd)
        write_hw4_vae(root, seed, "mixed_bfloat16", nll + 0.5, fd + 30.0)
    # the plain VAE: bfloat16's -ELBO 0.1 nats worse, inside its sd 0.42; seed 1 float32 only
    write_vae_mnist(root, 0, "float32", 93.2, 88.8, 70.0)
    write_vae_mnist(root, 1, "float32", 93.4, 89.0, 72.0)
    write_vae_mnist(root, 0, "mixed_bfloat16", 93.1, 88.7, 71.0)
    write_vae_mnist(root, 2, "mixed_bfloat16", 93.7, 88.9, 73.0)
    (root / "vae_mnist_smoke").mkdir()  # not read
    # float32 cells in two tables (the joined one repeats a row's own); one bfloat16 seed only
    write_table1(root, "table1_authors_code", {0: 0.08, 1: 0.09})
    write_table1(root, "table1_authors_code_rows-fc_labels-1000", {0: 0.08})
    write_table1(root, "table1_authors_code_rows-fc_labels-1000_mixed_bfloat16", {0: 0.10})
    (root / "hw4_vae_smoke").mkdir()  # another study's folder: not read
    # DCGAN: seed 0 in float32 only; FD 24, 26 (float32) against 25, 29 (bfloat16) -> within
    write_gan(root, "gan_dcgan", 24.0)
    write_gan(root, "gan_dcgan_seed1", 26.0)
    write_gan(root, "gan_dcgan_mixed_bfloat16", 25.0)
    write_gan(root, "gan_dcgan_seed1_mixed_bfloat16", 29.0)
    write_gan(root, "gan_dcgan_joint_batches_seed1", 150.0)  # another reading: not read
    write_gan(root, "gan_cdcgan", 30.0, accuracy=0.90)
    write_gan(root, "gan_cdcgan_seed2_mixed_bfloat16", 31.0, accuracy=0.95)
    # figure10: one model per subfolder; the likelihood model's samples are not scored
    write_figure10(root, "figure10", "conditional_draw", 101.0, fd=25.0, accuracy=0.98)
    write_figure10(root, "figure10_mixed_bfloat16", "conditional_draw", 102.0, 26.0, 0.97)
    write_figure10(root, "figure10_seed1_mixed_bfloat16", "draw_paper_attention", 90.0)
    write_figure10(root, "figure10_seed1", "draw_paper_attention", 91.0)
    (root / "figure10_smoke" / "draw").mkdir(parents=True)  # a smoke run: not read
    return root


def test_folder_names_give_seed_and_precision():
    assert precision_report.seed_and_precision("hw4_vae", "hw4_vae") == (0, "float32")
    assert precision_report.seed_and_precision("hw4_vae_seed2_mixed_bfloat16", "hw4_vae") == (
        2,
        "mixed_bfloat16",
    )
    assert precision_report.seed_and_precision("hw4_vae_smoke", "hw4_vae") is None
    for seed, precision in ((0, "mixed_bfloat16"), (3, "float32")):
        named = RunSettings(seed=seed, precision=precision).named("hw4_vae")
        assert precision_report.seed_and_precision(named, "hw4_vae") == (seed, precision)


def test_verdicts_against_the_seed_spread(results):
    rows = {
        (row["model"], row["measure"]): row
        for row in precision_report.compare(
            [seen for read in precision_report.STUDIES.values() for seen in read(results)]
        )
    }
    nll = rows[("vae", "test NLL (nats)")]
    assert nll["float32"]["seeds"] == [0, 1, 2] and nll["mixed_bfloat16"]["seeds"] == [0, 1, 2]
    assert nll["float32"]["mean"] == pytest.approx(101.0)
    assert nll["float32"]["sd"] == pytest.approx(1.0)
    assert nll["difference"] == pytest.approx(0.5)
    assert nll["verdict"] == "within the seed spread"
    assert rows[("vae", "Frechet distance")]["verdict"] == "outside the seed spread"
    fc = rows[("fc, 1000 labels", "test error")]
    assert fc["float32"]["seeds"] == [0, 1]  # seed 0 counted once, though two tables hold it
    assert fc["mixed_bfloat16"]["values"] == [0.10]
    assert fc["verdict"] == "too few seeds"
    assert not any("conv+gan" in model for model, _ in rows)  # pending, and float32 only
    dcgan = rows[("dcgan", "Frechet distance")]
    assert dcgan["float32"]["values"] == [24.0, 26.0]  # the joint-batches reading left out
    assert dcgan["mixed_bfloat16"]["seeds"] == [0, 1]
    assert dcgan["difference"] == pytest.approx(2.0)
    assert dcgan["verdict"] == "within the seed spread"  # |2| < sd 2.83 of bfloat16's 25, 29
    for measure in ("test bound (nats)", "Frechet distance", "conditional accuracy"):
        assert rows[("conditional_draw", measure)]["verdict"] == "too few seeds"
    bound = rows[("draw_paper_attention", "test bound (nats)")]
    assert bound["float32"]["seeds"] == [1] and bound["difference"] == pytest.approx(-1.0)
    assert ("draw_paper_attention", "Frechet distance") not in rows
    elbo = rows[("VAE", "test -ELBO (nats)")]
    assert elbo["float32"]["seeds"] == [0, 1] and elbo["mixed_bfloat16"]["seeds"] == [0, 2]
    assert elbo["difference"] == pytest.approx(0.1)
    assert elbo["verdict"] == "within the seed spread"
    assert rows[("VAE", "test NLL, k = 5,000 (nats)")]["float32"]["values"] == [88.8, 89.0]
    assert rows[("VAE", "Frechet distance")]["mixed_bfloat16"]["mean"] == pytest.approx(72.0)
    accuracy = rows[("cdcgan", "conditional accuracy")]
    assert accuracy["mixed_bfloat16"]["seeds"] == [2]
    assert accuracy["verdict"] == "too few seeds"


def test_welch_p_against_hand_computed_cases():
    # Student's t on 2 degrees of freedom has P(T > t) = 1/2 - t / (2 sqrt(2 + t^2)).
    def two_sided_p_on_two_dof(t):
        return 1 - t / math.sqrt(2 + t * t)

    # equal sizes and sds: t = 4 / sqrt(2/2 + 2/2), nu = 2
    assert precision_report.welch_p([0.0, 2.0], [4.0, 6.0]) == pytest.approx(
        two_sided_p_on_two_dof(4 / math.sqrt(2)), rel=1e-6
    )
    # unequal sizes and variances (Student's pooled test would give t = 2.08 on 3 dof here):
    # s_f^2 / n_f = 3 / 3 = 1, s_b^2 / n_b = 4 / 2 = 2, so t = 2 sqrt(3) / sqrt(3) = 2 and
    # nu = 3^2 / (1 / 2 + 4 / 1) = 2
    root3, root2 = math.sqrt(3), math.sqrt(2)
    first, second = [0.0, root3, 2 * root3], [3 * root3 - root2, 3 * root3 + root2]
    assert precision_report.welch_p(first, second) == pytest.approx(
        two_sided_p_on_two_dof(2.0), rel=1e-6
    )
    assert precision_report.welch_p(second, first) == pytest.approx(
        precision_report.welch_p(first, second)
    )
    assert precision_report.welch_p([1.0, 2.0], [1.0, 2.0]) == pytest.approx(1.0)
    assert precision_report.welch_p([1.0, 1.0], [2.0, 2.0]) == 0.0  # no spread at all
    assert precision_report.welch_p([1.0], [2.0, 3.0]) is None


def test_make_precision_table_writes_the_joined_table(experiment, results, tmp_path, capsys):
    entry = experiment("precision_table")
    flags.FLAGS(
        ["precision_table.py", f"--results_root={results}", f"--work_root={tmp_path / 'w'}"]
    )
    entry.main([])
    readme = (results / "precision" / "README.md").read_text()
    assert (
        "| hw4_vae | vae | test NLL (nats) | 101.00 ± 1.00 (seeds 0 1 2) | 101.50 ± 1.00" in readme
    )
    assert "| fc, 1000 labels | test error (%) | 8.50 ± 0.71 (seeds 0 1) | 10.00 (seeds 0) |" in (
        readme
    )
    assert "| gan | cdcgan | conditional accuracy (%) | 90.00 (seeds 0) | 95.00 (seeds 2) |" in (
        readme
    )
    assert "5 of 13 comparisons are within the seed spread, 1 outside it, 7 have too few" in readme
    # Welch's test beside each verdict: t = 0.5 / sqrt(1/3 + 1/3) on 4 dof, p = 0.573
    assert "| +0.50 | within the seed spread | 0.573 |" in readme
    assert "| +30.00 | outside the seed spread | 0.000 |" in readme
    assert "too few seeds to tell; 1 with Welch p < 0.05 (vae Frechet distance)." in readme
    assert (
        "| vae_mnist | VAE | test -ELBO (nats) | 93.30 ± 0.14 (seeds 0 1) | 93.40 ± 0.42" in readme
    )
    # a study's model folder is named by its path, linked to the folder (it has no README)
    assert "[figure10/conditional_draw](../figure10/conditional_draw/) |" in readme
    assert "`fedcba9` | 91 |" in readme
    assert "[hw4_vae_seed1_mixed_bfloat16](../hw4_vae_seed1_mixed_bfloat16/README.md)" in readme
    assert "`abcdef0`" in readme  # each source folder's provenance
    assert f"Joined by `make precision_table` at commit `{records.START_COMMIT}`" in readme
    assert "| Zen 9 |" in readme  # training minutes compare only on one CPU
    # the evaluator of a one-model study's samples, and of a table of rows beside the real images
    assert (
        "[vae_mnist_seed1](../vae_mnist_seed1/) | `n/a` | `n/a` | n/a | n/a | n/a | vaevaevaevae |"
        in (readme)
    )
    assert "[gan_dcgan](../gan_dcgan/) | `n/a` | `n/a` | n/a | n/a | n/a | gangangangan |" in readme
    assert "| 20 (per cell) |" in readme  # a table of cells: the cells' schedules
    assert len(json.loads((results / "precision" / "metrics.json").read_text())) == 13
    assert "precision" in capsys.readouterr().out


def test_no_study_at_both_precisions_names_the_fix(tmp_path):
    write_hw4_vae(tmp_path, 0, "float32", 100.0, 20.0)
    with pytest.raises(FileNotFoundError, match="--precision=mixed_bfloat16"):
        precision_report.write_table(tmp_path, tmp_path / "precision")
    with pytest.raises(ValueError, match="drop the flags"):
        precision_report.write_table(tmp_path, tmp_path / "precision", "_seed1")


def write_metrics(root, stem, seed, precision, metrics):
    folder = root / RunSettings(seed=seed, precision=precision).named(stem)
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps(metrics))


def test_the_cvae_and_vae_gan_studies_are_read_by_their_own_measures(tmp_path):
    real = {"frechet_distance": 0.5, "conditional_accuracy": 0.99}
    for seed, precision, shift in ((0, "float32", 0.0), (1, "float32", 2.0)) + (
        (0, "mixed_bfloat16", 1.0),
        (1, "mixed_bfloat16", 3.0),
    ):
        write_metrics(
            tmp_path,
            "figure6",
            seed,
            precision,
            {
                "test_negative_elbo": 93.0 + shift,
                "sample_quality": {"frechet_distance": 18.0 + shift, "conditional_accuracy": 0.9},
                "real_vs_real": real,
            },
        )
        scored = {"frechet_distance": 14.0 + shift, "conditional_accuracy": 0.99, "kid": 1.0}
        write_metrics(
            tmp_path,
            "figure7",
            seed,
            precision,
            {"sample_quality": {"CVAE-GAN": scored, evaluate.REAL_IMAGES: real}},
        )
        write_metrics(
            tmp_path,
            "figure8",
            seed,
            precision,
            {
                "validation_negative_elbo": 73.0 + shift,
                "right_half_mse_cvae": 0.05 + shift / 100,
                "right_half_mse_mean_image": 0.07,
            },
        )
        write_metrics(
            tmp_path,
            "figure9",
            seed,
            precision,
            {"validation_negative_elbo": 96.0, "style_transfer_accuracy": 0.94 + shift / 100},
        )
        write_metrics(
            tmp_path,
            "vaegan",
            seed,
            precision,
            {
                "sample_quality": {
                    "VAE-GAN": {"frechet_distance": 85.0 + shift},
                    "plain VAE": {"frechet_distance": 70.0},
                    evaluate.REAL_IMAGES: real,
                },
                "test_reconstruction_mse": {"VAE-GAN": 0.018, "plain VAE": 0.0066},
            },
        )
    # a run whose samples were not scored (no evaluator) still gives its reconstruction error
    write_metrics(
        tmp_path,
        "dfcvae",
        0,
        "float32",
        {"sample_quality": "skipped: no evaluator", "test_reconstruction_mse": {"DFC-VAE": 0.02}},
    )
    (tmp_path / "figure7_paper").mkdir()  # another study of its own: not read
    observations = [seen for read in precision_report.STUDIES.values() for seen in read(tmp_path)]
    rows = {
        (row["study"], row["model"], row["measure"]): row
        for row in precision_report.compare(observations)
    }
    # seeds 0 and 1 are 2 apart at each precision (sd 1.41); bfloat16 is 1 higher: within
    for key in (
        ("figure6", "conv CVAE", "test -ELBO (nats)"),
        ("figure6", "conv CVAE", "Frechet distance"),
        ("figure7", "CVAE-GAN", "Frechet distance"),
        ("figure8", "FC CVAE, left half", "validation -ELBO (nats)"),
        ("vaegan", "VAE-GAN", "Frechet distance"),
    ):
        assert rows[key]["difference"] == pytest.approx(1.0), key
        assert rows[key]["float32"]["seeds"] == [0, 1], key
        assert rows[key]["verdict"] == "within the seed spread", key
    squared_error = rows[("figure8", "FC CVAE, left half", "completed right half, squared error")]
    assert squared_error["difference"] == pytest.approx(0.01)
    # a measure below 1 keeps four significant digits: means 0.06 and 0.07, sd 0.014142
    assert precision_report._table_row(squared_error)[3:6] == [
        "0.06000 ± 0.01414 (seeds 0 1)",
        "0.07000 ± 0.01414 (seeds 0 1)",
        "+0.01000",
    ]
    transfer = rows[("figure9", "FC CVAE, label", "style transfer accuracy")]
    assert transfer["mixed_bfloat16"]["values"] == pytest.approx([0.95, 0.97])
    assert precision_report._table_row(transfer)[2] == "style transfer accuracy (%)"
    assert rows[("figure6", "conv CVAE", "conditional accuracy")]["difference"] == 0.0
    same = rows[("vaegan", "VAE-GAN", "test reconstruction MSE")]  # every seed 0.018 at both
    assert same["difference"] == 0.0 and same["float32"]["sd"] == 0.0
    assert same["verdict"] == "within the seed spread"  # no change, though the spread is zero
    assert not any(study == "dfcvae" for study, _, _ in rows)  # float32 only: nothing to compare
    assert [
        (seen.model, seen.measure, seen.value) for seen in observations if seen.study == "dfcvae"
    ] == [("DFC-VAE", "test reconstruction MSE", 0.02)]
