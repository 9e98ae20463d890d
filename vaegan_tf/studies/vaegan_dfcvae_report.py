"""results/vaegan/ and results/dfcvae/: the comparison table (Markdown, CSV) and README from what a run wrote."""

from __future__ import annotations

from pathlib import Path

from vaegan_tf import records
from vaegan_tf.evaluate import REAL_IMAGES
from vaegan_tf.models.vae_gan import VAEGANConfig
from vaegan_tf.studies import report

DEFAULT_BALANCE = VAEGANConfig.balance

SAME_NETWORK_TITLE = "plain VAE, same networks"
BASELINES = ("plain VAE", SAME_NETWORK_TITLE)
ABOUT = {
    "vaegan": (
        "VAE-GAN (Chen, Fang, Ju 2016, Sec. 3.1)",
        "make vaegan",
        "the pixel loss replaced by the distance between discriminator features (FC-500), plus the GAN terms "
        "of eq. 2 against a real/fake discriminator (eq. 3); the GAN gradient is kept out of the encoder",
    ),
    "dfcvae": (
        "Deep-feature-consistent VAE (the poster, after Hou et al. 2016)",
        "make dfcvae",
        "the pixel loss replaced by the poster's feature perceptual loss on the relu1-3 maps of a fixed, "
        "separately pre-trained digit classifier (not the evaluator)",
    ),
}


def quality_table(metrics: dict) -> tuple[list[str], list[list[str]]]:
    """The comparison: each model's sample quality and its test reconstruction error."""
    mse = {name: f"{value:.4f}" for name, value in metrics["test_reconstruction_mse"].items()}
    return report.quality_table(
        metrics["sample_quality"],
        {"test reconstruction MSE": mse},
        columns=report.UNCONDITIONAL_COLUMNS,
    )


def _origin(training: dict, config: str) -> str:
    """Where a baseline's weights come from, as its `TrainingOutcome.summary()` recorded it."""
    if "loaded_from_finished_run" not in training:  # runs before the summary was recorded
        return "trained here or loaded from a finished run (not recorded)"
    if not training["loaded_from_finished_run"]:
        return f"trained here with {config}"
    return f"loaded from a finished run of {config} in `work/` {records.training_commit(training)}"


def write_readme(out: Path) -> Path:
    metrics, config, _ = records.read_run(out)
    title, command, what = ABOUT[config["variant"]]
    if config["variant"] == "vaegan" and balance_rule(config["vae_gan"]) != DEFAULT_BALANCE:
        command += f" ARGS='--balance={balance_rule(config['vae_gan'])}'"
    base = metrics["baseline_training"]
    origin = _origin(base, "`make vae`'s config")
    lines = []
    if config["variant"] == "vaegan" and "balance" not in config["vae_gan"]:
        lines += [
            "The run predates the `--balance` flag: it used its commit's default rule, which that flag "
            "now selects.",
            "",
        ]
    lines += [
        f"The variant: {_networks(config)} with {what}. The plain VAE ({base['epochs']} epochs, "
        f"{base['wall_seconds'] / 60:.1f} min of training) was {origin}.",
        "",
    ]
    if "same_network_baseline" in metrics:
        same = metrics["same_network_baseline"]
        lines += [
            f"The plain VAE with the same networks: the variant's encoder and {same['decoder']} decoder trained "
            f"with the pixel (Bernoulli) loss on the same grey-level images, {same['epochs']} epochs in "
            f"{same['wall_seconds'] / 60:.1f} min of training, at `make vae`'s learning rate, "
            f"{_origin(same, 'this config')}; it differs from the variant by the loss alone.",
            "",
        ]
    if "perceptual_network" in metrics:
        net = metrics["perceptual_network"]
        lines += [
            f"The fixed network: {net['epochs']} epochs of pre-training, test accuracy "
            f"{100 * net['test_accuracy']:.2f}%.",
            "",
        ]
    lines += [
        "![samples from the same z](samples.png)",
        "",
        "![reconstructions](reconstructions.png)",
        "",
    ]
    quality = metrics["sample_quality"]
    if isinstance(quality, dict):
        header, table = quality_table(metrics)
        report.write_tables(out, "table", header, table)
        count = next(iter(quality.values()))["count"]
        lines += [
            f"{count} samples per model, decoded from the same z ~ N(0, I), scored by the evaluator classifier "
            "against the test images (lower FD / KID is closer to real data; sharpness ratio 1 is as sharp as "
            "real test images); reconstruction error on the 10,000 grey test images through the posterior mean:",
            "",
            *report.markdown_table(header, table),
            "",
            *filter(
                None, [_verdict(metrics, title.split(" (")[0]), records.evaluator_sentence(quality)]
            ),
            "",
        ]
    else:
        lines += [f"Sample quality: {quality}", ""]
    lines += [
        "## Choices the documents leave open",
        "",
        f"- Epochs: {config['epochs']} for the variant, batch {config['batch_size']}; the plain VAE keeps "
        f"`make vae`'s schedule ({config['baseline']['epochs']} epochs).",
        "- Variant data: grey levels in [0, 1] (a discriminator would tell binarized real images from "
        "generated means by their values alone); the plain VAE was trained on dynamically binarized images.",
        *_balance_lines(out, config),
        "- Loss weights and networks: see the module docstrings of vaegan_tf/models/vae_gan.py and "
        "vaegan_tf/models/dfc_vae.py.",
        "- Samples and reconstructions are Bernoulli means.",
    ]
    return report.write_readme(out, f"{title} against the plain VAE", command, lines)


