"""Does bfloat16 change what a model learns? One table over the studies that were run both in
float32 (the papers' precision) and under Keras' `mixed_bfloat16` (bfloat16 matmuls and
convolutions, float32 weights and losses: `--precision=mixed_bfloat16`), on several seeds each.

`make benchmark` measures what bfloat16 saves per step; this table measures what it costs. For each
study, model and measure (test error for the semi-supervised M2, held-out NLL and the evaluator's
Frechet distance for VAEs, the Frechet distance for GANs, the test bound for DRAW), both
precisions' seeds, their mean and sample sd, and the difference of the means (bfloat16 minus
float32). The verdict follows the rule of the suite's tables, that a difference inside the
seed-to-seed spread is no finding:
- "within the seed spread": |difference| is smaller than the larger of the two sample sds, or
  zero (every seed alike at both precisions is no change, not a change outside a spread of zero);
- "outside the seed spread": it is not (bfloat16 may have changed the result, for better or worse);
- "too few seeds": fewer than two seeds at either precision, so there is no spread to compare with.

"Outside the seed spread" is a flag, not yet a finding: with two or three seeds a precision the sds
are themselves rough. Beside it the table gives Welch's t-test (unequal variances; Welch 1947,
Biometrika 34(1-2)): t = (m_b - m_f) / sqrt(s_b^2 / n_b + s_f^2 / n_f) on the Welch-Satterthwaite
degrees of freedom nu = (s_b^2 / n_b + s_f^2 / n_f)^2 / ((s_b^2 / n_b)^2 / (n_b - 1) +
(s_f^2 / n_f)^2 / (n_f - 1)), and its two-sided p = 2 P(T_nu > |t|) from TFP's Student t: the
chance of a difference at least this large between the two groups of seeds if bfloat16 changed
nothing. A difference counts as bfloat16's doing only when it is outside the spread and p < 0.05.

Each study's runs are found by their folder names (`RunSettings.named`: `_seed<s>` and then
`_mixed_bfloat16` after the study's name). Studies read:
- `vae_mnist` (`make vae`): the plain VAE of Chen et al. Sec. 2.1; held-out negative ELBO,
  importance-weighted NLL and the Frechet distance of its samples;
- `hw4_vae` (`make hw4_vae`): the four VAEs of Srinivasan, Baur & Huber (2018), one seed a folder;
- `table1_authors_code` (`make table1 ARGS=--protocol=authors_code`): the authors' M2 cells, each
  folder holding several seeds (a bfloat16 table is written beside the float32 one);
- `gan` (`make gan ARGS=--preset=<name>`): one model of the GAN family a folder, `gan_<preset>`;
  the Frechet distance of its samples, and for the conditional ones the share of samples the
  evaluator reads as the digit asked for. Folders of another critic batching than the preset's
  (`gan_<preset>_<reading>_batches`) are another model and not read;
- `figure10` (`make figure10`): each DRAW of the study in its own subfolder; the test bound (nats,
  on grey images for the figure's models, binarised for the likelihood ones) and, where measured,
  the Frechet distance and conditional accuracy of its samples;
- `figure6` (`make figure6`): the conv CVAE of Sec. 4.2; held-out negative ELBO, and the Frechet
  distance and conditional accuracy of its samples;
- `figure7` (`make figure7`): the CVAE and the CVAE-GAN of Sec. 3.2, each the Frechet distance and
  conditional accuracy of its samples;
- `figure8`, `figure9` (`make figure8`, `make figure9`): the FC CVAE of Sec. 4.4; validation
  negative ELBO, and the squared error of the completed right halves (Figure 8) or the share of
  style-transferred images read as the digit asked for (Figure 9);
- `vaegan`, `dfcvae` (`make vaegan`, `make dfcvae`): the VAE-GAN and the deep-feature-consistent
  VAE beside the plain VAEs they are compared with, each the Frechet distance of its samples and
  its test reconstruction error.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import tensorflow_probability as tfp

from vaegan_tf import dtypes, records
from vaegan_tf.evaluate import REAL_IMAGES
from vaegan_tf.models import gan
from vaegan_tf.studies import report
from vaegan_tf.studies.report import seed_and_precision

PRECISIONS = dtypes.PRECISIONS  # float32 first: the documents' precision, the baseline


@dataclasses.dataclass(frozen=True)
class Observation:
    """One measure of one model from one run."""

    study: str
    model: str
    measure: str
    precision: str
    seed: int
    value: float
    folder: str  # the results folder it was read from


def _measured_runs(results_root: Path, stem: str):
    """(folder, seed, precision, metrics) of each run of the study `stem` that left metrics.json,
    found by `seed_and_precision` (smoke runs and other studies are not its runs)."""
    for folder in sorted(Path(results_root).glob(f"{stem}*")):
        named = seed_and_precision(folder.name, stem)
        if named and (folder / "metrics.json").exists():
            yield folder, *named, records.read_json(folder / "metrics.json")


def study_observations(
    results_root: Path, stem: str, measures: Callable[[dict], dict[str, dict[str, float]]]
) -> list[Observation]:
    """One Observation per (model, measure) of every run of the study `stem`, where
    `measures(metrics)` gives {model: {measure: value}} of one run's metrics.json."""
    return [
        Observation(stem, model, measure, precision, seed, value, folder.name)
        for folder, seed, precision, metrics in _measured_runs(results_root, stem)
        for model, values in measures(metrics).items()
        for measure, value in values.items()
    ]


