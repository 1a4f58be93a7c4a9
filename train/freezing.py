"""Which parameters a phase trains: explicit selection by component name, checked, applied
through the model's one switch (`model.freeze(trainable=...)`), and logged as a table of
trainable parameters per component (`model.components()` plus LoRA).

Selectable parts are the model's `COMPONENTS` (`tower.*`, `adapter.*`, `fusion`, `llm`) plus its
`LLM_PARTS`: `lora` (the LoRA matrices inside the LLM), `llm.embeddings` and `llm.head`.
Everything not selected is frozen (`requires_grad=False`); a selector that matches no parameter
is an error naming the phase, before any work.
"""

from __future__ import annotations

import fnmatch
import logging
import math

from torch import nn

from data_pipeline.errors import ConfigError
from data_pipeline.tables import markdown_table
from train.curriculum import COMPONENT_GROUPS

logger = logging.getLogger(__name__)


def is_lora(name: str) -> bool:
    return ".lora_" in name


def selectable_parts(model: nn.Module) -> dict[str, list[str]]:
    """Part name -> full names of its parameters (as in `model.named_parameters()`)."""
    name_of = {id(p): n for n, p in model.named_parameters()}
    parts: dict[str, list[str]] = {}
    for component, module in model.components().items():
        names = [name_of[id(p)] for p in module.parameters() if id(p) in name_of]
        if component == "llm":
            parts["lora"] = [n for n in names if is_lora(n)]
            names = [n for n in names if not is_lora(n)]
        parts[component] = names
    llm = model.language_model
    parts["llm.embeddings"] = [name_of[id(p)] for p in llm.get_input_embeddings().parameters()]
    head = llm.get_output_embeddings()
    parts["llm.head"] = [name_of[id(p)] for p in head.parameters()] if head is not None else []
    unknown = set(parts) - set(COMPONENT_GROUPS)
    if unknown:  # the model's names and the curriculum's are one list; this is a programming error
        raise RuntimeError(f"parts not in the model's COMPONENTS / LLM_PARTS: {sorted(unknown)}")
    return parts


def select_trainable(model: nn.Module, selectors: list[str], phase: str) -> dict[str, str]:
    """Freeze everything, then unfreeze the selected parts. Returns {parameter name: group}."""
    parts = selectable_parts(model)
    chosen: dict[str, str] = {}
    for selector in selectors:
        matched = [part for part in fnmatch.filter(parts, selector) if parts[part]]
        if not matched:
            present = ", ".join(p for p, names in parts.items() if names)
            raise ConfigError(f"phase {phase}: train names {selector!r}, but the model has no parameters there "
                              f"(parts with parameters: {present})")
        for part in matched:
            chosen.update(dict.fromkeys(parts[part], COMPONENT_GROUPS[part]))
    for name, parameter in model.named_parameters():
        if name in chosen and not parameter.is_floating_point():
            raise ConfigError(f"phase {phase}: {name} is quantised ({parameter.dtype}) and can't be trained; "
                              "train LoRA on a 4-bit LLM instead")
    model.freeze(trainable=chosen)
    return chosen


def trainable_names(model: nn.Module) -> set[str]:
    return {n for n, p in model.named_parameters() if p.requires_grad}


def _count(parameter: nn.Parameter) -> int:
    """Real element count, also for ZeRO-3 partitioned (ds_numel) and 4-bit packed parameters."""
    if hasattr(parameter, "ds_numel"):
        return int(parameter.ds_numel)
    quant_state = getattr(parameter, "quant_state", None)
    if quant_state is not None:
        return math.prod(quant_state.shape)
    return parameter.numel()


def parameter_table(model: nn.Module) -> list[dict]:
    """One row per component (and LoRA): total and trainable parameters."""
    parameters = dict(model.named_parameters())
    rows = []
    for part, names in selectable_parts(model).items():
        if part in ("llm.embeddings", "llm.head") or (part == "lora" and not names):
            continue
        total = sum(_count(parameters[n]) for n in names)
        trainable = sum(_count(parameters[n]) for n in names if parameters[n].requires_grad)
        rows.append({"component": part, "parameters": total, "trainable": trainable})
    return rows


def format_table(rows: list[dict]) -> str:
    total = sum(r["parameters"] for r in rows)
    trainable = sum(r["trainable"] for r in rows)
    cells = [[r["component"], f"{r['parameters']:,}", f"{r['trainable']:,}"] for r in rows]
    cells.append(["**total**", f"{total:,}", f"{trainable:,} ({100 * trainable / max(total, 1):.1f} %)"])
    return markdown_table(["component", "parameters", "trainable"], cells)


def log_trainable(model: nn.Module, phase: str) -> list[dict]:
    rows = parameter_table(model)
    logger.info("phase %s: trainable parameters per component\n%s", phase, format_table(rows))
    return rows
