"""The verdicts and READMEs of `vaegan_tf.studies.course_reports`: each conclusion of Hu (2018) and
Gaikwad (2020), which their figures only showed, read against the measured numbers (holds / does
not hold / not measured), and results/<report>/README.md with the one table over every model.

The readings of the reports' words, as numbers (each verdict's line says which was used):
- "more authentic after more epochs": the Frechet distance of the per-epoch samples falls from the
  first epoch measured to the last.
- "mimics the real data" (a VAE's reconstruction beside its input): pixel MSE under half that of
  unrelated real pairs and at least `MIMIC_AGREEMENT` of the pairs the same digit to the evaluator;
  "does not mimic" (a GAN's sample beside a real digit): pixel MSE at least 90% of unrelated real
  pairs' and a digit agreement within `CHANCE_MARGIN` of theirs (chance, about 0.1).
- "much slower": at least twice the seconds per epoch.
- "performed better", "trained better": a lower FD; "readability of the digits": a higher
  Inception-score analogue (confidently classified and varied digits).
- "failed to generate any meaningful digits": an Inception-score analogue under
  `MEANINGFUL_IS_SHARE` of real images' at every learning rate.
- "hazier" / "sharper": a lower / higher sharpness ratio (Laplacian variance against real digits),
  judged only against a GAN that draws digits (see "failed" below): noise has a high ratio too.
- "as good as": an FD at most `AS_GOOD_AS` times the other's.
- "confused on many numbers": under `CONFUSION_AGREEMENT` of reconstructions keep their digit.
A GAN of Gaikwad's is compared at its best learning rate (lowest FD) of the three he lists.
"""

from __future__ import annotations

from pathlib import Path

from vaegan_tf import records
from vaegan_tf.evaluate import REAL_IMAGES
from vaegan_tf.studies import hw4_report, report

MIMIC_AGREEMENT = 0.9
CHANCE_MARGIN = 0.1
MEANINGFUL_IS_SHARE = 0.5
AS_GOOD_AS = 1.25
CONFUSION_AGREEMENT = 0.95
TITLES = {
    "hu": "Hu (2018), Project 4: the VAE and DCGAN of Tables 1-4, measured",
    "gaikwad": "Gaikwad (2020): the dense and CNN GANs and VAEs of Tables 1-3, measured",
}


def claim(text: str, measured: str, holds: bool | None) -> dict:
    verdict = "not measured" if holds is None else ("holds" if holds else "does not hold")
    return {"claim": text, "measured": measured, "verdict": verdict}


def quality(entry: dict | None) -> dict | None:
    value = (entry or {}).get("sample_quality")
    return value if isinstance(value, dict) else None


def _fd_trend(entry: dict) -> tuple[str, bool | None]:
    rows = [row for row in entry["by_epoch"] if "frechet_distance" in row]
    if len(rows) < 2:
        return "needs the evaluator and at least two epochs", None
    first, last = rows[0], rows[-1]
    return (
        f"FD of the per-epoch samples after epoch {first['epoch']}: "
        f"{first['frechet_distance']:.2f}, after epoch {last['epoch']}: "
        f"{last['frechet_distance']:.2f}",
        last["frechet_distance"] < first["frechet_distance"],
    )


def _pairing_text(pairing: dict) -> str:
    text = f"pixel MSE {pairing['pixel_mse']:.4f}"
    if "digit_agreement" in pairing:
        text += f", same digit {pairing['digit_agreement']:.2f}"
    return text


