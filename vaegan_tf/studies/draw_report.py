"""What Figures 10 and 11 draw and write besides the suite's image grids: DRAW's canvas sequences
with the attention windows on them (the red rectangles of Gregor et al. 2015, Figure 1), the
learning curve of the test bound against the published ones, and the results READMEs."""

from __future__ import annotations

import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from vaegan_tf import plots, records  # noqa: E402
from vaegan_tf.evaluate import REAL_IMAGES  # noqa: E402

READ_COLOUR, WRITE_COLOUR = "limegreen", "red"
# The DRAW paper's bounds on binarised MNIST (Gregor et al. 2015, Table 2) and the public
# reproduction jbornschein/draw after 100 epochs (its issue 4), in nats.
ANCHORS = {
    "DRAW paper, attention (<= 80.97)": 80.97,
    "DRAW paper, no attention (<= 87.40)": 87.40,
    "jbornschein/draw, 100 epochs (~90.5)": 90.5,
}


def window_box(
    window: dict, row: int, step: int, glimpse: int
) -> tuple[float, float, float, float]:
    """(left, top, width, height) in pixel coordinates (0-based, as imshow draws) of the area an N x
    N grid covers: its centre (1-based in the window) +- (N - 1) / 2 strides."""
    half = (glimpse - 1) / 2 * window["stride"][row, step]
    return (
        window["center_x"][row, step] - 1 - half,
        window["center_y"][row, step] - 1 - half,
        2 * half,
        2 * half,
    )


def sequence_figure(canvases, path, *, windows=(), row_labels=None, steps=None, title=None) -> Path:
    """Canvases [R, T, H, W] (or [R, T, H, W, 1]) as a grid, one row per image, columns the steps
    `steps` (all T by default), with each window of `windows` drawn on its step: a sequence of
    (window {field: [R, T]}, glimpse N, colour); the border's width grows with the filters'
    sigma."""
    canvases = np.asarray(canvases)
    if canvases.ndim == 5:
        canvases = canvases[..., 0]
    rows, total_steps, height, width = canvases.shape
    steps = list(range(total_steps)) if steps is None else list(steps)
    mosaic = plots.tile_images(np.clip(canvases[:, steps], 0.0, 1.0), pad=1)
    inches = min(1.0, 14.0 / max(rows, len(steps)))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = plt.figure(figsize=(len(steps) * inches + 0.8, rows * inches + 0.8), layout="constrained")
    try:
        ax = fig.add_subplot()
        ax.imshow(mosaic, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
        for row in range(rows):
            for column, step in enumerate(steps):
                left_edge, top_edge = column * (width + 1), row * (height + 1)
                for window, glimpse, colour in windows:
                    left, top, box_width, box_height = window_box(window, row, step, glimpse)
                    # clip to the tile: a window may reach past the image
                    x0, x1 = np.clip([left, left + box_width], -0.5, width - 0.5)
                    y0, y1 = np.clip([top, top + box_height], -0.5, height - 0.5)
                    sigma = float(np.sqrt(window["variance"][row, step]))
                    ax.add_patch(
                        Rectangle(
                            (left_edge + x0, top_edge + y0),
                            x1 - x0,
                            y1 - y0,
                            fill=False,
                            edgecolor=colour,
                            linewidth=float(np.clip(0.4 + 0.4 * sigma, 0.4, 2.5)),
                        )
                    )
        ax.set_xticks([column * (width + 1) + (width - 1) / 2 for column in range(len(steps))])
        ax.set_xticklabels([f"t={step + 1}" for step in steps], fontsize=7)
        ax.tick_params(length=0, top=False, bottom=False, labeltop=True, labelbottom=False)
        ax.set_yticks(
            [row * (height + 1) + (height - 1) / 2 for row in range(rows)] if row_labels else []
        )
        if row_labels:
            ax.set_yticklabels([str(label) for label in row_labels])
        if title:
            ax.set_title(title, fontsize=9)
        fig.savefig(path, format="png", dpi=plots.DPI, bbox_inches="tight")
    finally:
        plt.close(fig)
    return path


def shown_steps(total: int, at_most: int = 16) -> list[int]:
    """All steps of a short sequence; for a long one `at_most` evenly spaced ones, the last
    included."""
    if total <= at_most:
        return list(range(total))
    return sorted({int(round(i)) for i in np.linspace(0, total - 1, at_most)})


def read_bound_curve(path: Path) -> dict[str, np.ndarray]:
    """The per-epoch test bound the training wrote (epoch, test_bound, test_kl,
    test_reconstruction)."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {key: np.array([float(row[key]) for row in rows]) for key in rows[0]} if rows else {}


def learning_curve(curves: dict[str, Path], path: Path, *, title: str) -> Path:
    """The test bound per epoch of each model ({label: test_bound.csv}) beside the published "
    "bounds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = plt.figure(figsize=(6.5, 4.0), layout="constrained")
    try:
        ax = fig.add_subplot()
        for label, csv_path in curves.items():
            curve = read_bound_curve(csv_path)
            if curve:
                ax.plot(curve["epoch"], curve["test_bound"], marker=".", label=label)
        for (label, value), style in zip(ANCHORS.items(), (":", "--", "-."), strict=True):
            ax.axhline(value, color="grey", linestyle=style, linewidth=1, label=label)
        ax.set_xlabel("epoch")
        ax.set_ylabel("test negative bound (nats)")
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=7)
        fig.savefig(path, format="png", dpi=plots.DPI, bbox_inches="tight")
    finally:
        plt.close(fig)
    return path


