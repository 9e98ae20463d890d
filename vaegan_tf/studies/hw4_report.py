"""The figures, claims and READMEs of `vaegan_tf.studies.hw4`: each claim of Srinivasan, Baur &
Huber (2018) that its figures only showed, read against the measured numbers (holds / does not
hold), and the one table over every model of the report (`make hw4_table`,
results/hw4/README.md)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from vaegan_tf import records  # noqa: E402
from vaegan_tf.evaluate import REAL_IMAGES
from vaegan_tf.studies import report  # noqa: E402

GROUP_TITLES = {
    "vae": "the VAEs (Sec. 3.1.2, Figs. 3-6)",
    "gan": "GAN and DCGAN (Figs. 7-9)",
    "cgan": "CGAN and CDCGAN (Fig. 10)",
    "wgan": "WGAN with clipping and with gradient penalty (Figs. 11-12)",
}
BN_TOLERANCE = 1.0  # nats above the plain VAE's last validation loss that count as reaching it
# "Brighter" is read off a figure by eye: a mean pixel at least this much higher (relative) is a
# difference one can see; a smaller one is not a finding of a one-seed run.
BRIGHTER_BY = 0.05


# Figures


def _save(fig, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path


def vae_loss_figure(logs: dict, titles: dict, path: Path) -> Path:
    """Left: negative ELBO per epoch with and without batch norm on the same axes (train solid,
    validation dashed). Right: every VAE's validation curve."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    for key, colour in (("vae", "C0"), ("vae_no_bn", "C3")):
        log = logs[key]
        left.plot(log["epoch"], log["loss"], "-", color=colour, label=f"{titles[key]}, train")
        left.plot(
            log["epoch"], log["val_loss"], "--", color=colour, label=f"{titles[key]}, validation"
        )
    for key, log in logs.items():
        right.plot(log["epoch"], log["val_loss"], marker=".", label=titles[key])
    for axis, title in ((left, "Batch norm or not"), (right, "Validation, every VAE")):
        axis.set_xlabel("epoch")
        axis.set_ylabel("negative ELBO (nats)")
        axis.set_title(title)
        axis.legend()
    return _save(fig, path)


def fd_by_epoch_figure(rows_by_title: dict, path: Path, real: float | None = None) -> Path:
    """The Frechet distance of each model's per-epoch samples, log scale."""
    fig, axis = plt.subplots(figsize=(6, 4), layout="constrained")
    for title, rows in rows_by_title.items():
        points = [
            (row["epoch"], row["frechet_distance"]) for row in rows if "frechet_distance" in row
        ]
        if points:
            axis.plot(*zip(*points, strict=True), marker=".", label=title)
    if real is not None:
        axis.axhline(real, color="grey", linestyle=":", label=REAL_IMAGES)
    axis.set_yscale("log")
    axis.set_xlabel("epoch")
    axis.set_ylabel("Frechet distance (evaluator features)")
    axis.legend()
    return _save(fig, path)


def gradient_histograms(gradients: dict, path: Path, title: str) -> Path:
    """One row per layer, generator left and critic right: histograms of log10 |gradient| per
    kernel."""
    networks = list(gradients)
    rows = max(len(layers) for layers in gradients.values())
    logs = {
        network: [np.log10(np.abs(values) + 1e-30) for values in layers.values()]
        for network, layers in gradients.items()
    }
    everything = np.concatenate([values for network in logs.values() for values in network])
    # one x range for every panel, so layers compare by position; below 1e-12 counts as zero
    span = (max(np.floor(everything.min()), -12.0), max(np.ceil(everything.max()), -11.0))
    fig, axes = plt.subplots(
        rows,
        len(networks),
        figsize=(5 * len(networks), 1.8 * rows),
        squeeze=False,
        layout="constrained",
    )
    for column, network in enumerate(networks):
        for row in range(rows):
            axis = axes[row, column]
            layers = list(gradients[network].items())
            if row >= len(layers):
                axis.set_visible(False)
                continue
            name = layers[row][0]
            values = np.clip(logs[network][row], *span)
            axis.hist(values, bins=60, range=span, color="C0" if column else "C2")
            axis.set_title(f"{network} {name}", fontsize=9)
        axes[-1, column].set_xlabel("log10 |gradient|")
    fig.suptitle(title)
    return _save(fig, path)


