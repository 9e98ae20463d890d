"""The one report helper of the studies: Markdown tables, the sample-quality table every measured
study shows, and the README skeleton (title, provenance, body) written atomically from what a run
recorded in results/<name>/.

Every study's README is built the same way: `records.read_run(out)` gives the metrics, config and
environment the run wrote, the study turns them into lines, and `write_readme` puts the title and
the provenance sentence (`records.provenance`) on top, so a README can always be rendered again
from its folder without training."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from vaegan_tf import dtypes, records


def markdown_table(header: Sequence[str], rows: Sequence[Sequence]) -> list[str]:
    """A GitHub Markdown table: the header, the rule, one line per row (cells through `str`)."""
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(str(cell) for cell in row) + " |" for row in rows),
    ]


def _percent(value: float) -> str:
    return f"{100 * value:.2f}%"


# The sample-quality columns: header, key in an `evaluate.sample_quality` dict, format.
QUALITY_COLUMNS: tuple[tuple[str, str, Callable[[float], str]], ...] = (
    ("conditional accuracy", "conditional_accuracy", _percent),
    ("Frechet distance", "frechet_distance", "{:.3f}".format),
    ("KID", "kid", "{:.4f}".format),
    ("Inception score", "inception_score", "{:.2f}".format),
    ("sharpness ratio", "sharpness_ratio", "{:.3f}".format),
)
# Without conditional accuracy: for studies of unconditional models (the real-image baseline has
# a conditional accuracy, the evaluator's own on real digits, which only a conditional model's
# samples are compared with).
UNCONDITIONAL_COLUMNS = QUALITY_COLUMNS[1:]


def quality_table(
    scores: dict[str, dict],
    extra: dict[str, dict[str, str]] | None = None,
    columns=QUALITY_COLUMNS,
) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of the sample-quality table: one row per image source of `scores` (name ->
    `evaluate.sample_quality` dict), those of `columns` that any row has, then the columns of
    `extra` (column header -> {row name: formatted cell}, blank where a row has none)."""
    extra = extra or {}
    columns = [c for c in columns if any(c[1] in row for row in scores.values())]
    header = ["images", *(title for title, _, _ in columns), *extra]
    rows = [
        [
            name,
            *(fmt(row[key]) if key in row else "" for _, key, fmt in columns),
            *(cells.get(name, "") for cells in extra.values()),
        ]
        for name, row in scores.items()
    ]
    return header, rows


def paragraph(text: str) -> list[str]:
    """A blank line and `text`, or nothing when `text` is empty: optional sentences (the evaluator
    that scored a table, say) that must not leave an empty paragraph behind."""
    return ["", text] if text else []


def write_tables(out: Path, stem: str, header: Sequence[str], rows: Sequence[Sequence]) -> None:
    """<stem>.md and <stem>.csv in `out`: the same table for readers and for scripts."""
    records.write_text_atomically(
        out / f"{stem}.md", "\n".join(markdown_table(header, rows)) + "\n"
    )
    with open(out / f"{stem}.csv", "w", newline="") as stream:
        csv.writer(stream).writerows([header, *rows])


def _commits(env: dict) -> str:
    """A folder's commit; for a join of cells trained apart, the distinct commits its cells were
    trained at, then the join's."""
    join = f"`{str(env.get('git_commit', 'n/a'))[:7]}`"
    cells = env.get("models")
    if not isinstance(cells, dict) or not cells:
        return join
    trained = sorted(
        {str(c.get("resumed_from_commit") or c.get("git_commit"))[:7] for c in cells.values()}
    )
    return f"trained at {', '.join(f'`{c}`' for c in trained)}; joined at {join}"


def joined_sentence(command: str) -> str:
    """What a README joined from other studies' results folders says first: the code that joined
    them (the folders' own commits are in `sources_table`)."""
    dirty = records.uncommitted_code(records.START_DIRTY)
    return (
        f"Joined by `{command}` at commit `{records.START_COMMIT}`{dirty} from results folders "
        "run separately:"
    )


def sources_table(folders: Sequence[Path], results_root: Path | None = None) -> list[str]:
    """For a table joined from other studies' results: each folder's command, commit, epochs,
    training time, CPU and evaluator, read from its environment.json and metrics.json, so the
    joined table carries the provenance of every row (training minutes compare only on one CPU).
    Folders nested in a study's (`figure10/draw`) are named, and linked, by their path under
    `results_root`."""
    rows = []
    for folder in folders:
        name = Path(folder).relative_to(results_root) if results_root else Path(folder).name
        env_path = Path(folder) / "environment.json"
        env = records.read_json(env_path) if env_path.exists() else {}
        metrics = records.read_json(Path(folder) / "metrics.json")
        models = metrics.get("models", {}) if isinstance(metrics, dict) else {}  # a list: cells
        epochs = env.get("epochs")
        if epochs is None and isinstance(metrics, list):  # a table of cells, each its own schedule
            cell_epochs = sorted({cell["epochs"] for cell in metrics if cell.get("epochs")})
            epochs = ", ".join(str(e) for e in cell_epochs) + " (per cell)" if cell_epochs else None
        scored = {key: entry.get("sample_quality") for key, entry in models.items()}
        own = metrics.get("sample_quality") if isinstance(metrics, dict) else None
        if isinstance(own, dict):  # a one-model study's row, or its table of rows
            scored.update({"study": own} if "evaluator" in own else own)
        prints = records.evaluator_fingerprints(scored)
        rows.append(
            [
                f"[{name}](../{name}/{'README.md' if (Path(folder) / 'README.md').exists() else ''})",
                f"`{env.get('command', 'n/a')}`",
                _commits(env),
                epochs if epochs is not None else "n/a",
                f"{env['wall_seconds'] / 60:.1f}" if env.get("wall_seconds") else "n/a",
                env.get("cpu") or "n/a",
                ", ".join(prints) or "n/a",
            ]
        )
    return markdown_table(
        ["results", "command", "commit", "epochs", "training min", "CPU", "evaluator"], rows
    )


