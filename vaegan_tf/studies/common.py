"""The skeleton every study shares: where it runs and reads and writes (`RunSettings`), how it
trains a model (`train_model`: the seeded data streams, the harness's run, `training.train`), and
what it records after training (`record_run`: the training log and its loss curves, metrics.json,
config.json and environment.json in results/<name>/). A study is then: load the splits,
`train_model`, measure and draw, `record_run`, and write its README with `studies.report`.

Inside `RunSettings.session(name)` (how the experiments' entry points run a study) the work folder
work/<name>/ is held exclusively, and every results folder that `RunSettings.results` hands out is a
staging folder of the same name under results/.staging-<pid>/, swapped into place in one step when
the study completes: results/<name>/ is always either the previous run or the new one, never a mix
or a half. A study that fails leaves the previous results untouched. Outside a session (tests,
notebooks) `results` is the final folder itself."""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from vaegan_tf import data, distribute, dtypes, plots, records, training
from vaegan_tf.choices import check_choice

# The sessions open in this process, innermost last: each stages the results folders it hands out.
_SESSIONS: list[dict] = []


@dataclasses.dataclass(frozen=True)
class RunSettings:
    """Where a study runs and where its data and outputs live, and the precision it trains in;
    only the precision changes what is computed (in the last bits, a run of its own)."""

    strategy: str = "auto"
    source: str = "auto"
    data_dir: str | None = None
    results_root: str = "results"
    work_root: str = "work"
    steps_per_epoch: int | None = None  # None: one pass over the training data
    # smoke runs only: the first N validation and test images, so a check of the wiring does not
    # spend its minutes evaluating; None (every real run) keeps all of them
    evaluation_images: int | None = None
    # the Keras dtype policy every model is trained in (`vaegan_tf.dtypes`): float32, the
    # documents', or mixed_bfloat16, faster on CPUs with bfloat16 units and a run of its own
    precision: str = "float32"
    # the study's seed, read here only to name folders: a run of seed s > 0 is a run of its own, in
    # <name>_seed<s>/, so a second seed never writes over, resumes or loads the first one's results
    # and weights; seed 0 keeps the plain names. A study config sets it from its own `seed`
    # (`follow_study_seed`): set the study's seed, not this one
    seed: int = 0

    def __post_init__(self):
        check_choice(self.strategy, distribute.STRATEGIES, "strategy")
        check_choice(self.precision, dtypes.PRECISIONS, "precision")
        check_choice(self.source, data.SOURCES, "data source")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a whole number >= 0, not {self.seed!r}")
        for field in ("steps_per_epoch", "evaluation_images"):
            value = getattr(self, field)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                raise ValueError(f"{field} must be a whole number >= 1 (or None), not {value!r}")

    def named(self, name: str) -> str:
        """The name a study's runs and results take: `name` for seed 0 in float32, else with
        `_seed<s>` and then `_mixed_bfloat16`, so another seed or a bfloat16 run never writes over
        (or loads) the results and weights of seed 0 in float32. In a nested name
        (`figure10/draw`) the top folder takes the suffixes."""
        suffix = (f"_seed{self.seed}" if self.seed else "") + (
            f"_{self.precision}" if self.precision != "float32" else ""
        )
        top, slash, rest = name.partition("/")
        return f"{top}{suffix}{slash}{rest}"

    def work_dir(self, name: str) -> Path:
        """work/<name>/ of the run called `name` at this seed and precision."""
        return Path(self.work_root) / self.named(name)

    def load(self, dataset: str = "mnist") -> data.DatasetSplits:
        splits = data.load(dataset, split="tf1", source=self.source, data_dir=self.data_dir)
        if self.evaluation_images is None:
            return splits

        def first(split):
            return (
                None
                if split is None
                else split.subset(np.arange(min(len(split), self.evaluation_images)))
            )

        return dataclasses.replace(
            splits, validation=first(splits.validation), test=first(splits.test)
        )

    def training_run(
        self, name: str, epochs: int, seed: int, steps_per_epoch: int, model_config=None
    ) -> training.RunConfig:
        """The harness's RunConfig; `steps_per_epoch` is the study's own, unless these settings
        override it. With `model_config`, a backup or finished run is resumed or reused only by that
        same model."""
        return training.RunConfig(
            self.named(name),
            epochs,
            seed=seed,
            strategy=self.strategy,
            work_root=self.work_root,
            steps_per_epoch=self.steps_per_epoch or steps_per_epoch,
            model_signature=None if model_config is None else training.signature(model_config),
            precision=self.precision,
        )

    def results(self, name: str) -> Path:
        """results/<name>/, or inside a `session` the staging folder that will replace it."""
        final = Path(self.results_root) / self.named(name)
        if not _SESSIONS:
            return final
        staged = _SESSIONS[-1]
        if final.resolve() not in staged["folders"]:
            staged["folders"][final.resolve()] = staged["stack"].enter_context(
                records.staged_directory(final)
            )
        return staged["folders"][final.resolve()]

    @contextlib.contextmanager
    def session(self, name: str):
        """Runs a study called `name`: holds work/<name>/ (a second run of it fails at once with
        `training.RunLocked`), and stages every results folder `results` hands out until the block
        ends: then each replaces its final folder in one step; if the block fails, none does."""
        with (
            training.exclusive(self.work_dir(name), self.named(name)),
            contextlib.ExitStack() as stack,
        ):
            _SESSIONS.append({"stack": stack, "folders": {}})
            try:
                yield self
            finally:
                _SESSIONS.pop()