def digit_shares_figure(metrics: dict, path: Path) -> Path | None:
    """The share of each digit among each model's samples (the evaluator's argmax), real images
    last."""
    shares = {
        entry["title"]: entry["sample_quality"]["digit_shares"]
        for entry in metrics["models"].values()
        if isinstance(entry.get("sample_quality"), dict)
    }
    if not shares or "real_vs_real" not in metrics:
        return None
    shares[REAL_IMAGES] = metrics["real_vs_real"]["digit_shares"]
    fig, axis = plt.subplots(figsize=(10, 4), layout="constrained")
    width = 0.8 / len(shares)
    for i, (title, values) in enumerate(shares.items()):
        axis.bar(
            np.arange(10) + (i - (len(shares) - 1) / 2) * width,
            values,
            width,
            label=title,
            color="grey" if title == REAL_IMAGES else None,
        )
    axis.set_xticks(range(10))
    axis.set_xlabel("digit (evaluator's argmax)")
    axis.set_ylabel("share of samples")
    axis.legend(fontsize=8)
    return _save(fig, path)


# Claims: each a dict with the report's words, what was measured, and the verdict.


def _claim(text: str, measured: str, holds: bool | None) -> dict:
    verdict = "not measured" if holds is None else ("holds" if holds else "does not hold")
    return {"claim": text, "measured": measured, "verdict": verdict}


def _quality(entry: dict) -> dict | None:
    quality = entry.get("sample_quality")
    return quality if isinstance(quality, dict) else None


def _fd_at(entry: dict, epoch: int) -> float | None:
    for row in entry.get("by_epoch", []):
        if row["epoch"] == epoch and "frechet_distance" in row:
            return row["frechet_distance"]
    return None


def first_epoch_within(losses, target: float) -> int | None:
    """The first (1-based) epoch whose loss is at most `target`, or None."""
    for epoch, loss in enumerate(losses, start=1):
        if loss <= target:
            return epoch
    return None


def vae_claims(metrics: dict) -> list[dict]:
    models = metrics["models"]
    bn, plain = models["vae"]["val_loss_by_epoch"], models["vae_no_bn"]["val_loss_by_epoch"]
    target = plain[-1] + BN_TOLERANCE
    bn_epoch, plain_epoch = first_epoch_within(bn, target), first_epoch_within(plain, target)
    claims = [
        _claim(
            "Batch norm: the BN VAE's validation loss reaches the plain VAE's converged value in "
            "2 epochs "
            "instead of 15 (Sec. 4.1.1)",
            f"within {BN_TOLERANCE:g} nat of the plain VAE's last validation loss "
            f"({plain[-1]:.2f}): BN VAE "
            + (f"at epoch {bn_epoch}" if bn_epoch else f"not in {len(bn)} epochs")
            + f", plain VAE at epoch {plain_epoch}",
            bn_epoch is not None and bn_epoch * 2 <= plain_epoch,
        )
    ]
    fc, conv = models["vae"], models["conv_vae"]
    gap = conv["test_negative_elbo"] - fc["test_negative_elbo"]
    fc_q, conv_q = _quality(fc), _quality(conv)
    measured = f"test negative ELBO conv - FC = {gap:+.2f} nats"
    close = abs(gap) < 2.0
    if fc_q and conv_q:
        ratio = conv_q["frechet_distance"] / fc_q["frechet_distance"]
        measured += f"; FD conv / FC = {ratio:.2f}"
        close = close and 0.8 <= ratio <= 1.25
    claims.append(
        _claim(
            "The conv VAE is not significantly different from the FC VAE (Sec. 4.1.1; "
            "read: ELBO within 2 nats and FD within 25%)",
            measured,
            close,
        )
    )
    cvae = models["cvae"]
    claims.append(
        _claim(
            "The CVAE achieves a lower loss (Fig. 4)",
            f"test negative ELBO: CVAE -log p(x|y) bound {cvae['test_negative_elbo']:.2f}, VAE "
            "-log p(x) bound "
            f"{fc['test_negative_elbo']:.2f} nats",
            cvae["test_negative_elbo"] < fc["test_negative_elbo"],
        )
    )
    if "mean_pixel" in cvae:
        ratio = cvae["mean_pixel"] / fc["mean_pixel"]
        claims.append(
            _claim(
                "CVAE samples are brighter (Fig. 5; read: mean pixel at least "
                f"{BRIGHTER_BY:.0%} higher)",
                f"mean pixel of {_quality(cvae)['count']:,} samples: CVAE "
                f"{cvae['mean_pixel']:.3f}, VAE "
                f"{fc['mean_pixel']:.3f} ({ratio - 1:+.1%})",
                ratio >= 1 + BRIGHTER_BY,
            )
        )
    return claims