def vae_mnist_measures(metrics: dict) -> dict[str, dict[str, float]]:
    """`make vae`: held-out negative ELBO, importance-weighted NLL (nats), Frechet distance."""
    nll = f"test NLL, k = {metrics['importance_samples']:,} (nats)"
    return {
        "VAE": {
            "test -ELBO (nats)": metrics["test_negative_elbo"],
            nll: metrics["test_nll"],
            "Frechet distance": metrics["sample_quality"]["frechet_distance"],
        }
    }


def hw4_vae_measures(metrics: dict) -> dict[str, dict[str, float]]:
    """`make hw4_vae`: test NLL (nats) and Frechet distance of each of its VAEs."""
    return {
        model: {
            "test NLL (nats)": measured["test_nll"],
            "Frechet distance": measured["sample_quality"]["frechet_distance"],
        }
        for model, measured in metrics["models"].items()
    }


def table1_authors_observations(results_root: Path) -> list[Observation]:
    """Test error of every measured authors_code cell, once per (row, labels, seed, precision)
    however many tables hold it."""
    found = {}
    for folder in sorted(Path(results_root).glob("table1_authors_code*")):
        if folder.name.endswith("_smoke") or not (folder / "metrics.json").exists():
            continue
        precision = "mixed_bfloat16" if folder.name.endswith("_mixed_bfloat16") else "float32"
        for cell in records.read_json(folder / "metrics.json"):
            if cell.get("status") != "measured":
                continue
            model = f"{cell['row']}, {cell['labels']} labels"
            key = (model, precision, cell["seed"])
            found.setdefault(
                key,
                Observation(
                    "table1_authors_code",
                    model,
                    "test error",
                    precision,
                    cell["seed"],
                    cell["test_error"],
                    folder.name,
                ),
            )
    return list(found.values())


def gan_observations(results_root: Path) -> list[Observation]:
    """Frechet distance (and conditional accuracy where measured) of every `make gan` run."""
    found = []
    for folder in sorted(Path(results_root).glob("gan_*")):
        if not (folder / "metrics.json").exists():
            continue
        for preset in gan.PRESETS:
            named = seed_and_precision(folder.name, f"gan_{preset}")
            if named:
                break
        else:
            continue
        seed, precision = named
        values = _sample_measures(records.read_json(folder / "metrics.json"))
        found += [
            Observation("gan", preset, measure, precision, seed, value, folder.name)
            for measure, value in values.items()
        ]
    return found


def _scores(scores: dict) -> dict[str, float]:
    """The Frechet distance, and the conditional accuracy where measured, of one scored model."""
    values = {"Frechet distance": scores["frechet_distance"]}
    if "conditional_accuracy" in scores:
        values["conditional accuracy"] = scores["conditional_accuracy"]
    return values


def _scored_models(metrics: dict) -> dict[str, dict[str, float]]:
    """{model: its `_scores`} of a sample-quality table of models beside the real images; nothing
    when the samples were not scored (no evaluator: the table is a sentence saying so)."""
    quality = metrics.get("sample_quality")
    if not isinstance(quality, dict):
        return {}
    return {name: _scores(q) for name, q in quality.items() if name != REAL_IMAGES}


def _sample_measures(metrics: dict) -> dict[str, float]:
    """The `_scores` of the one model of a sample-quality table, or nothing when its samples were
    not scored."""
    measured = list(_scored_models(metrics).values())
    if not measured:
        return {}
    (values,) = measured
    return values


def figure6_measures(metrics: dict) -> dict[str, dict[str, float]]:
    """`make figure6`: the conv CVAE's held-out negative ELBO and its samples' scores (one model,
    so its sample-quality block is the scores themselves)."""
    quality = metrics.get("sample_quality")
    scores = _scores(quality) if isinstance(quality, dict) else {}
    return {"conv CVAE": {"test -ELBO (nats)": metrics["test_negative_elbo"], **scores}}