def write_readme(out: Path, title: str, command: str, body: Sequence[str]) -> Path:
    """results/<name>/README.md: `# <name>: <title>`, the provenance of the run recorded in `out`
    (what ran, at which commit, how long; the command the run recorded wins over `command`), then
    `body`, one line per item."""
    env = records.read_json(out / "environment.json")
    lines = [f"# {out.name}: {title}", "", records.provenance(env, command), "", *body]
    path = out / "README.md"
    records.write_text_atomically(path, "\n".join(lines).rstrip("\n") + "\n")
    return path


def seed_and_precision(folder_name: str, stem: str) -> tuple[int, str] | None:
    """(seed, precision) of a results folder named by `RunSettings.named(stem)`, or None when the
    folder is another study's (`stem` followed by something else, `_smoke` say)."""
    match = re.fullmatch(
        re.escape(stem) + r"(?:_seed(\d+))?(?:_(" + "|".join(dtypes.PRECISIONS[1:]) + r"))?",
        folder_name,
    )
    if not match:
        return None
    return int(match.group(1) or 0), match.group(2) or "float32"


def seed_folders(out: Path, stem: str) -> dict[int, Path]:
    """{seed: folder} of the measured runs (metrics.json written) of study `stem` beside `out`
    at `out`'s precision, `out` among them: the runs a seed-to-seed spread is taken over. A run
    still staged (`records.staged_directory`) has its siblings where it will land, and stands for
    its own seed in place of the folder it will replace."""
    out = Path(out)
    own = seed_and_precision(out.name, stem)
    if own is None:
        raise ValueError(f"{out.name!r} is not a run of {stem!r} (RunSettings.named)")
    found = {}
    for folder in sorted(records.final_parent(out).glob(f"{stem}*")):
        named = seed_and_precision(folder.name, stem)
        if named and named[1] == own[1] and (folder / "metrics.json").exists():
            found[named[0]] = folder
    if (out / "metrics.json").exists():
        found[own[0]] = out
    return dict(sorted(found.items()))


def seed_spread_section(
    out: Path, stem: str, measures: dict[str, Callable[[dict], float | None]], digits: int = 2
) -> list[str]:
    """ "## Seed to seed": each measure (a function of a run's metrics.json) on every seed of
    `seed_folders(out, stem)`, with the mean and sample sd, so the README of any one seed shows
    what a single run is worth. One seed alone says so instead."""
    folders = seed_folders(out, stem)
    if len(folders) < 2:
        return [
            "## Seed to seed",
            "",
            "One seed: no spread yet (`ARGS=--seed=1` and `--seed=2` run more, each in a folder "
            "of its own, and every seed's README then shows them all).",
            "",
        ]
    runs = {seed: records.read_json(folder / "metrics.json") for seed, folder in folders.items()}
    rows = []
    for title, read in measures.items():
        values = {seed: read(metrics) for seed, metrics in runs.items()}
        known = [v for v in values.values() if v is not None]
        spread = (
            f"{np.mean(known):.{digits}f} ± {np.std(known, ddof=1):.{digits}f}"
            if len(known) > 1
            else "n/a"
        )
        rows.append(
            [
                title,
                *("n/a" if v is None else f"{v:.{digits}f}" for v in values.values()),
                spread,
            ]
        )
    # where each seed ran: a spread over runs at several commits or CPUs holds those too
    envs = {
        seed: records.read_json(f / "environment.json") if (f / "environment.json").exists() else {}
        for seed, f in folders.items()
    }
    commits = [str(env.get("git_commit") or "n/a")[:7] for env in envs.values()]
    cpus = [env.get("cpu") or "n/a" for env in envs.values()]
    rows += [["commit", *(f"`{c}`" for c in commits), ""], ["CPU", *cpus, ""]]
    mixed = [
        what for what, values in (("commits", commits), ("CPUs", cpus)) if len(set(values)) > 1
    ]
    caveat = (
        f" The seeds ran at different {' and '.join(mixed)}: the spread holds those differences "
        "too."
        if mixed
        else ""
    )
    links = ", ".join(f"[{f.name}](../{f.name}/README.md)" for f in folders.values())
    return [
        "## Seed to seed",
        "",
        f"The same command on {len(folders)} seeds (initialisation, data order and noise), one "
        f"folder each ({links}); mean ± sample sd. A difference smaller than this spread is no "
        f"finding.{caveat}",
        "",
        *markdown_table(["measure", *(f"seed {seed}" for seed in folders), "mean ± sd"], rows),
        "",
    ]