def real_sharpness(metrics: dict) -> float:
    """Real training images' sharpness ratio to the test images (about 1), what a model's samples
    are read against: a ratio above it counts speckle as detail (results/vaegan_prior), so
    "sharper" is read as nearer to it."""
    return (metrics.get("real_vs_real") or {}).get("sharpness_ratio", 1.0)


def nearer_real_sharpness(a: dict, b: dict, real: float) -> bool:
    """Whether samples `a` are nearer real digits' sharpness ratio than samples `b`."""
    return abs(a["sharpness_ratio"] - real) < abs(b["sharpness_ratio"] - real)


def gan_claims(metrics: dict) -> list[dict]:
    models = metrics["models"]
    gan, dcgan = models["gan"], models["dcgan"]
    claims = []
    gan_q, dcgan_q = _quality(gan), _quality(dcgan)
    if gan_q and dcgan_q:
        real = real_sharpness(metrics)
        claims.append(
            _claim(
                "DCGAN images are much sharper than the GAN's (Sec. 4.2.1, Fig. 7)",
                f"FD DCGAN {dcgan_q['frechet_distance']:.2f} vs GAN "
                f"{gan_q['frechet_distance']:.2f} (after "
                f"{dcgan['epochs']} and {gan['epochs']} epochs); sharpness ratio to real digits "
                f"DCGAN {dcgan_q['sharpness_ratio']:.2f}, GAN {gan_q['sharpness_ratio']:.2f}, "
                f"real images {real:.2f} (read: holds when the DCGAN's FD is lower and its ratio "
                "nearer real images'; a ratio above theirs counts speckle as detail)",
                dcgan_q["frechet_distance"] < gan_q["frechet_distance"]
                and nearer_real_sharpness(dcgan_q, gan_q, real),
            )
        )
    late, early = _fd_at(gan, 150), _fd_at(dcgan, 20)
    claims.append(
        _claim(
            "The DCGAN at around epoch 20 is as good as the GAN at 150 (Sec. 4.2.1)",
            "per-epoch FD, DCGAN epoch 20: "
            + (f"{early:.2f}" if early is not None else "not reached")
            + ", GAN epoch 150: "
            + (f"{late:.2f}" if late is not None else "not reached"),
            None if late is None or early is None else early <= late,
        )
    )
    claims.append(
        _claim(
            "The DCGAN took much longer to train (Sec. 4.2.1)",
            f"{dcgan['seconds_per_epoch']:.0f} s an epoch against the GAN's "
            f"{gan['seconds_per_epoch']:.0f} s",
            dcgan["seconds_per_epoch"] > 2 * gan["seconds_per_epoch"],
        )
    )
    for entry in (gan, dcgan):
        losses = entry.get("generator_loss_by_epoch")
        if losses:
            claims.append(
                _claim(
                    f"{entry['title']}: the generator's loss is high at first and falls over "
                    "training (Fig. 8)",
                    f"generator loss epoch 1: {losses[0]:.3f}, highest {max(losses):.3f} (epoch "
                    f"{int(np.argmax(losses)) + 1}), last: {losses[-1]:.3f}",
                    losses[-1] < losses[0],
                )
            )
    return claims


