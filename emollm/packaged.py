"""Configs that ship inside the package (emollm/configs/: model presets, curricula, DeepSpeed
JSON), so a wheel install finds them by name from any directory. A path is used as is; the
checkout's top-level `configs` is a symlink to emollm/configs, so `configs/...` paths work there."""

from __future__ import annotations

from pathlib import Path

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
SUFFIX = {"model": ".yaml", "curriculum": ".yaml", "deepspeed": ".json"}


def shipped(kind: str) -> list[str]:
    """The names of the shipped configs of one kind ("model", "curriculum", "deepspeed")."""
    return sorted(p.stem for p in (CONFIG_DIR / kind).glob(f"*{SUFFIX[kind]}"))


def is_name(name_or_path: str | Path) -> bool:
    """A bare name ("tiny", "p2e-tiny", "zero3"): no folder, no file suffix."""
    path = Path(name_or_path)
    return len(path.parts) == 1 and not path.suffix


def shipped_path(kind: str, name: str) -> Path:
    return CONFIG_DIR / kind / f"{name}{SUFFIX[kind]}"


def find_config(kind: str, name_or_path: str | Path) -> Path:
    """A shipped config's file for a bare name, else the path itself (existing or not)."""
    return shipped_path(kind, str(name_or_path)) if is_name(name_or_path) else Path(name_or_path)