def hu_claims(metrics: dict) -> list[dict]:
    models, unrelated = metrics["models"], metrics["unrelated_real_pairs"]
    vae, dcgan = models["vae"], models["dcgan"]
    claims = [
        claim(
            f"{entry['title']}: the samples get more authentic over the epochs ({figure})",
            *_fd_trend(entry),
        )
        for entry, figure in ((vae, "Fig. 1"), (dcgan, "Fig. 3"))
    ]
    pairs, baseline = vae["pairing"], unrelated
    holds = pairs["pixel_mse"] < 0.5 * baseline["pixel_mse"]
    if "digit_agreement" in pairs:
        holds = holds and pairs["digit_agreement"] >= MIMIC_AGREEMENT
    claims.append(
        claim(
            "VAE: with its reconstruction loss it mimics the real data (Fig. 2)",
            f"reconstructions beside their test digits: {_pairing_text(pairs)}; unrelated real "
            f"pairs: {_pairing_text(baseline)}",
            holds,
        )
    )
    pairs = dcgan["pairing"]
    holds = pairs["pixel_mse"] >= 0.9 * baseline["pixel_mse"]
    if "digit_agreement" in pairs:
        holds = holds and pairs["digit_agreement"] <= baseline["digit_agreement"] + CHANCE_MARGIN
    claims.append(
        claim(
            "GAN does not mimic the real data: its samples are random, not the digit beside them "
            "(Fig. 4)",
            f"samples beside test digits: {_pairing_text(pairs)}; unrelated real pairs: "
            f"{_pairing_text(baseline)}",
            holds,
        )
    )
    claims.append(
        claim(
            "GAN training is much slower than the VAE's (Sec. 2)",
            f"{dcgan['seconds_per_epoch']:.1f} s an epoch against the VAE's "
            f"{vae['seconds_per_epoch']:.1f} s",
            dcgan["seconds_per_epoch"] >= 2 * vae["seconds_per_epoch"],
        )
    )
    return claims


def best_rate(models: dict, key: str) -> dict | None:
    """The entry of GAN `key` at its lowest-FD learning rate (None without sample quality)."""
    runs = [e for k, e in models.items() if k.startswith(f"{key}_lr") and quality(e)]
    return min(runs, key=lambda e: quality(e)["frechet_distance"]) if runs else None


def _fd(entry: dict) -> str:
    return f"{entry['title']} {quality(entry)['frechet_distance']:.2f}"