def cgan_claims(metrics: dict) -> list[dict]:
    claims = []
    for entry in metrics["models"].values():
        quality = _quality(entry)
        if quality:
            claims.append(
                _claim(
                    f"{entry['title']} draws the digit asked for (Fig. 10, controlled generation; "
                    "read: 90% "
                    "of samples classified as their label)",
                    f"conditional accuracy {quality['conditional_accuracy']:.4f}; digits covered "
                    f"{quality['digits_covered']}",
                    quality["conditional_accuracy"] >= 0.9,
                )
            )
    return claims


def wasserstein_estimate(entry: dict) -> float | None:
    """-(critic real term + fake term) of the last epoch: the critic's estimate of W(P_r, P_g)."""
    real, fake = entry.get("critic_real_by_epoch"), entry.get("critic_fake_by_epoch")
    return None if not real else -(real[-1] + fake[-1])


def wgan_claims(metrics: dict) -> list[dict]:
    models = metrics["models"]
    claims = []
    for entry in models.values():
        quality = _quality(entry)
        if quality:
            claims.append(
                _claim(
                    f"{entry['title']}: mode collapse, very similar samples (Fig. 12; read: a digit "
                    "uncovered or fewer than 7 effective digits)",
                    f"digits covered {quality['digits_covered']} of 10, effective digits "
                    f"{quality['effective_digits']:.1f}, largest share "
                    f"{quality['largest_share']:.2f}",
                    quality["digits_covered"] < 10 or quality["effective_digits"] < 7,
                )
            )
    for plain, with_bn in (("wgan_clip", "wgan_clip_bn"), ("wgan_gp", "wgan_gp_bn")):
        a, b = models[plain], models[with_bn]
        qa, qb = _quality(a), _quality(b)
        wa, wb = wasserstein_estimate(a), wasserstein_estimate(b)
        measured = f"critic's W estimate in the last epoch: {wb:.4g} with BN, {wa:.4g} without"
        holds = wb < wa
        if qa and qb:
            measured += (
                f"; FD {qb['frechet_distance']:.2f} with BN, {qa['frechet_distance']:.2f} without"
            )
            holds = holds and qb["frechet_distance"] > qa["frechet_distance"]
        claims.append(
            _claim(
                f"{b['title']}: batch norm in the critic stops it from learning (Sec. 4.2.2; "
                "read: a smaller W estimate and a higher FD with BN)",
                measured,
                holds,
            )
        )
    for entry in models.values():
        medians = entry.get("gradient_median_abs")
        if medians:
            g, c = (
                np.median(list(medians["generator"].values())),
                np.median(list(medians["critic"].values())),
            )
            claims.append(
                _claim(
                    f"{entry['title']}: most generator gradients are very small (Fig. 11(b); read: "
                    "the generator's median under a tenth of the critic's)",
                    f"median |gradient| over the layers' medians: generator {g:.2e}, critic "
                    f"{c:.2e}",
                    g < c / 10,
                )
            )
    return claims


CLAIMS = {"vae": vae_claims, "gan": gan_claims, "cgan": cgan_claims, "wgan": wgan_claims}


# READMEs


def _number(value, digits=2):
    return "n/a" if value is None else f"{value:.{digits}f}"