def markdown_table(header, rows) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(str(cell) for cell in row) + " |" for row in rows),
    ]


QUALITY_HEADER = [
    "images",
    "Frechet distance",
    "KID",
    "Inception score",
    "sharpness ratio",
    "digits covered",
    "digit KL to uniform",
    "conditional accuracy",
]
COVERAGE = (
    "Digits covered: how many of the ten digits the evaluator finds in at least half their "
    "uniform share (5%) of the samples. Digit KL to uniform: KL between the digits' fractions and "
    "1/10 each, 0 for samples spread evenly over the digits, log 10 = 2.30 for one digit only."
)


def quality_rows(quality: dict) -> list[list[str]]:
    """One row per image source of `quality`: FD, KID, Inception score, sharpness, digits covered,
    conditional accuracy (blank where not measured)."""
    rows = []
    for name, scores in quality.items():
        coverage = scores.get("digit_coverage", {})
        accuracy = scores.get("conditional_accuracy")
        rows.append(
            [
                name,
                f"{scores['frechet_distance']:.2f}",
                f"{scores['kid']:.4f}",
                f"{scores['inception_score']:.2f}",
                f"{scores['sharpness_ratio']:.3f}",
                str(coverage.get("classes_covered", "")),
                f"{coverage['kl_to_uniform']:.3f}" if coverage else "",
                "" if accuracy is None else f"{100 * accuracy:.2f}%",
            ]
        )
    return rows


def vae_reference(results_root: Path) -> dict | None:
    """The plain VAE's sample quality (`make vae`, results/vae_mnist/), if it has been measured."""
    path = Path(results_root) / "vae_mnist" / "metrics.json"
    quality = records.read_json(path).get("sample_quality") if path.exists() else None
    return quality if isinstance(quality, dict) else None


def quality_section(qualities: list[dict], results_root: Path) -> list[str]:
    """One table of the models' samples (each `sample_quality` block of `qualities`) beside the
    plain VAE's, if measured with the same count, and real training images."""
    table, real = {}, None
    for quality in qualities:
        if isinstance(quality, dict):
            block = quality.get(REAL_IMAGES)
            if block is not None and (real is None or len(block) > len(real)):
                real = block  # the block of a conditional model also has its accuracy
            table.update({name: q for name, q in quality.items() if name != REAL_IMAGES})
    if not table:
        return []
    count = next(iter(table.values()))["count"]
    vae = vae_reference(results_root)
    vae_source = []
    if vae is not None and vae.get("count") == count:
        table["VAE (make vae)"] = vae
        environment = Path(results_root) / "vae_mnist" / "environment.json"
        commit = records.read_json(environment).get("git_commit") if environment.exists() else None
        vae_source = [
            "The VAE row is results/vae_mnist's (`make vae`, seed 0"
            + (f", commit `{commit[:7]}`" if commit else "")
            + "), read from its metrics.json when this README was written.",
            "",
        ]
    if real is not None:
        table[REAL_IMAGES] = real
    intro = (
        f"Sample quality of {count:,} samples of each model against the test images (the "
        "evaluator's features; lower FD / KID is closer to real digits, sharpness ratio 1 is as "
        "sharp as real test images; real training images are the floor):"
    )
    rows, header = quality_rows(table), QUALITY_HEADER
    if not any(row[-1] for row in rows):  # no conditional model: no accuracy column
        header, rows = header[:-1], [row[:-1] for row in rows]
    return [
        intro,
        "",
        *markdown_table(header, rows),
        "",
        COVERAGE,
        records.evaluator_sentence(table),
        "",
        *vae_source,
    ]


def write_text(path: Path, lines: list[str]) -> Path:
    records.write_text_atomically(Path(path), "\n".join(lines) + "\n")
    return Path(path)


