"""Flags every experiment shares, and `run`, the entry point every experiment calls instead of
`app.run` (absl flags live only in experiments/; the library takes configs).

`run` parses the flags (a bad value is one line: `usage error: ...`, exit 2), records the `make`
command that reproduces the run (results READMEs name it), and turns the errors a user can fix
(missing or corrupt data, a locked or refused work folder, a diverged run, a missing evaluator) into
one line naming the fix, exit 1, without a traceback; `--debug` or VAEGAN_TF_DEBUG=1 shows the
traceback too."""

import dataclasses
import os
import shlex
import sys
import traceback
from pathlib import Path

from absl import app, flags

from vaegan_tf import data, distribute, dtypes, evaluate, mnist_mirror, records, training
from vaegan_tf.studies.common import RunSettings

flags.DEFINE_integer(
    "seed",
    0,
    "Seeds Python, NumPy, TensorFlow and the data pipeline. A seed other than 0 is a run of its "
    "own, in results/<name>_seed<seed>/ (and work/): seeds never overwrite or load each other.",
    lower_bound=0,
)
flags.DEFINE_enum("strategy", "auto", distribute.STRATEGIES, "Where to train (tf.distribute).")
flags.DEFINE_enum(
    "source",
    "auto",
    data.SOURCES,
    "Where data comes from: auto = a prepared tfds copy, else the offline MNIST mirror.",
)
flags.DEFINE_enum(
    "precision",
    "float32",
    dtypes.PRECISIONS,
    "Keras dtype policy to train in: float32 (the papers') or mixed_bfloat16 (bfloat16 compute, "
    "float32 weights; faster on CPUs with AVX-512 BF16 or AMX). A bfloat16 run is a run of its "
    "own, in results/<name>_mixed_bfloat16/: it never resumes, reuses or overwrites a float32 one.",
)
flags.DEFINE_string("data_dir", None, "tensorflow-datasets data directory.")
flags.DEFINE_string("results_root", "results", "Final artifacts go to <results_root>/<name>/.")
flags.DEFINE_string("work_root", "work", "Scratch: checkpoints, logs, TensorBoard (git-ignored).")
flags.DEFINE_boolean(
    "debug", False, "Show the traceback of errors a user can fix (or VAEGAN_TF_DEBUG=1)."
)

FLAGS = flags.FLAGS

# Errors whose message names the fix: the user needs that line, not a traceback.
USER_ERRORS = (
    app.UsageError,
    data.DataError,
    mnist_mirror.MirrorError,
    training.TrainingDiverged,
    training.ResumeRefused,
    training.RunLocked,
    evaluate.EvaluatorUnavailable,
)

# experiments/<script>.py -> its make target; flags that only say where files go are not part of a
# command that reproduces a result
MAKE_TARGETS = {
    "vae_mnist": "vae",
    "evaluator": "evaluator",
    "benchmark": "benchmark",
    "table1": "table1",
    "figure6": "figure6",
    "figure7": "figure7",
    "figure8": "figure8",
    "figure9": "figure9",
    "vaegan": "vaegan",
    "dfcvae": "dfcvae",
    "gan": "gan",
}
WHERE_FLAGS = ("results_root", "work_root", "data_dir", "debug", "nodebug")


def at_least_one(*names: str, allow_none: bool = False) -> None:
    """Validates integer flags as >= 1 before any work (`--epochs=0` would train nothing, then be
    evaluated and published as a result)."""
    for name in names:
        flags.register_validator(
            name,
            lambda value: (allow_none and value is None) or (value is not None and value >= 1),
            message=f"--{name} must be a whole number >= 1",
        )


def run_settings(**overrides) -> RunSettings:
    """Where the experiment runs and writes, from the shared flags."""
    return RunSettings(
        strategy=FLAGS.strategy,
        source=FLAGS.source,
        data_dir=FLAGS.data_dir,
        results_root=FLAGS.results_root,
        work_root=FLAGS.work_root,
        precision=FLAGS.precision,
        seed=FLAGS.seed,
        **overrides,
    )


# --smoke checks that flags, data, training, measuring and the report are wired end to end: a few
# steps of each model suffice, evaluated on the first 1,000 validation and test images.
SMOKE_STEPS = 5
SMOKE_EVALUATION_IMAGES = 1000


def smoke_settings(steps_per_epoch: int = SMOKE_STEPS) -> RunSettings:
    """A --smoke run: `steps_per_epoch` training steps, evaluated on the first 1,000 validation
    and test images."""
    return run_settings(steps_per_epoch=steps_per_epoch, evaluation_images=SMOKE_EVALUATION_IMAGES)


def smoke_values(description: str, **smoke_flags) -> dict:
    """--smoke's value of each named flag, except where the flag was given on the command line,
    which is honoured; prints one line saying what --smoke sets (`description`: what it sets beyond
    flags)."""
    given = {name: FLAGS[name].value for name in smoke_flags if FLAGS[name].present}
    sets = [f"--{name}={value}" for name, value in smoke_flags.items() if name not in given]
    kept = [f"--{name}={value}" for name, value in given.items()]
    print(
        f"--smoke sets {', '.join([*sets, description])}"
        + (f"; keeps {', '.join(kept)} as given" if kept else ""),
        file=sys.stderr,
    )
    return {**smoke_flags, **given}


