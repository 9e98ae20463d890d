"""results/figure7/: the CVAE vs CVAE-GAN table (Markdown and CSV) and README, from what the run wrote."""

from __future__ import annotations

import csv
import statistics
from pathlib import Path

from vaegan_tf import records
from vaegan_tf.evaluate import REAL_IMAGES
from vaegan_tf.studies import figure6, report

MODELS = ("CVAE", "CVAE-GAN", REAL_IMAGES)
COLLAPSE_DIVERSITY = (
    0.8  # a digit whose diversity ratio is below 0.8x the other digits' median counts as collapsed
)
COLUMNS = (
    "conditional accuracy",
    "Frechet distance",
    "KID",
    "Inception score",
    "sharpness ratio",
    "test reconstruction MSE",
)


def summary_rows(metrics: dict) -> list[list[str]]:
    rows = []
    for name in MODELS:
        q = metrics["sample_quality"][name]
        mse = metrics["test_reconstruction_mse"].get(name)
        rows.append(
            [
                name,
                f"{100 * q['conditional_accuracy']:.2f}%",
                f"{q['frechet_distance']:.3f}",
                f"{q['kid']:.4f}",
                f"{q['inception_score']:.2f}",
                f"{q['sharpness_ratio']:.3f}",
                "" if mse is None else f"{mse:.4f}",
            ]
        )
    return rows


def per_class_rows(metrics: dict) -> list[list[str]]:
    quality = metrics["sample_quality"]
    rows = []
    for digit, (cvae, gan, real) in enumerate(
        zip(*(quality[name]["per_class"] for name in MODELS), strict=False)
    ):
        rows.append(
            [
                str(digit),
                *(f"{100 * r['conditional_accuracy']:.1f}%" for r in (cvae, gan)),
                *(f"{r['frechet_distance']:.2f}" for r in (cvae, gan, real)),
                *(f"{r['diversity_ratio']:.2f}" for r in (cvae, gan, real)),
            ]
        )
    return rows


def collapse_verdict(per_class: list[dict], model: str) -> str:
    """Says, from the per-digit diversity, whether digit 2 (the paper's complaint) or any digit collapsed."""
    ratios = [row["diversity_ratio"] for row in per_class]
    collapsed = [
        d
        for d, r in enumerate(ratios)
        if r < COLLAPSE_DIVERSITY * statistics.median(ratios[:d] + ratios[d + 1 :])
    ]
    two_others = statistics.median(ratios[:2] + ratios[3:])
    verdict = (
        f"{model}: digit 2 has diversity ratio {ratios[2]:.2f} (median of the other digits {two_others:.2f}) "
        f"and per-digit Frechet distance {per_class[2]['frechet_distance']:.2f} (median of the others "
        f"{statistics.median(r['frechet_distance'] for i, r in enumerate(per_class) if i != 2):.2f}); "
    )
    if 2 in collapsed:
        return verdict + "by this measure digit 2 collapses, as the paper saw."
    if not collapsed:
        others = "no digit does"
    elif len(collapsed) == 1:
        others = f"digit {collapsed[0]} does"
    else:
        others = f"digits {', '.join(map(str, collapsed[:-1]))} and {collapsed[-1]} do"
    return verdict + f"by this measure digit 2 does not collapse, and {others}."


def reading(quality: dict) -> str:
    """One sentence from the table: where the CVAE-GAN beats the CVAE and where it does not."""
    cvae, gan, real = (quality[name] for name in MODELS)
    sharper = abs(gan["sharpness_ratio"] - 1) < abs(cvae["sharpness_ratio"] - 1)
    closer = gan["frechet_distance"] < cvae["frechet_distance"]
    labelled = gan["conditional_accuracy"] > cvae["conditional_accuracy"]
    return (
        f"**Reading:** the CVAE-GAN's samples are {'closer to' if sharper else 'farther from'} real sharpness "
        f"than the CVAE's (ratio {gan['sharpness_ratio']:.2f} vs {cvae['sharpness_ratio']:.2f}, real "
        f"{real['sharpness_ratio']:.2f}), {'closer to' if closer else 'farther from'} the test images (FD "
        f"{gan['frechet_distance']:.1f} vs {cvae['frechet_distance']:.1f}), and show the digit they were asked "
        f"for {'more' if labelled else 'less'} often ({100 * gan['conditional_accuracy']:.1f}% vs "
        f"{100 * cvae['conditional_accuracy']:.1f}%)."
    )