def _bound_cell(bound: dict) -> str:
    return f"{bound['bound']:.2f} ({bound['reconstruction']:.2f} + {bound['kl']:.2f})"


def _setting(spec: dict) -> str:
    model = spec["model"]
    glimpses = (
        f"read {model['read_glimpse']}x{model['read_glimpse']}, write "
        f"{model['write_glimpse']}x{model['write_glimpse']}"
        if model["read_glimpse"]
        else "no attention"
    )
    clip = "each tensor" if model["clip_each_tensor"] else "total norm"
    data = "dynamically binarised" if spec["binarized"] else "grey"
    return (
        f"T = {model['steps']}, {glimpses}, z = {model['code_size']} a step, LSTMs "
        f"{model['encoder_units']}/{model['decoder_units']}, Adam lr {model['learning_rate']} "
        f"(beta1 {model['adam_beta1']}), gradient clip {model['gradient_clip']} ({clip}), "
        f"batch {spec['batch_size']}, {data} images."
    )


BOUND_INTRO = (
    "Negative variational bound L = L^x + L^z (nats) on one fixed binarisation of the "
    "test images ({images:,}), one draw of z_1..z_T per image, as Gregor et al. report it; "
    "the importance-weighted estimate tightens it with k draws. Public reproductions reach "
    "~90.5 after 100 epochs and 81.9 after ~300 (jbornschein/draw, issue 4)."
)
FIGURE10_READINGS = [
    "## Readings",
    "",
    "- Figure 10 and the poster's panels come from the authors' code (T = 10, 5x5 windows, z = 10, "
    "grey images); the bound from the DRAW paper's MNIST setting. Both keep the authors' loss, not "
    "their code's bugs (filterbank exponent, off-centre grid, write chosen by the read flag).",
    "- Samples are Bernoulli means sigma(c_T); reconstructions run the loop with each z_t at its "
    "posterior mean. In the sequences the red rectangle is the write window, the green one the "
    "read window, a thicker border a wider filter (Gregor et al.'s Figure 1).",
    "- Schedules: the authors' settings train the 50,000 iterations their checkpoint names give "
    "(234 epochs at batch 256, 91 at batch 100). For the bound the DRAW paper gives no schedule; "
    "100 epochs is the public reproduction's. A run stopped early resumes from its last epoch; the "
    "table gives the epochs it reached.",
]
FIGURE10_IMAGES = (
    "figure10",
    "samples",
    "sample_sequences",
    "reconstruction_sequences",
    "sequences",
)


def write_figure10_readme(out: Path, runs: dict) -> Path:
    """results/figure10/README.md from the model folders present (`runs`: the study's RUNS)."""
    out = Path(out)
    found = {
        name: records.read_run(out / name)
        for name in runs
        if (out / name / "metrics.json").exists()
    }
    lines = [
        f"# {out.name}: DRAW and conditional DRAW (Chen, Fang, Ju 2016, Figure 10 and the "
        "poster), and DRAW's variational bound",
        "",
    ]
    if not found:
        return write_text(out / "README.md", lines + ["No model of this study has finished yet."])
    # the README joins runs made apart (each model's own environment.json says how it ran): this
    # names the code that wrote it and, per model, the commit, epochs and training time it reports
    joined = records.environment(
        models={
            name: {
                key: env.get(key)
                for key in ("git_commit", "resumed_from_commit", "epochs", "wall_seconds")
            }
            for name, (_, _, env) in found.items()
        }
    )
    records.write_json(out / "environment.json", joined)
    lines += [
        f"Joined from the model runs below (each with its own commit) by `make figure10` at commit "
        f"`{joined.get('git_commit')}`.",
        "",
    ]
    likelihood = {name: run for name, run in found.items() if run[0]["binarized"]}
    if likelihood:
        rows = [
            [
                runs[name].label,
                f"{env['epochs']} of {config['model']['epochs']}",
                _bound_cell(metrics["test_bound"]),
                f"{metrics['test_nll_importance_weighted']:.2f} "
                f"(k = {metrics['importance_samples']})",
                f"<= {metrics['draw_paper_bound']:.2f}",
            ]
            for name, (metrics, config, env) in likelihood.items()
        ]
        header = [
            "model",
            "epochs trained",
            "test bound (L^x + L^z)",
            "importance-weighted NLL",
            "DRAW paper",
        ]
        images = next(iter(likelihood.values()))[0]["test_images"]
        lines += [
            "## The bound on binarised MNIST",
            "",
            BOUND_INTRO.format(images=images),
            "",
            *markdown_table(header, rows),
            "",
        ]
        lines += [
            f"![learning curve of {runs[name].label}]({name}/learning_curve.png)"
            for name in likelihood
            if (out / name / "learning_curve.png").exists()
        ] + [""]
    lines += quality_section(
        [run[0].get("sample_quality") for run in found.values()], records.final_parent(out)
    )
    for name, (metrics, config, env) in found.items():
        spec = config["model"]
        grey = "" if spec["binarized"] else " (the cross-entropy on grey images, not a likelihood)"
        lines += [
            f"## {runs[name].title}",
            "",
            records.provenance(env, "make figure10"),
            "",
            _setting(spec),
            "",
            f"Test bound {_bound_cell(metrics['test_bound'])} nats{grey}; test reconstruction "
            f"MSE {metrics['test_reconstruction_mse']:.4f} (grey images).",
            "",
        ]
        lines += [
            f"![{figure}]({name}/{figure}.png)"
            for figure in FIGURE10_IMAGES
            if (out / name / f"{figure}.png").exists()
        ] + [""]
        if isinstance(metrics.get("sample_quality"), str):
            lines += [f"Sample quality: {metrics['sample_quality']}", ""]
    return write_text(out / "README.md", lines + FIGURE10_READINGS)


