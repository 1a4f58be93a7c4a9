"""A phase's output directory: a plain `from_pretrained`-loadable EmoLLM (LoRA merged into the
full-precision base, also after QLoRA), its processor, and `training.json` with the phase's
config, metrics (final loss, steps, time), trainable-parameter table and package versions;
plus a model card when `emollm.model_card` is available. Written under a temporary name and
renamed into place, so a directory named after a phase is always complete.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import shutil
from pathlib import Path

from emollm.versions import package_versions
from train.checkpoints import publish, staging_dir, write_json_atomic
from train.lora import attach_lora, load_phase_model, merge_lora

logger = logging.getLogger(__name__)

TRAINING_INFO = "training.json"
PACKAGES = ("emollm", "torch", "transformers", "peft", "accelerate", "deepspeed", "bitsandbytes", "tokenizers",
            "safetensors", "numpy")


def export_phase(init_dir: Path, phase, trained: dict, out_dir: Path, info: dict) -> Path:
    """Rebuild the starting model in full precision, overlay the trained tensors, merge LoRA,
    save, and publish as `out_dir` (main process only)."""
    from emollm import EmoLLMProcessor

    model = load_phase_model(init_dir, phase.lora, for_training=False)
    if phase.lora is not None:
        attach_lora(model, phase.lora)
    result = model.load_state_dict(trained, strict=False)
    if result.unexpected_keys:
        raise RuntimeError(f"trained tensors don't fit the phase's model: {sorted(result.unexpected_keys)[:5]}")
    merge_lora(model)
    staging = staging_dir(out_dir)
    model.save_pretrained(staging)
    EmoLLMProcessor.from_pretrained(init_dir).save_pretrained(staging)
    write_json_atomic(staging / TRAINING_INFO, info | {"versions": package_versions(PACKAGES)})
    write_card(staging, info)
    publish(staging, out_dir)
    logger.info("phase %s: model written to %s", info.get("phase"), out_dir)
    return out_dir


def write_card(model_dir: Path, info: dict) -> None:
    """The evaluation side's model card writer, when the package has it."""
    if importlib.util.find_spec("emollm.model_card") is None:
        logger.info("emollm.model_card is not available: no model card written")
        return
    from emollm.model_card import write_model_card

    write_model_card(model_dir, **info)


def copy_model(source: Path, target: Path) -> None:
    """`DIR/final`: a complete copy of the last phase's output."""
    staging = staging_dir(target)
    shutil.copytree(source, staging, dirs_exist_ok=True)
    publish(staging, target)


def is_done(out_dir: Path) -> bool:
    return (out_dir / TRAINING_INFO).is_file()


def read_info(out_dir: Path) -> dict:
    return json.loads((out_dir / TRAINING_INFO).read_text())