def table_rows(metrics: dict) -> list[str]:
    """One line per model: FD, KID, IS, coverage, conditional accuracy, ELBO, NLL, epochs,
    minutes."""
    lines = []
    for key in metrics.get("order", metrics["models"]):
        entry = metrics["models"][key]
        quality = _quality(entry) or {}
        conditional = quality.get("conditional_accuracy") if "per_class" in entry else None
        lines.append(
            f"| {entry['title']} | {_number(quality.get('frechet_distance'))} | "
            f"{_number(quality.get('kid'), 4)} | {_number(quality.get('inception_score'))} | "
            f"{quality.get('digits_covered', 'n/a')} "
            f"({_number(quality.get('effective_digits'), 1)}) | "
            f"{_number(conditional, 4)} | {_number(entry.get('test_negative_elbo'))} | "
            f"{_number(entry.get('test_nll'))} | {entry['epochs']} | "
            f"{entry['wall_seconds'] / 60:.1f} |"
        )
    return lines


TABLE_HEADER = [
    "| model | FD | KID | IS | digits covered (effective) | conditional accuracy | test -ELBO "
    "(nats) | "
    "test NLL (nats) | epochs | training min |",
    "|---|---|---|---|---|---|---|---|---|---|",
]


def real_row(metrics: dict) -> str | None:
    real = metrics.get("real_vs_real")
    if not real:
        return None
    return (
        f"| real training images | {real['frechet_distance']:.2f} | {real['kid']:.4f} | "
        f"{real['inception_score']:.2f} | {real['digits_covered']} "
        f"({real['effective_digits']:.1f}) | "
        f"{real['conditional_accuracy']:.4f} | | | | |"
    )


def _cell(text: str) -> str:
    """Text for a Markdown table cell: a bare | (as in p(x|y) or |gradient|) would end the cell."""
    return text.replace("|", "\\|")


def claims_table(claims: list[dict]) -> list[str]:
    return [
        "| the report says | measured | verdict |",
        "|---|---|---|",
        *[f"| {_cell(c['claim'])} | {_cell(c['measured'])} | **{c['verdict']}** |" for c in claims],
    ]


def _optimizer(o: dict) -> str:
    betas = f" (betas {o['beta_1']:g}, {o['beta_2']:g})" if o["name"] == "adam" else ""
    return f"{o['name']} {o['learning_rate']:g}{betas}"


def describe_model(model: dict) -> str:
    """One line of a model's settings from its config.json entry (a VAE, CVAE or GAN config)."""
    if "loss" in model:  # a GAN
        nets, g, c = model["networks"], model["generator_optimizer"], model["critic_optimizer"]
        constraint = (f", clip {model['clip_value']}" if model["clip_value"] else "") + (
            f", gradient penalty {model['gradient_penalty_weight']:g}"
            if model["gradient_penalty_weight"]
            else ""
        )
        return (
            f"{nets['architecture']} nets, z = {model['latent_dim']}, {model['loss']} loss"
            f"{constraint}, {model['critic_steps']} critic step(s) per generator step, critic "
            f"batch norm {'on' if nets['critic_batch_norm'] else 'off'}"
            + (
                f" (real and fake in {model.get('critic_batches', 'joint')} batches)"
                if nets["critic_batch_norm"]
                else ""
            )
            + ", dropout "
            f"{nets['dropout']:g}; G {_optimizer(g)}, critic {_optimizer(c)}"
            + (f"; conditional on {model['num_classes']} labels" if model["num_classes"] else "")
        )
    if "architecture" in model:  # a CVAE
        return (
            f"CVAE, {model['architecture']} nets {model['fc_hidden_units']} "
            f"{model['fc_activation']}, z = {model['latent_dim']}, batch norm "
            f"{'on' if model['batch_norm'] else 'off'}, Adam {model['learning_rate']:g}"
        )
    encoder = (
        f"conv encoder {model['encoder_filters']} (3x3, stride 1)"
        if model.get("encoder") == "conv"
        else f"dense encoder {model['hidden_units']}"
    )
    return (
        f"{encoder}, dense decoder {model['hidden_units'][::-1]} {model['activation']}, "
        f"z = {model['latent_dim']}, batch norm {'on' if model['batch_norm'] else 'off'}, Adam "
        f"{model['learning_rate']:g}"
    )