FIGURE11_READINGS = [
    "## Readings",
    "",
    "- Figure 11 of the paper most likely comes from the authors' code (`--preset=authors_code`): "
    "their repository holds no other DRAW-GAN. The default follows the text.",
    "- Each step updates DRAW, then the discriminator on real images and on images of the updated "
    "DRAW with fresh noise; samples are Bernoulli means sigma(c_T).",
    "- The DRAW compared is Figure 10's (`make figure10`), the same generator network trained "
    "without the discriminator.",
]


def write_figure11_readme(out: Path) -> Path:
    """results/figure11*/README.md from what the run wrote."""
    out = Path(out)
    metrics, config, env = records.read_run(out)
    model, study = config["model"], config["study"]
    command = "make figure11" + (
        "" if study["preset"] == "paper" else f" ARGS='--preset={study['preset']}'"
    )
    compared = metrics["draw_training"]
    origin = (
        "loaded from `make figure10`'s finished run"
        if compared["loaded_from_finished_run"]
        else "trained here with `make figure10`'s config"
    )
    reading = (
        "the paper's text (eqs. 2-3 with DRAW, pixel reconstruction, the CVAE's discriminator)"
        if study["preset"] == "paper"
        else "the authors' code (DRAW/drawgan.py)"
    )
    judged = " and reconstructions" if model["gan_on_reconstructions"] else " only"
    lines = [
        f"# {out.name}: DRAW-GAN against DRAW (Chen, Fang, Ju 2016, Figure 11)",
        "",
        records.provenance(env, command),
        "",
        f"DRAW-GAN as {reading}: reconstruction {model['reconstruction']} x "
        f"{model['reconstruction_weight']:g}, GAN term {model['generator_loss']} x "
        f"{model['gan_weight']:g} on prior samples{judged}, discriminator "
        f"`{model['discriminator']}`, Adam lr {model['draw']['learning_rate']} / "
        f"{model['discriminator_learning_rate']}, batch {config['batch_size']}, "
        f"{config['epochs']} epochs planned; grey images.",
        f"The DRAW compared ({compared['epochs']} epochs, "
        f"{compared['wall_seconds'] / 60:.1f} min of training) was {origin}.",
        "",
        "![DRAW-GAN reconstructions and samples](figure11.png)",
        "",
        "![the same z through DRAW and DRAW-GAN](side_by_side.png)",
        "",
        "![DRAW drawing](sequences_draw.png)",
        "",
        "![DRAW-GAN drawing](sequences_draw_gan.png)",
        "",
    ]
    rows = [
        [
            name,
            _bound_cell(metrics["test_bound"][name]),
            f"{metrics['test_reconstruction_mse'][name]:.4f}",
        ]
        for name in metrics["test_bound"]
    ]
    lines += [
        "Test images (grey): the negative bound L^x + L^z in nats (cross-entropy on grey "
        "levels, one draw of z_1..z_T) and the reconstruction MSE with each z_t at its "
        "posterior mean:",
        "",
        *markdown_table(["model", "test bound (L^x + L^z)", "test reconstruction MSE"], rows),
        "",
    ]
    quality = metrics["sample_quality"]
    if isinstance(quality, dict):
        lines += quality_section([quality], records.final_parent(out))
    else:
        lines += [f"Sample quality: {quality}", ""]
    return write_text(out / "README.md", lines + FIGURE11_READINGS)