def _networks(config: dict) -> str:
    vae = config["vae_gan" if config["variant"] == "vaegan" else "dfc_vae"]["vae"]
    if vae.get("decoder", "dense") == "dense":
        return "the plain VAE's networks"
    return f"the plain VAE's encoder and Sec. 4.3's convolutional decoder (`decoder={vae['decoder']!r}`),"


def balance_rule(vae_gan: dict) -> str:
    """The VAE-GAN config's balance rule; configs written before the rule had a name said only whether
    Larsen's rule also read the real-image cost (`balance_on_real`), and before that always did."""
    if "balance" in vae_gan:
        return vae_gan["balance"]
    return "prior" if vae_gan.get("balance_on_real") is False else "larsen"


def _balance_lines(out: Path, config: dict) -> list[str]:
    """The VAE-GAN's balancing rule and how often each player was updated, from the training log."""
    if config["variant"] != "vaegan":
        return []
    balance = config["vae_gan"]
    if balance["equilibrium"] is None:
        return ["- Balance: none; D and the decoder update every step, as eqs. 2-3 alone say."]
    log = records.read_csv_log(out / "training_log.csv")
    rule = balance_rule(balance)

    def share(key):
        return ", ".join(f"{100 * value:.0f}%" for value in log[key])

    return [
        f"- Balance: Larsen et al.'s equilibrium {balance['equilibrium']} ± {balance['margin']}, rule "
        f"`{rule}` (see vaegan_tf/models/vae_gan.py): {BALANCE_WORDS[rule]}. Share of steps that updated D, "
        f"epoch by epoch: {share('discriminator_updated')}; the decoder: {share('decoder_updated')}. D called "
        f"real training images real on {share('real_accuracy')} of them."
    ]


BALANCE_WORDS = {
    "prior": "D waits while its cross-entropy on prior samples is below the band, the decoder while it is above it",
    "larsen": "D waits while its cross-entropy on prior samples or on real images is below the band, the decoder "
    "while either is above it",
    "both_sure": "D waits while its cross-entropies on prior samples and on real images are both below the band, "
    "the decoder while the prior-sample one is above it",
}


def _verdict(metrics: dict, variant: str) -> str:
    """Sentences from the numbers: are the variant's samples and reconstructions better than each plain
    VAE's, and does its sample set carry any class information at all (Inception score near 1 means the
    evaluator sees one class, or none, in every sample)?"""
    quality, mse = metrics["sample_quality"], metrics["test_reconstruction_mse"]
    baselines = [key for key in BASELINES if key in quality]
    name = next(key for key in quality if key not in (*BASELINES, REAL_IMAGES))
    mine = quality[name]
    sentences = []
    for baseline in baselines:
        plain = quality[baseline]
        fd = "closer to" if mine["frechet_distance"] < plain["frechet_distance"] else "farther from"
        rebuilt = "better" if mse[name] < mse[baseline] else "worse"
        sentences.append(
            f"against the {baseline}, the {variant}'s samples are {fd} the test images (FD "
            f"{mine['frechet_distance']:.1f} vs {plain['frechet_distance']:.1f}) and its "
            f"reconstructions are {rebuilt} (MSE {mse[name]:.4f} vs {mse[baseline]:.4f})"
        )
    sentence = "**Reading** (one seed of each model): " + "; ".join(sentences) + "."
    real = quality.get(REAL_IMAGES)
    if real and baselines:
        plain = quality[baselines[0]]

        def gap(row):
            return abs(row["sharpness_ratio"] - real["sharpness_ratio"])

        sentence += (
            f" Sharpness: the {variant}'s samples have a ratio of {mine['sharpness_ratio']:.2f} to real test "
            f"images, the {baselines[0]}'s {plain['sharpness_ratio']:.2f} and real training images "
            f"{real['sharpness_ratio']:.2f}: the {variant}'s are "
            f"{'sharper' if mine['sharpness_ratio'] > plain['sharpness_ratio'] else 'blurrier'}, and "
            f"{'nearer to' if gap(mine) < gap(plain) else 'farther from'} real images' sharpness"
            + (
                " (above theirs: the ratio counts speckle as detail)."
                if mine["sharpness_ratio"] > 1.1 * real["sharpness_ratio"]
                else "."
            )
        )
    if mine["inception_score"] < 1.5:
        sentence += (
            f" Its Inception score of {mine['inception_score']:.2f} says the evaluator sees no variety of "
            "digits in its samples: this run failed, and is kept as measured."
        )
    return sentence