def write_readme(out: Path) -> Path:
    metrics, config, _ = records.read_run(out)
    cvae = metrics["cvae_training"]
    dataset = config.get("dataset", "mnist")
    cvae_command = figure6.make_command(dataset)
    cvae_origin = (
        f"loaded from `{cvae_command}`'s finished run"
        if cvae["loaded_from_finished_run"]
        else f"trained here with `{cvae_command}`'s config"
    )
    model = config["model"]
    from vaegan_tf.studies.figure7 import DEFAULT_PRESET  # the study imports this module at its top

    flags = [f"--preset={config['preset']}"] if config["preset"] != DEFAULT_PRESET else []
    flags += [f"--dataset={dataset}"] if dataset != "mnist" else []
    command = "make figure7" + (f" ARGS='{' '.join(flags)}'" if flags else "")
    title = (
        "CVAE-GAN samples of each digit, measured against the CVAE (Chen, Fang, Ju 2016, Figure 7)"
    )
    lines = [
        *figure6.dataset_lines(dataset, model["cvae"], command),
        f"CVAE-GAN preset `{config['preset']}`: KL weight {model['kl_weight']}, feature-distance weight "
        f"{model['similarity_weight']}, GAN weight {model['gan_weight']}, reconstruction term in L_D: "
        f"{model['reconstruction_in_discriminator']}; Adam lr {model['learning_rate']}, batch {config['batch_size']}.",
        f"The CVAE ({cvae['epochs']} epochs, {cvae['wall_seconds'] / 60:.1f} min of training) was {cvae_origin}.",
        "",
        "![CVAE-GAN samples](figure7.png)",
        "",
        "![same z and y](side_by_side.png)",
        "",
    ]
    quality = metrics["sample_quality"]
    if not isinstance(quality, dict):
        mse = metrics["test_reconstruction_mse"]
        lines += [
            f"Sample quality: {quality}",
            "",
            "Test reconstruction MSE (decoded from the posterior mean code): "
            + ", ".join(f"{name} {value:.4f}" for name, value in mse.items())
            + ".",
            "",
        ]
        return report.write_readme(out, title, command, lines)
    header, summary = ["images", *COLUMNS], summary_rows(metrics)
    per_class_header = [
        "digit",
        "accuracy CVAE",
        "accuracy CVAE-GAN",
        "FD CVAE",
        "FD CVAE-GAN",
        "FD real",
        "diversity CVAE",
        "diversity CVAE-GAN",
        "diversity real",
    ]
    report.write_tables(out, "table", header, summary)
    with open(out / "per_digit.csv", "w", newline="") as stream:
        csv.writer(stream).writerows([per_class_header, *per_class_rows(metrics)])
    table = report.markdown_table(header, summary)
    count = quality["CVAE"]["count"]
    lines += [
        f"{count} class-conditional samples ({count // 10} per digit), decoded by both models from the same "
        "z and y, scored by the evaluator classifier against the test images (lower FD / KID is closer to real "
        "data; sharpness ratio 1 is as sharp as real test images):",
        "",
        *table,
        "",
        *filter(None, [reading(quality), records.evaluator_sentence(quality)]),
        "",
        "Per digit: conditional accuracy; Frechet distance to that digit's test images; diversity = mean "
        "pairwise feature distance of the samples over that of the digit's test images (1 = as varied as real "
        "digits, near 0 = one image repeated):",
        "",
        *report.markdown_table(per_class_header, per_class_rows(metrics)),
        "",
        '## Digit 2 (the paper: "CVAE-GAN generates highly similar and strange images constantly")',
        "",
        f"A digit counts as collapsed when its diversity ratio is below {COLLAPSE_DIVERSITY} times the median "
        "of the other digits'.",
        "",
        *(
            f"- {collapse_verdict(quality[name]['per_class'], name)}"
            for name in ("CVAE", "CVAE-GAN")
        ),
        "",
        "## Choices the paper leaves open",
        "",
        f"- Epochs: CVAE-GAN {config['epochs']} (the authors' code ran 5-20), CVAE {cvae['epochs']} "
        "(`make figure6`); no learning-rate decay.",
        "- f_l is the discriminator's FC-500 layer before its batch norm and activation; images reach the "
        "discriminator as Bernoulli means in [0, 1]; see vaegan_tf/models/cvae_gan.py.",
        "- Updates alternate: one discriminator step, then one generator step against the updated discriminator.",
        "- Samples shown and scored are Bernoulli means.",
    ]
    return report.write_readme(out, title, command, lines)