def probe_sentence(probe: dict | None) -> str:
    """What the conv VAE did at the report's learning rate and at its own, from this run's
    probe."""
    if not probe:
        return "(This run did not probe the conv VAE at 1e-2.)"

    def outcome(rate):
        result = probe[rate]
        if result["first_nonfinite_step"]:
            return f"at {rate} its loss was not finite from step {result['first_nonfinite_step']}"
        return f"at {rate} its mean training loss was {result['mean_loss']:.5g}"

    return (
        f"Measured in this run, {probe['steps']} steps from the same initialisation and batches: "
        f"{outcome('0.01')}; {outcome('0.001')}."
    )


def settings_lines(config: dict, metrics: dict) -> list[str]:
    """The README's list of each model's settings and of the readings behind them."""
    models = metrics["models"]
    lines = [
        f"- {models[key]['title']}: {describe_model(config['models'][key])}; "
        f"{models[key]['epochs']} epochs, batch {config['batch_size']}."
        for key in metrics.get("order", config["models"])
    ]
    lines += [
        "- Data: the suite's TF1 split (55,000 training, 5,000 validation, 10,000 test images), "
        "not the course's last 10,000 training images as validation.",
        f"- One seed ({config['seed']}) per model: the verdicts compare single runs, with no "
        "seed-to-seed spread behind them.",
    ]
    if config["group"] == "vae":
        return lines + [
            "- VAEs read dynamically binarized images; likelihoods are importance-weighted with "
            f"k = {config['importance_samples']} per test image (a 2-D latent).",
            "- The report's Adam 1e-2 trains the FC VAEs and the CVAE; the conv VAE takes 1e-3. "
            + probe_sentence(metrics.get("conv_vae_learning_rate_probe")),
        ]
    return lines + [
        "- GANs read grey images in [-1, 1]; an epoch is one pass of the critic over the training "
        "images (with k critic steps, a step takes k batches)."
    ]


def loaded_models_lines(metrics: dict) -> list[str]:
    """A sentence naming the models this process loaded finished from `work/` instead of training:
    their epochs and minutes are the earlier process's, which is why the training minutes can
    exceed the minutes in all."""
    loaded = [e for e in metrics["models"].values() if e.get("loaded_from_finished_run")]
    if not loaded:
        return []

    named = ", ".join(f"{e['title']} ({records.training_commit(e)})" for e in loaded)
    return [
        "Loaded finished from `work/`, trained by an earlier process of the same command and "
        f"config: {named}. Their epochs and training minutes "
        "are that process's, so the training minutes can exceed the minutes in all.",
        "",
    ]