def gaikwad_claims(metrics: dict) -> list[dict]:
    models = metrics["models"]
    dense, deep, cnn = (best_rate(models, k) for k in ("dense_gan", "dense_gan_deep", "cnn_gan"))
    dense_vae, cnn_vae = models["dense_vae"], models["cnn_vae"]
    measured = bool(dense and deep and cnn and quality(dense_vae) and quality(cnn_vae))
    real = metrics.get("real_vs_real")
    claims = []

    def add(text, measure):
        claims.append(
            claim(text, *measure()) if measured else claim(text, "needs the evaluator", None)
        )

    def vaes_better():
        pairs = ((dense_vae, dense), (dense_vae, deep), (cnn_vae, cnn))
        vae_wins = [
            quality(v)["frechet_distance"] < quality(g)["frechet_distance"] for v, g in pairs
        ]
        return (
            "FD "
            + "; ".join(f"{_fd(v)} vs {_fd(g)}" for v, g in pairs)
            + f" (the VAE nearer the test digits in {sum(vae_wins)} of {len(pairs)} pairs)",
            all(vae_wins),
        )

    def dense_failed():
        threshold = MEANINGFUL_IS_SHARE * real["inception_score"]
        scores = {
            e["title"]: quality(e)["inception_score"]
            for k, e in models.items()
            if k.startswith(("dense_gan_lr", "dense_gan_deep_lr")) and quality(e)
        }
        return (
            "Inception-score analogue, every learning rate: "
            + ", ".join(f"{title} {value:.2f}" for title, value in scores.items())
            + f"; real digits {real['inception_score']:.2f} (threshold {threshold:.2f})",
            all(value < threshold for value in scores.values()),
        )

    def cnn_better():
        return (
            f"FD at the best learning rates: {_fd(cnn)}, {_fd(dense)}, {_fd(deep)}",
            quality(cnn)["frechet_distance"]
            < min(quality(dense)["frechet_distance"], quality(deep)["frechet_distance"]),
        )

    def hazier():
        # a GAN that draws no digits ("failed" below) has a high ratio from speckle, not from sharp
        # strokes: its pair is shown but does not decide
        meaningful = MEANINGFUL_IS_SHARE * real["inception_score"]
        pairs = ((dense_vae, dense), (dense_vae, deep), (cnn_vae, cnn))
        judged = [(v, g) for v, g in pairs if quality(g)["inception_score"] >= meaningful]
        return (
            "sharpness ratio "
            + "; ".join(
                f"{v['title']} {quality(v)['sharpness_ratio']:.2f} vs {g['title']} "
                f"{quality(g)['sharpness_ratio']:.2f}"
                + ("" if (v, g) in judged else " (no digits: noise, not judged)")
                for v, g in pairs
            ),
            all(quality(v)["sharpness_ratio"] < quality(g)["sharpness_ratio"] for v, g in judged)
            if judged
            else None,
        )

    def readable():
        return (
            f"Inception-score analogue: DenseVAE {quality(dense_vae)['inception_score']:.2f}, "
            f"{cnn['title']} {quality(cnn)['inception_score']:.2f}",
            quality(dense_vae)["inception_score"] > quality(cnn)["inception_score"],
        )

    def as_good():
        return (
            f"FD {_fd(dense_vae)}, {_fd(cnn_vae)}",
            quality(dense_vae)["frechet_distance"]
            <= AS_GOOD_AS * quality(cnn_vae)["frechet_distance"],
        )

    add("The VAEs performed better than their GAN counterparts (Abstract, Sec. 5)", vaes_better)
    add(
        "DenseGAN and DenseGAN-Deep failed to generate any meaningful digits (Fig. 1)", dense_failed
    )
    add("The CNN GAN trained better than the fully connected GANs (Sec. 5)", cnn_better)
    add("VAE outputs are hazier, GAN outputs sharper (Sec. 5)", hazier)
    add("The dense VAE outperformed the CNN GAN in readability of the digits (Sec. 5)", readable)
    add("A fully connected VAE works as well as the CNN VAE (Sec. 4)", as_good)
    for entry in (dense_vae, cnn_vae):
        pairing = entry["pairing"]
        if "digit_agreement" not in pairing:
            claims.append(
                claim(f"{entry['title']} confuses digits (Fig. 3)", "needs the evaluator", None)
            )
            continue
        confusions = ", ".join(f"{a} -> {b} ({n})" for a, b, n in pairing["top_confusions"])
        claims.append(
            claim(
                f"{entry['title']} is confused on many numbers, 2s and 3s, 4s and 9s (Fig. 3)",
                f"reconstructions the evaluator gives their input's digit: "
                f"{pairing['digit_agreement']:.3f}; most frequent changes: {confusions or 'none'}",
                pairing["digit_agreement"] < CONFUSION_AGREEMENT,
            )
        )
    return claims


CLAIMS = {"hu": hu_claims, "gaikwad": gaikwad_claims}


# The README