# a course-report study's --smoke (hw4, Hu, Gaikwad): samples and test images for its scores, and
# samples for the FD it draws after every epoch
COURSE_SMOKE_IMAGES, COURSE_SMOKE_EPOCH_SAMPLES = 1000, 500


def course_report_smoke(config, **smoke_flags):
    """(config, chosen) of a course-report study's --smoke: `smoke_values` of `smoke_flags` (its
    epochs, k of the NLL), and in `config` SMOKE_STEPS steps per epoch, 1,000 samples and test
    images, 500 samples for the per-epoch FD, the evaluator only if there is one. The caller puts
    `chosen` into its own config fields."""
    chosen = smoke_values(
        f"{SMOKE_STEPS} steps per epoch, {COURSE_SMOKE_IMAGES:,} samples and test images, "
        f"{COURSE_SMOKE_EPOCH_SAMPLES} samples for the per-epoch FD, the evaluator if there is one",
        **smoke_flags,
    )
    config = dataclasses.replace(
        config,
        smoke=True,
        run=smoke_settings(),
        quality_samples=COURSE_SMOKE_IMAGES,
        epoch_samples=COURSE_SMOKE_EPOCH_SAMPLES,
        test_images=COURSE_SMOKE_IMAGES,
        require_evaluator=False,
    )
    return config, chosen


def run_claims_study(config, study) -> None:
    """Runs `study(config)` (a study that ends in verdicts on a report's claims: hw4, Hu, Gaikwad)
    after its preconditions, holding its work folder, then prints each verdict on one line."""
    check_evaluator(config.require_evaluator)
    with config.run.session(config.name):
        metrics = study(config)
    for claim in metrics["claims"]:
        print(f"{claim['verdict']}: {claim['claim']} ({claim['measured']})")


def run_joined_table(name: str, write_table, smoke: bool) -> None:
    """The body of a table joined from other studies' results (make hw4_table, make
    course_table): `write_table(results_root, out, suffix)` into results/<name>/ from the folders
    that end as this table's does (`_smoke` for `smoke`, then the seed and precision), printed."""
    run = run_settings()
    suffix = "_smoke" if smoke else ""
    with run.session(f"{name}{suffix}"):
        out = run.results(f"{name}{suffix}")
        readme = write_table(Path(run.results_root), out, run.named(suffix))
        # what made the table (command, commit, versions); it trains nothing
        records.write_json(out / "environment.json", records.environment())
        print(readme.read_text())


def check_evaluator(required: bool) -> None:
    """Before any training: a study that needs the evaluator fails now with `EvaluatorUnavailable`
    (missing, or below its accuracy floor), not after hours of training."""
    if required:
        evaluate.load_evaluator()


def reproducing_command(script: str, argv: list[str]) -> str:
    """The `make` line that reproduces a run of experiments/<script> with `argv`'s flags."""
    stem = Path(script).stem
    target = f"make {MAKE_TARGETS.get(stem, stem)}"
    shorthands = {
        ("vae_mnist", "--smoke"): "make smoke",
        ("table1", "--quick"): "make table1 QUICK=1",
    }
    args = []
    for arg in argv:
        name = arg.lstrip("-").split("=", 1)[0]
        if (stem, arg) in shorthands:
            target = shorthands[(stem, arg)]
        elif name not in WHERE_FLAGS:
            args.append(arg)
    return target + (f" ARGS={shlex.quote(' '.join(args))}" if args else "")


def _debugging() -> bool:
    return os.environ.get("VAEGAN_TF_DEBUG", "") not in ("", "0") or bool(
        FLAGS.is_parsed() and FLAGS.debug
    )


def _fail(message: str, code: int):
    if _debugging():
        traceback.print_exc()
    print(" ".join(message.split()), file=sys.stderr)  # one line, whatever the message's own breaks
    sys.exit(code)


def _parse(argv: list[str]) -> list[str]:
    try:
        return FLAGS(argv)
    except flags.Error as error:
        _fail(f"usage error: {error} (--helpfull lists every flag)", 2)


def run(main) -> None:
    """`app.run(main)` for an experiment's entry point (see the module docstring)."""

    def guarded(argv):
        records.COMMAND = reproducing_command(argv[0], sys.argv[1:])
        try:
            if (
                FLAGS.strategy == "multiworker"
            ):  # before any tensor exists: see distribute._multiworker
                distribute.make_strategy("multiworker")
            return main(argv)
        except app.UsageError as error:
            _fail(f"usage error: {error}", 2)
        except USER_ERRORS as error:
            _fail(f"error: {error}", 1)

    app.run(guarded, flags_parser=_parse)