def write_group_readme(out: Path, group: str) -> Path:
    metrics, config, env = records.read_run(out)
    figures = sorted(path.name for path in Path(out).glob("*.png"))
    lines = [
        f"# {out.name}: Srinivasan, Baur & Huber (2018), {GROUP_TITLES[group]}",
        "",
        records.provenance(env, f"make hw4_{group}"),
        "",
    ]
    if "real_vs_real" in metrics:
        quality = next((e["sample_quality"] for e in metrics["models"].values() if _quality(e)), {})
        lines += [
            f"Samples: {quality.get('count', 'n/a')} per model from shared z (and labels, per "
            "digit alike), scored against the test images by the evaluator classifier. "
            + records.evaluator_sentence({k: _quality(e) for k, e in metrics["models"].items()}),
            "",
        ]
    else:
        lines += ["Sample quality: " + str(metrics.get("sample_quality")), ""]
    lines += [*TABLE_HEADER, *table_rows(metrics)]
    if real_row(metrics):
        lines.append(real_row(metrics))
    lines += ["", *loaded_models_lines(metrics)]
    lines += [
        "Effective digits: exp(entropy of the digit shares), 10 for uniform shares; a digit is "
        "covered when at least 2% of samples are classified as it. Likelihoods on one fixed "
        "binarization of the test images; the CVAE's are of p(x | y).",
        "",
        "## Settings and readings of what the report leaves open",
        "",
        *settings_lines(config, metrics),
        "",
        "## The report's claims",
        "",
        *claims_table(metrics["claims"]),
        "",
        "## Figures",
        "",
        ", ".join(f"`{f}`" for f in figures),
    ]
    path = Path(out) / "README.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def cross_group_claims(groups: dict) -> list[dict]:
    """Claims that compare models of different groups (the report's conclusion)."""

    def fd(group, key):
        entry = groups.get(group, {}).get("models", {}).get(key, {})
        quality = _quality(entry)
        return None if quality is None else quality

    claims = []
    for plain, conditional in (("gan", "cgan"), ("dcgan", "cdcgan")):
        a, b = fd("gan", plain), fd("cgan", conditional)
        if a and b:
            claims.append(
                _claim(
                    f"Conditioning on the label helps the {plain.upper()} (Sec. 5, Sec. 3.2.1 "
                    "item 2)",
                    f"FD {b['frechet_distance']:.2f} conditional vs {a['frechet_distance']:.2f}; "
                    "digits covered "
                    f"{b['digits_covered']} vs {a['digits_covered']}",
                    b["frechet_distance"] < a["frechet_distance"],
                )
            )
    dcgan = fd("gan", "dcgan")
    for key in ("wgan_clip", "wgan_gp"):
        w = fd("wgan", key)
        if w and dcgan:
            title = groups["wgan"]["models"][key]["title"]
            claims.append(
                _claim(
                    f"{title} does no better than the DCGAN (Sec. 4.2.2)",
                    f"FD {w['frechet_distance']:.2f} vs DCGAN {dcgan['frechet_distance']:.2f}",
                    w["frechet_distance"] >= dcgan["frechet_distance"],
                )
            )
    vae, best_gan = fd("vae", "vae"), dcgan
    if vae and best_gan:
        real = real_sharpness(groups["gan"])
        claims.append(
            _claim(
                "GANs produce sharper images than VAEs (Sec. 5)",
                f"sharpness ratio to real digits: DCGAN {best_gan['sharpness_ratio']:.2f}, "
                f"VAE {vae['sharpness_ratio']:.2f}, real images {real:.2f} (read: nearer real "
                "images' ratio)",
                nearer_real_sharpness(best_gan, vae, real),
            )
        )
    return claims


def seed_folders(results_root: Path, group: str, suffix: str = "") -> dict[int, Path]:
    """{seed: results folder} of every finished run of `group`: hw4_<group><suffix> is seed 0,
    hw4_<group>_seed<s><suffix> seed s (`RunSettings.named`)."""
    root = Path(results_root)
    found = {}
    for folder in sorted(root.glob(f"hw4_{group}*{suffix}")):
        middle = folder.name[len(f"hw4_{group}") : len(folder.name) - len(suffix)]
        if middle == "":
            seed = 0
        elif middle.startswith("_seed") and middle[5:].isdigit():
            seed = int(middle[5:])
        else:
            continue  # another precision's or smoke run's folder
        if (folder / "metrics.json").exists():
            found[seed] = folder
    return dict(sorted(found.items()))


