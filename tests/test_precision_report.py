"""make precision_table: the runs of a study at both precisions found by their folder names, the
spread over seeds, and the verdict against it, on fake results folders."""

import json

import pytest
from absl import flags

from vaegan_tf.studies import precision_report
from vaegan_tf.studies.common import RunSettings


def write_hw4_vae(root, seed, precision, nll, fd):
    folder = root / RunSettings(seed=seed, precision=precision).named("hw4_vae")
    folder.mkdir(parents=True)
    models = {"vae": {"test_nll": nll, "sample_quality": {"frechet_distance": fd}}}
    (folder / "metrics.json").write_text(json.dumps({"models": models}))
    (folder / "environment.json").write_text(
        json.dumps({"command": "make hw4_vae", "git_commit": "abcdef0", "epochs": 30})
    )


def write_table1(root, name, errors):
    folder = root / name
    folder.mkdir(parents=True)
    cells = [
        {"row": "fc", "labels": 1000, "seed": seed, "status": "measured", "test_error": error}
        for seed, error in errors.items()
    ] + [{"row": "conv+gan", "labels": 1000, "seed": 0, "status": "pending"}]
    (folder / "metrics.json").write_text(json.dumps(cells))


@pytest.fixture
def results(tmp_path):
    root = tmp_path / "results"
    # NLL: bfloat16 0.5 nats worse, seeds 1 nat apart -> within; FD 30 worse, sd about 1 -> outside
    for seed, (nll, fd) in enumerate([(100.0, 20.0), (101.0, 21.0), (102.0, 22.0)]):
        write_hw4_vae(root, seed, "float32", nll, fd)
        write_hw4_vae(root, seed, "mixed_bfloat16", nll + 0.5, fd + 30.0)
    # float32 cells in two tables (the joined one repeats a row's own); one bfloat16 seed only
    write_table1(root, "table1_authors_code", {0: 0.08, 1: 0.09})
    write_table1(root, "table1_authors_code_rows-fc_labels-1000", {0: 0.08})
    write_table1(root, "table1_authors_code_rows-fc_labels-1000_mixed_bfloat16", {0: 0.10})
    (root / "hw4_vae_smoke").mkdir()  # another study's folder: not read
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
    assert "1 of 3 comparisons are within the seed spread, 1 outside it, 1 have too few" in readme
    assert "[hw4_vae_seed1_mixed_bfloat16](../hw4_vae_seed1_mixed_bfloat16/README.md)" in readme
    assert "`abcdef0`" in readme  # each source folder's provenance
    assert len(json.loads((results / "precision" / "metrics.json").read_text())) == 3
    assert "precision" in capsys.readouterr().out


def test_no_study_at_both_precisions_names_the_fix(tmp_path):
    write_hw4_vae(tmp_path, 0, "float32", 100.0, 20.0)
    with pytest.raises(FileNotFoundError, match="--precision=mixed_bfloat16"):
        precision_report.write_table(tmp_path, tmp_path / "precision")
    with pytest.raises(ValueError, match="drop the flags"):
        precision_report.write_table(tmp_path, tmp_path / "precision", "_seed1")