def follow_study_seed(config) -> None:
    """Call from a study config's `__post_init__`: its `run` takes the study's `seed`, so the seed
    that trains the models is the one that names their folders (`RunSettings.named`), whichever
    of the two a caller set. The study's seed is the one that counts."""
    if config.run.seed != config.seed:
        object.__setattr__(config, "run", dataclasses.replace(config.run, seed=config.seed))


# Validation batches are inference only (batch norm in inference mode), so their size changes
# nothing but speed.
VALIDATION_BATCH = 500


def seeded(config, seed: int):
    """`config` with `seed` in its `seed` field and in those of the configs nested in it (a
    VAE-GAN's VAE, an SSL-VAE-GAN's M2, ...): the study's seed is the model's, set in this one
    place. Anything that is not a dataclass (a plain description) comes back as it is."""
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        return config
    changes = {
        field.name: seeded(getattr(config, field.name), seed)
        for field in dataclasses.fields(config)
        if dataclasses.is_dataclass(getattr(config, field.name))
    }
    if any(field.name == "seed" for field in dataclasses.fields(config)):
        changes["seed"] = seed
    return dataclasses.replace(config, **changes)


def train_model(
    run: RunSettings,
    name: str,
    build: Callable[[object], keras.Model],
    model_config,
    splits: data.DatasetSplits,
    *,
    epochs: int,
    batch_size: int,
    seed: int,
    preprocessing: str = "unit",
    validation: bool = True,
    transform: Callable | None = None,
    callbacks=(),
) -> training.TrainingOutcome:
    """`build(seeded(model_config, seed))` trained for `epochs` on the training split under the
    harness (resumed from a backup, or loaded from a finished run of the same model and schedule),
    as work/<name>/. The seeded `model_config` identifies the model, so a backup or finished run of
    another model is never resumed by this one; the trained model is `outcome.model`.

    The training stream is the split shuffled per epoch by `seed`, in whole batches (every step
    sees `batch_size` images, as the papers' loops do); the validation stream is one ordered pass of
    the validation split with the same `preprocessing` (binarization keyed by `seed + 1`, so it
    never repeats a training draw). `transform(images, labels)`, when given, maps every batch of
    both streams to what the model trains on (a CVAE conditioned on the left half, say)."""
    model_config = seeded(model_config, seed)
    train_data = data.pipeline(
        splits.train,
        batch_size=batch_size,
        preprocessing=preprocessing,
        shuffle=True,
        seed=seed,
        drop_remainder=True,
    )
    validation_data = None
    if validation and splits.validation is not None:
        validation_data = data.pipeline(
            splits.validation,
            batch_size=min(VALIDATION_BATCH, len(splits.validation)),
            preprocessing=preprocessing,
            seed=seed + 1,
        )
    if transform is not None:
        train_data = train_data.map(transform, num_parallel_calls=tf.data.AUTOTUNE)
        if validation_data is not None:
            validation_data = validation_data.map(transform, num_parallel_calls=tf.data.AUTOTUNE)
    steps = data.steps_per_epoch(splits.train, batch_size, drop_remainder=True)
    run_config = run.training_run(name, epochs, seed, steps, model_config=model_config)
    return training.train(
        run_config, lambda: build(model_config), train_data, validation_data, callbacks=callbacks
    )


def record_run(
    out: Path,
    outcome: training.TrainingOutcome,
    *,
    config,
    metrics: dict,
    started: float,
    data_source: str,
    loss_title: str,
) -> None:
    """`started` is the `time.perf_counter()` of the run's beginning (evaluation time counts in
    total)."""
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(outcome.log_csv, out / "training_log.csv")
    plots.loss_curves(out / "training_log.csv", out / "loss_curves.png", title=loss_title)
    records.write_json(out / "metrics.json", metrics)
    records.write_json(out / "config.json", config)
    records.write_json(out / "environment.json", outcome_environment(outcome, started, data_source))


def outcome_environment(
    outcome: training.TrainingOutcome, started: float, data_source: str
) -> dict:
    """environment.json of one trained (or reused) model: `records.environment` with its strategy,
    epochs, training and total time, and where a resumed or reused run's weights were made
    (`resumed_from_commit`, the commit they were trained at where it is not this one)."""
    return records.environment(
        strategy_description=distribute.describe(outcome.strategy),
        epochs=outcome.epochs_trained,
        wall_seconds=outcome.wall_seconds,
        total_seconds=round(time.perf_counter() - started, 1),
        data_source=data_source,
        resumed_from_epoch=outcome.resumed_from_epoch,
        resumed_from_commit=outcome.resumed_from_commit,
        reused_finished=outcome.reused_finished,
    )