def figure8_measures(metrics: dict) -> dict[str, dict[str, float]]:
    """`make figure8`: the FC CVAE given left halves; its completions' right-half squared error."""
    return {
        "FC CVAE, left half": {
            "validation -ELBO (nats)": metrics["validation_negative_elbo"],
            "completed right half, squared error": metrics["right_half_mse_cvae"],
        }
    }


def figure9_measures(metrics: dict) -> dict[str, dict[str, float]]:
    """`make figure9`: the FC CVAE given labels; how often its style transfers read as asked."""
    return {
        "FC CVAE, label": {
            "validation -ELBO (nats)": metrics["validation_negative_elbo"],
            "style transfer accuracy": metrics["style_transfer_accuracy"],
        }
    }


def models_beside_baselines_measures(metrics: dict) -> dict[str, dict[str, float]]:
    """`make vaegan`, `make dfcvae`: each model's sample scores and test reconstruction error."""
    measured = _scored_models(metrics)
    for model, error in metrics.get("test_reconstruction_mse", {}).items():
        measured.setdefault(model, {})["test reconstruction MSE"] = error
    return measured


def figure10_observations(results_root: Path) -> list[Observation]:
    """Test bound, and FD and conditional accuracy where measured, of every DRAW of `make
    figure10` runs."""
    found = []
    for folder in sorted(Path(results_root).glob("figure10*")):
        named = seed_and_precision(folder.name, "figure10")
        if not named:
            continue
        seed, precision = named
        for model_folder in sorted(path for path in folder.iterdir() if path.is_dir()):
            if not (model_folder / "metrics.json").exists():
                continue
            metrics = records.read_json(model_folder / "metrics.json")
            values = {"test bound (nats)": metrics["test_bound"]["bound"]}
            values.update(_sample_measures(metrics))
            found += [
                Observation(
                    "figure10",
                    model_folder.name,
                    measure,
                    precision,
                    seed,
                    value,
                    f"{folder.name}/{model_folder.name}",
                )
                for measure, value in values.items()
            ]
    return found


def _study(
    stem: str, measures: Callable[[dict], dict[str, dict[str, float]]]
) -> Callable[[Path], list[Observation]]:
    return lambda results_root: study_observations(results_root, stem, measures)


STUDIES: dict[str, Callable[[Path], list[Observation]]] = {
    "vae_mnist": _study("vae_mnist", vae_mnist_measures),
    "hw4_vae": _study("hw4_vae", hw4_vae_measures),
    "table1_authors_code": table1_authors_observations,
    "gan": gan_observations,
    "figure10": figure10_observations,
    "figure6": _study("figure6", figure6_measures),
    "figure7": _study("figure7", _scored_models),
    "figure8": _study("figure8", figure8_measures),
    "figure9": _study("figure9", figure9_measures),
    "vaegan": _study("vaegan", models_beside_baselines_measures),
    "dfcvae": _study("dfcvae", models_beside_baselines_measures),
}


def _sd(values) -> float | None:
    return float(np.std(values, ddof=1)) if len(values) > 1 else None


def welch_p(first: list[float], second: list[float]) -> float | None:
    """Two-sided p of Welch's t-test that two groups of seeds share one mean (module docstring);
    None when either group has fewer than two values."""
    if len(first) < 2 or len(second) < 2:
        return None
    variances = [np.var(group, ddof=1) / len(group) for group in (first, second)]
    difference = float(np.mean(second) - np.mean(first))
    if sum(variances) == 0:  # every seed equal at both precisions: any difference is exact
        return 1.0 if difference == 0 else 0.0
    t = difference / np.sqrt(sum(variances))
    dof = sum(variances) ** 2 / sum(
        v**2 / (len(group) - 1) for v, group in zip(variances, (first, second), strict=True)
    )
    student = tfp.distributions.StudentT(df=np.float64(dof), loc=np.float64(0), scale=np.float64(1))
    return float(2 * student.cdf(-abs(t)))


def compare(observations: list[Observation]) -> list[dict]:
    """One record per (study, model, measure) measured at both precisions: seeds, mean and sample
    sd at each, the difference of the means and the verdict (module docstring)."""
    groups = {}
    for seen in observations:
        groups.setdefault((seen.study, seen.model, seen.measure), []).append(seen)
    rows = []
    for (study, model, measure), group in groups.items():
        by_precision = {
            precision: sorted((o for o in group if o.precision == precision), key=lambda o: o.seed)
            for precision in PRECISIONS
        }
        if not all(by_precision.values()):
            continue  # one precision only: nothing to compare
        row = {"study": study, "model": model, "measure": measure}
        for precision, runs in by_precision.items():
            values = [o.value for o in runs]
            row[precision] = {
                "seeds": [o.seed for o in runs],
                "values": values,
                "mean": float(np.mean(values)),
                "sd": _sd(values),
                "folders": sorted({o.folder for o in runs}),
            }
        single, mixed = row["float32"], row["mixed_bfloat16"]
        row["difference"] = mixed["mean"] - single["mean"]
        row["welch_p"] = welch_p(single["values"], mixed["values"])
        if single["sd"] is None or mixed["sd"] is None:
            row["verdict"] = "too few seeds"
        else:
            spread = max(single["sd"], mixed["sd"])
            row["verdict"] = (
                "within the seed spread"
                if abs(row["difference"]) < spread or row["difference"] == 0
                else "outside the seed spread"
            )
        rows.append(row)
    return rows