def _number(value, digits=2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


TABLE_HEADER = [
    "model",
    "FD",
    "KID",
    "IS",
    "digits covered (effective)",
    "sharpness ratio",
    "test -ELBO (nats)",
    "test NLL (nats)",
    "parameters",
    "epochs",
    "training min",
]


def _networks(parameters: dict) -> tuple[str, str]:
    """The networks of a parameter count, generator (encoder) first: metrics.json sorts keys."""
    return ("generator", "critic") if "generator" in parameters else ("encoder", "decoder")


def table_row(entry: dict) -> list[str]:
    scores = quality(entry) or {}
    return [
        entry["title"],
        _number(scores.get("frechet_distance")),
        _number(scores.get("kid"), 4),
        _number(scores.get("inception_score")),
        f"{scores.get('digits_covered', 'n/a')} ({_number(scores.get('effective_digits'), 1)})",
        _number(scores.get("sharpness_ratio"), 3),
        _number(entry.get("test_negative_elbo")),
        _number(entry.get("test_nll")),
        " + ".join(f"{entry['parameters'][name]:,}" for name in _networks(entry["parameters"])),
        str(entry["epochs"]),
        f"{entry['wall_seconds'] / 60:.1f}",
    ]


def real_row(metrics: dict) -> list[str] | None:
    real = metrics.get("real_vs_real")
    if not real:
        return None
    return [
        REAL_IMAGES,
        _number(real["frechet_distance"]),
        _number(real["kid"], 4),
        _number(real["inception_score"]),
        f"{real['digits_covered']} ({_number(real['effective_digits'], 1)})",
        _number(real["sharpness_ratio"], 3),
        *[""] * 5,
    ]


def learning_rate_lines(metrics: dict) -> list[str]:
    """Gaikwad's three learning rates per GAN, and the one each GAN does best at."""
    models, lines = metrics["models"], []
    for key, title in (
        ("dense_gan", "DenseGAN"),
        ("dense_gan_deep", "DenseGAN-Deep"),
        ("cnn_gan", "CNNGAN"),
    ):
        runs = [e for k, e in models.items() if k.startswith(f"{key}_lr")]
        best = best_rate(models, key)
        cells = ", ".join(
            f"lr {e['learning_rate']:g}: FD {_number((quality(e) or {}).get('frechet_distance'))}"
            for e in runs
        )
        lines.append(
            f"- {title}: {cells}"
            + (f"; best at lr {best['learning_rate']:g}." if best else "; not measured.")
        )
    return lines


def pairing_table(metrics: dict) -> list[str]:
    rows = [
        [
            entry["title"],
            f"{entry['pairing']['pixel_mse']:.4f}",
            _number(entry["pairing"].get("digit_agreement"), 3),
            ", ".join(
                f"{a} -> {b} ({n})" for a, b, n in entry["pairing"].get("top_confusions", [])
            ),
        ]
        for entry in (metrics["models"][key] for key in metrics["order"])
    ]
    unrelated = metrics["unrelated_real_pairs"]
    rows.append(
        [
            "unrelated real pairs",
            f"{unrelated['pixel_mse']:.4f}",
            _number(unrelated.get("digit_agreement"), 3),
            "",
        ]
    )
    return report.markdown_table(
        [
            "beside a real test digit",
            "pixel MSE",
            "same digit (evaluator)",
            "most frequent changes",
        ],
        rows,
    )


READINGS = {
    "hu": [
        "- VAE (Tables 1-2): FC-512 elu, FC-512 tanh, heads of z = 20; decoder FC-512 tanh, elu, "
        'elu, FC-784 sigmoid. His "dropout = 0.9" is read as TF1\'s keep probability: a rate of 0.1 '
        "(the rate-0.9 reading is preset `hu_vae_dropout_as_rate`). No optimizer given: Adam 1e-3.",
        "- DCGAN (Tables 3-4): 5x5 stride-2 convolutions 64-128-256-512 compose on 28x28 only with "
        "'same' padding (14, 7, 4, 2); the generator keeps every listed size (1x1x512, 3x3x256, "
        "7x7x128, 14x14x64, 28x28x1) and stride 2, with 3x3 'valid' kernels for 1 -> 3 and 3 -> 7, "
        "which no 5x5 stride-2 transposed convolution makes. Non-saturating generator loss (his "
        "eq. 2); z = 100, Adam 2e-4 with beta1 0.5, N(0, 0.02) weights (Radford et al.).",
        "- No schedule given: batch 128, 30 VAE epochs, 20 DCGAN epochs.",
    ],
    "gaikwad": [
        "- Batch norm and ReLU after every hidden layer of every network (the discriminator's "
        "first too), not after the outputs: tanh out of the generators, a logit out of the "
        "discriminators, linear heads and Bernoulli logits in the VAEs. Adam, batch 128, 50 epochs "
        "(Table 3); every GAN at each of his three learning rates, the VAEs at 1e-4.",
        "- Noise: Table 1 (DenseGAN z = 10, DenseGAN-Deep z = 392) over the text (392 on "
        "DenseGAN, 10 on the others): presets `gaikwad_dense_gan_text`, "
        "`gaikwad_dense_gan_deep_text`.",
        "- VAE latents: Table 2 (DenseVAE z = 4, CNNVAE z = 10) over the text's 2 and Table 3's "
        "10: presets `gaikwad_dense_vae_text`, `gaikwad_dense_vae_table3`, "
        "`gaikwad_cnn_vae_text`.",
        "- CNNVAE decoder: Table 2's last deconvolution at stride 2 would make 56x56 images; read "
        "at stride 1 (Table 3: CNN outputs 7, 14, 28). The reading that drops the 16-filter row "
        "and mirrors the CNNGAN generator is preset `gaikwad_cnn_vae_gan_mirror`. The encoder's "
        '"Dense(1)" is read as the two Gaussian heads.',
        "- His released code swapped the discriminator's real and fake targets and never ran its "
        "VAE; these are the report's models with the suite's GAN and VAE losses.",
    ],
}


def write_readme(out: Path, report_name: str) -> Path:
    """results/<report>/README.md from what the run recorded."""
    metrics, config, _ = records.read_run(out)
    order = metrics.get("order", list(metrics["models"]))
    rows = [table_row(metrics["models"][key]) for key in order]
    if real_row(metrics):
        rows.append(real_row(metrics))
    scored = {k: quality(e) for k, e in metrics["models"].items() if quality(e)}
    count = next(iter(scored.values()))["count"] if scored else None
    body = [
        (
            f"{count:,} samples per model from shared z, scored against the test images by the "
            "evaluator classifier; real training images beside them. "
            + records.evaluator_sentence(scored)
        )
        if count
        else f"Sample quality: {metrics.get('sample_quality')}",
        "",
        *report.markdown_table(TABLE_HEADER, rows),
        "",
        "Parameters: generator + discriminator, or encoder + decoder. Digits covered: digits with "
        "at least 2% of the samples (the evaluator's argmax), effective digits exp(entropy of "
        "the shares). Likelihoods: dynamically binarized training, one fixed binarization of the "
        f"test images, k = {config['importance_samples']} importance samples.",
        "",
        f"One seed ({config['seed']}) per model: the conclusions below compare single runs, with "
        "no seed-to-seed spread behind them.",
        "",
    ]
    if report_name == "gaikwad":
        body += ["## His three learning rates", "", *learning_rate_lines(metrics), ""]
    body += [
        "## Real digits beside what the models make of them",
        "",
        *pairing_table(metrics),
        "",
        "## The report's conclusions",
        "",
        *hw4_report.claims_table(metrics["claims"]),
        "",
        "## Readings of what the report leaves open or states two ways",
        "",
        *READINGS[report_name],
        "",
        "## Figures",
        "",
        ", ".join(f"`{path.name}`" for path in sorted(Path(out).glob("*.png"))),
        *cells_section(records.read_json(out / "environment.json"), metrics),
    ]
    return report.write_readme(out, TITLES[report_name], f"make {report_name}", body)


def trained_at(cell: dict) -> str:
    """The commit(s) a cell was trained at: a run resumed part way at another commit names both,
    with their epochs; a cell loaded finished names the commit that trained it."""
    start, end = cell.get("resumed_from_commit"), cell.get("git_commit")
    epoch = cell.get("resumed_from_epoch")
    if start and end and start != end and epoch and not cell.get("reused_finished"):
        last = cell.get("epochs", "")
        return f"`{start[:7]}` (epochs 1-{epoch}), `{end[:7]}` ({epoch + 1}-{last})"
    return f"`{str(start or end)[:7]}`"


def cells_section(env: dict, metrics: dict) -> list[str]:
    """Where each model was trained and measured: its cell (`models/<key>/`) may come from another
    process, session or machine than the join that wrote the table. Nothing for a run recorded
    before cells existed."""
    cells = env.get("models")
    if not cells:
        return []
    rows = []
    for key in metrics.get("order", list(cells)):
        cell = cells[key]
        where = (cell.get("distribution") or {}).get("strategy", "n/a")
        rows.append(
            [
                f"[{metrics['models'][key]['title']}](models/{key}/)",
                trained_at(cell),
                f"`{str(cell.get('git_commit'))[:7]}`",
                cell.get("cpu") or "n/a",
                where,
                f"{cell['wall_seconds'] / 60:.1f}" if cell.get("wall_seconds") else "n/a",
                "yes" if cell.get("reused_finished") else "no",
            ]
        )
    return [
        "",
        "## Where each model was trained and measured",
        "",
        "Each model is a cell of its own (`models/<key>/`: its metrics, training log, drawn "
        "samples and environment), trained and measured once, maybe by another process, session "
        "or machine than the one that joined this table; the table and verdicts read the cells.",
        "",
        *report.markdown_table(
            [
                "model",
                "trained at",
                "measured at",
                "CPU",
                "strategy",
                "training min",
                "weights loaded from work/",
            ],
            rows,
        ),
    ]


def write_table(results_root: Path, out: Path, suffix: str = "") -> Path:
    """results/course_reports/README.md: the one table over every model of both reports, beside
    real-vs-real, and each report's conclusions with their verdicts, joined from
    results/hu<suffix>/ and results/gaikwad<suffix>/ (either may be missing, not both)."""
    found = {
        name: Path(results_root) / f"{name}{suffix}"
        for name in TITLES
        if (Path(results_root) / f"{name}{suffix}" / "metrics.json").exists()
    }
    if not found:
        raise FileNotFoundError(
            f"no course-report results under {results_root}: run make hu or make gaikwad first"
        )
    runs = {name: records.read_json(folder / "metrics.json") for name, folder in found.items()}
    fingerprints = {
        name: records.evaluator_fingerprints(
            {key: quality(entry) for key, entry in metrics["models"].items()}
        )
        for name, metrics in runs.items()
    }
    if len({fingerprint for found in fingerprints.values() for fingerprint in found}) > 1:
        raise ValueError(
            f"the reports were scored by different evaluators ({fingerprints}): their FD and KID "
            "do not compare; re-run the older one with the committed evaluator"
        )
    header = ["report", *TABLE_HEADER]
    rows, real = [], None
    for name, metrics in runs.items():
        author = TITLES[name].split(" (")[0]
        order = metrics.get("order", list(metrics["models"]))
        rows += [[author, *table_row(metrics["models"][key])] for key in order]
        real = real or real_row(metrics)
    if real:
        rows.append(["", *real])
    claims = [{"report": name, **c} for name, m in runs.items() for c in m["claims"]]
    lines = [
        "# course_reports: every model of Hu (2018) and Gaikwad (2020), measured in one table",
        "",
        report.joined_sentence("make course_table"),
        "",
        *report.sources_table(list(found.values())),
        "",
        "Missing reports have not been run. Each model's samples are scored against the test "
        "images by the same evaluator classifier; each report ran one seed, so a difference "
        "between two rows is one pair of runs, not a finding.",
        "",
        *report.markdown_table(header, rows),
        "",
        "Parameters: generator + discriminator, or encoder + decoder. Digits covered: digits with "
        "at least 2% of the samples, effective digits exp(entropy of the shares).",
        "",
        "## The reports' conclusions",
    ]
    for name, metrics in runs.items():
        lines += [
            "",
            f"### {TITLES[name].split(':')[0]}",
            "",
            *hw4_report.claims_table(metrics["claims"]),
        ]
    records.write_json(
        Path(out) / "table.json",
        {"reports": sorted(found), "claims": claims},
    )
    path = Path(out) / "README.md"
    path.write_text("\n".join(lines) + "\n")
    return path