def seed_spread_lines(runs: dict[int, dict]) -> list[str]:
    """Per model, each seed's FD and test -ELBO with their mean and range, then each claim's verdict
    per seed: what a one-seed verdict is worth. `runs` maps seed -> that seed's metrics."""
    seeds = list(runs)
    first = runs[seeds[0]]
    header = " | ".join(f"seed {s}" for s in seeds)
    lines = [
        f"| model | measure | {header} | mean | range |",
        "|---|---|" + "---|" * (len(seeds) + 2),
    ]
    for key in first.get("order", first["models"]):
        if not all(key in m["models"] for m in runs.values()):
            continue
        entries = [m["models"][key] for m in runs.values()]
        for label, read in (
            ("FD", lambda e: (_quality(e) or {}).get("frechet_distance")),
            ("test -ELBO", lambda e: e.get("test_negative_elbo")),
        ):
            values = [read(e) for e in entries]
            if any(v is None for v in values):
                continue
            lines.append(
                f"| {entries[0]['title']} | {label} | "
                + " | ".join(f"{v:.2f}" for v in values)
                + f" | {np.mean(values):.2f} | {max(values) - min(values):.2f} |"
            )
    verdicts = {}
    for seed, metrics in runs.items():
        for claim in metrics["claims"]:
            verdicts.setdefault(claim["claim"], {})[seed] = claim["verdict"]
    lines += [
        "",
        f"| the report says | {header} |",
        "|---|" + "---|" * len(seeds),
        *(
            f"| {_cell(text)} | " + " | ".join(by_seed.get(s, "not run") for s in seeds) + " |"
            for text, by_seed in verdicts.items()
        ),
    ]
    return lines


def write_table(results_root: Path, out: Path, suffix: str = "") -> Path:
    """results/hw4/README.md: the one table over every model of the report, beside real-vs-real, and
    every claim's verdict, from the group results found under `results_root`
    (hw4_<group><suffix>/)."""
    groups = {}
    for group in GROUP_TITLES:
        folder = Path(results_root) / f"hw4_{group}{suffix}"
        if (folder / "metrics.json").exists():
            groups[group] = records.read_json(folder / "metrics.json")
    if not groups:
        raise FileNotFoundError(
            f"no hw4 group results under {results_root}: run make hw4_vae (or _gan, _cgan, "
            "_wgan) first"
        )
    lines = [
        "# hw4: every model of Srinivasan, Baur & Huber (2018), measured",
        "",
        report.joined_sentence("make hw4_table")[:-1] + " (groups not yet run are missing):",
        "",
        *report.sources_table([Path(results_root) / f"hw4_{group}{suffix}" for group in groups]),
        "",
        *TABLE_HEADER,
    ]
    real = None
    for metrics in groups.values():
        lines += table_rows(metrics)
        real = real or real_row(metrics)
    if real:
        lines.append(real)
    lines += [
        "",
        "Lucic et al. (2018) report MNIST FIDs on Inception features (NS GAN 6.8, WGAN 6.7, "
        "WGAN-GP "
        "20.3, VAE 23.8, best of a large sweep): not comparable with these evaluator features in "
        "absolute terms; compare the ordering.",
        "",
        "## Every claim",
        "",
    ]
    claims = [c for metrics in groups.values() for c in metrics["claims"]] + cross_group_claims(
        groups
    )
    lines += claims_table(claims)
    for group in groups if "_seed" not in suffix else ():  # a seed's own table: no spread
        folders = seed_folders(results_root, group, suffix)
        if len(folders) > 1:
            runs = {seed: records.read_json(f / "metrics.json") for seed, f in folders.items()}
            lines += [
                "",
                f"## Seed to seed: {GROUP_TITLES[group]}",
                "",
                "The table and claims above are seed 0's. The same runs on other seeds "
                f"({', '.join(f'[{f.name}](../{f.name}/README.md)' for f in folders.values())}):",
                "",
                *seed_spread_lines(runs),
                "",
                "A difference between two models smaller than their seeds' ranges is no finding.",
            ]
    records.write_json(Path(out) / "table.json", {"groups": sorted(groups), "claims": claims})
    path = Path(out) / "README.md"
    path.write_text("\n".join(lines) + "\n")
    return path
