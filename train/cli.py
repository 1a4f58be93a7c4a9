"""`emollm train --config FILE --out DIR [--phase NAME] [--resume] [key=value ...]`

Runs a curriculum (every phase, or one with --phase) on one CPU process, under torchrun /
the DeepSpeed launcher with several processes, or on several nodes (docs/training.md). All
checks (config keys and values, supported combinations, trainable parts, dataset files, the
state of DIR) happen before any work.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from data_pipeline.errors import ConfigError

logger = logging.getLogger(__name__)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "train", help="run a training curriculum (P2E phases)",
        description="Run a curriculum of training phases; each phase's model goes to DIR/<phase>/ and the "
                    "last one's also to DIR/final/. Overrides: key=value on the curriculum YAML, e.g. "
                    "phases.3.max_steps=5, deepspeed=zero2, or steps=5 to cap every phase.")
    parser.add_argument("--config", required=True, type=Path,
                        help="a shipped curriculum by name (p2e, p2e-tiny) or a curriculum YAML file")
    parser.add_argument("--out", required=True, type=Path, help="run directory")
    parser.add_argument("--phase", help="run only this phase (its starting phase must be done in DIR)")
    parser.add_argument("--resume", action="store_true",
                        help="continue: skip finished phases, resume the current one from its newest "
                             "complete checkpoint")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="curriculum overrides")
    parser.set_defaults(func=main)


def select_phases(curriculum, only: str | None) -> list[str]:
    names = list(curriculum.phases)
    if only is None:
        return names
    if only not in curriculum.phases:
        raise ConfigError(f"--phase {only}: no such phase; phases: {', '.join(names)}")
    return [only]


def check_out_dir(run, phases: list[str], resume: bool) -> None:
    """Refuse to overwrite a run by accident, and to start a phase whose starting model is missing."""
    from train import outputs
    from train.checkpoints import checkpoints
    from train.curriculum import BASE

    for name in phases:
        if not resume and (run.phase_dir(name).exists() or checkpoints(run.checkpoint_dir(name))):
            raise ConfigError(f"{run.out} already holds phase {name}; pass --resume to continue that run, "
                              "or choose another --out")
        init = run.curriculum.phases[name].init
        if init != BASE and init not in phases[: phases.index(name)] and not outputs.is_done(run.phase_dir(init)):
            raise ConfigError(f"phase {name} starts from phase {init}, which {run.out} doesn't have; "
                              f"run --phase {init} first (or the whole curriculum)")


def prepare_base(run) -> None:
    """DIR/base from the preset (main process; written under a temporary name)."""
    from emollm.presets import init_model_dir
    from train.checkpoints import publish, staging_dir
    from train.distributed import barrier

    source = run.curriculum.model
    if source.dir is None and run.world.is_main and not (run.base_dir / "config.json").exists():
        staging = staging_dir(run.base_dir)
        init_model_dir(source.preset, staging, load_weights=source.load_weights, seed=run.curriculum.seed)
        publish(staging, run.base_dir)
    barrier()


def summary(rows: list[dict]) -> str:
    from data_pipeline.tables import markdown_table

    cells = [[row["phase"], row["metrics"]["steps"], _fmt(row["metrics"]["first_loss"]), _fmt(row["metrics"]["final_loss"]),
              row["metrics"]["seconds"], row["dir"]] for row in rows]
    return markdown_table(["phase", "steps", "first loss", "final loss", "time (s)", "model"], cells,
                          ["left", "right", "right", "right", "right", "left"])


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.4f}"


def main(args: argparse.Namespace) -> int:
    from train.curriculum import dump, load_curriculum
    from train.data import check_datasets
    from train.distributed import finish_world, init_world, launched_world_size
    from train.runner import Run
    from train.support import check_supported, check_trainable_parts

    curriculum = load_curriculum(args.config, args.overrides)
    phases = select_phases(curriculum, args.phase)
    check_supported(curriculum, phases, launched_world_size())
    check_trainable_parts(curriculum, phases)
    check_datasets(curriculum, phases)
    probe = Run(curriculum, args.out, world=None, cache_dir=curriculum.feature_cache_dir)
    check_out_dir(probe, phases, args.resume)

    import torch

    threads_before = torch.get_num_threads()
    if curriculum.torch_threads:
        torch.set_num_threads(curriculum.torch_threads)
    world = init_world(use_deepspeed=curriculum.deepspeed is not None)
    if not world.is_main:
        logging.getLogger().setLevel(logging.WARNING)  # one process tells the story
    try:
        run = Run(curriculum, args.out, world, curriculum.feature_cache_dir)
        if world.is_main:
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / "curriculum.yaml").write_text(dump(curriculum))
        prepare_base(run)
        rows = run_phases(run, phases, args.resume)
        if world.is_main:
            print(summary(rows))
    finally:
        finish_world()
        # `emollm demo` and the tests run several commands in one process: a curriculum's thread
        # count must not leak into the next (it changes float reduction order, hence the weights)
        torch.set_num_threads(threads_before)
    return 0


def run_phases(run, phases: list[str], resume: bool) -> list[dict]:
    from train import outputs
    from train.runner import run_phase

    rows = []
    for index, name in enumerate(phases, 1):
        if resume and outputs.is_done(run.phase_dir(name)):
            logger.info("phase %s (%d/%d) is done: %s", name, index, len(phases), run.phase_dir(name))
            info = outputs.read_info(run.phase_dir(name))
        else:
            logger.info("phase %s (%d/%d): %s", name, index, len(phases), run.curriculum.phases[name].description)
            info = run_phase(run, name, resume)
        rows.append(info | {"dir": str(run.phase_dir(name))})
    last = run.curriculum.last_phase
    if last in phases and run.world.is_main:
        outputs.copy_model(run.phase_dir(last), run.out / "final")
        logger.info("final model: %s", run.out / "final")
    return rows