def decimals(row: dict, scale: float) -> int:
    """Decimals for a row's numbers: 2 from 1 up (a nat, a percentage point, an FD), and below 1
    four significant digits of the larger mean (a squared error of 0.052 is 0.05191, not 0.05), so
    that the seed sds the verdict is taken on show too."""
    largest = max(abs(scale * row[p]["mean"]) for p in PRECISIONS)
    return 2 if largest >= 1 or largest == 0 else 3 + math.ceil(-math.log10(largest))


def _spread(entry: dict, scale: float, places: int) -> str:
    text = f"{scale * entry['mean']:.{places}f}"
    if entry["sd"] is not None:
        text += f" ± {scale * entry['sd']:.{places}f}"
    return f"{text} (seeds {' '.join(str(s) for s in entry['seeds'])})"


# fractions, shown as percentages
PERCENT_MEASURES = ("test error", "conditional accuracy", "style transfer accuracy")


def _table_row(row: dict) -> list[str]:
    percent = row["measure"] in PERCENT_MEASURES
    scale = 100 if percent else 1
    places = decimals(row, scale)
    return [
        row["study"],
        row["model"],
        row["measure"] + (" (%)" if percent else ""),
        _spread(row["float32"], scale, places),
        _spread(row["mixed_bfloat16"], scale, places),
        f"{scale * row['difference']:+.{places}f}",
        row["verdict"],
        "" if row["welch_p"] is None else f"{row['welch_p']:.3f}",
    ]


def write_table(results_root: Path, out: Path, suffix: str = "") -> Path:
    """results/precision/README.md and metrics.json from the runs of `STUDIES` found under
    `results_root`. `suffix` (a seed or precision of this table itself) has no meaning here."""
    if suffix:
        raise ValueError(
            f"the precision table joins every seed and both precisions; drop the flags that "
            f"named it {suffix!r}"
        )
    observations = [seen for read in STUDIES.values() for seen in read(results_root)]
    rows = compare(observations)
    if not rows:
        raise FileNotFoundError(
            f"no study under {results_root} was run at both precisions: run, for example, "
            "make hw4_vae ARGS='--seed=1 --precision=mixed_bfloat16' beside the float32 seeds"
        )
    table = report.markdown_table(
        [
            "study",
            "model",
            "measure",
            "float32",
            "mixed_bfloat16",
            "difference",
            "verdict",
            "Welch p",
        ],
        [_table_row(row) for row in rows],
    )
    folders = sorted({name for row in rows for p in PRECISIONS for name in row[p]["folders"]})
    counts = {
        verdict: sum(row["verdict"] == verdict for row in rows)
        for verdict in ("within the seed spread", "outside the seed spread", "too few seeds")
    }
    flagged = [
        f"{row['model']} {row['measure']}"
        for row in rows
        if row["welch_p"] is not None and row["welch_p"] < 0.05
    ]
    lines = [
        "# precision: what bfloat16 changes in what the models learn",
        "",
        "Each study run in float32 and under `--precision=mixed_bfloat16` on the seeds shown "
        "(mean ± sample sd over them; the difference is bfloat16 minus float32). A difference "
        "smaller than the larger of the two seed sds is within the seed spread: no finding. "
        "Welch p: the two-sided p of Welch's t-test between the two precisions' seeds, the "
        "chance of a difference at least this large if bfloat16 changed nothing; a difference "
        "outside the spread is bfloat16's doing only where p < 0.05 too. "
        "What bfloat16 saves per step: [results/benchmark](../benchmark/README.md).",
        "",
        *table,
        "",
        f"{counts['within the seed spread']} of {len(rows)} comparisons are within the seed "
        f"spread, {counts['outside the seed spread']} outside it, {counts['too few seeds']} "
        f"have too few seeds to tell; {len(flagged)} with Welch p < 0.05"
        + (f" ({', '.join(flagged)})." if flagged else "."),
        "",
        "## Where the numbers come from",
        "",
        report.joined_sentence("make precision_table"),
        "",
        *report.sources_table([Path(results_root) / name for name in folders], results_root),
        "",
    ]
    out.mkdir(parents=True, exist_ok=True)
    records.write_json(out / "metrics.json", rows)
    readme = out / "README.md"
    records.write_text_atomically(readme, "\n".join(lines))
    return readme
