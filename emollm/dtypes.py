"""`--dtype` for the commands that load a model (serve, chat, eval, predict), with vLLM's values.

`auto` follows vLLM's CPU backend: bfloat16 where the CPU computes it natively (AVX-512 BF16 or
AMX), float32 otherwise; on a CUDA GPU bfloat16 where supported, else float16. torch is imported
only when a dtype is resolved, so `emollm --help` stays light.
"""

from __future__ import annotations

import argparse
import platform
from pathlib import Path

DTYPE_CHOICES: tuple[str, ...] = ("auto", "bfloat16", "float16", "float32")
_NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def add_dtype_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dtype", choices=DTYPE_CHOICES, default="auto",
                        help="weights and compute dtype (default auto: bfloat16 where the CPU or GPU has native "
                             "bfloat16, else float32 on a CPU and float16 on a GPU)")


def add_cpu_optimizations_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-cpu-optimizations", action="store_true",
                        help="run the model as transformers builds it: no prepacked weights, the towers' configured "
                             "attention, glibc's malloc defaults (slower on a CPU; for comparison, emollm.cpu_inference)")


def cpu_optimizations_on(args: argparse.Namespace) -> bool:
    """Whether a command runs with emollm.cpu_inference (no `--no-cpu-optimizations`); when it does,
    also turns on huge pages for tensors, which works only before torch is imported: call it first."""
    if args.no_cpu_optimizations:
        return False
    from emollm.allocator import huge_pages_for_tensors

    huge_pages_for_tensors()
    return True


def cpu_flags(cpuinfo: str | None = None) -> set[str]:
    """The instruction-set flags the CPU advertises (Linux /proc/cpuinfo; empty elsewhere)."""
    if cpuinfo is None:
        path = Path("/proc/cpuinfo")
        if platform.system() != "Linux" or not path.exists():
            return set()
        cpuinfo = path.read_text()
    return {flag for line in cpuinfo.splitlines() if line.startswith("flags") for flag in line.split(":", 1)[1].split()}


def cpu_has_native_bf16(cpuinfo: str | None = None) -> bool:
    """True when the CPU advertises a bf16 instruction set (Linux /proc/cpuinfo flags)."""
    return any(flag in cpu_flags(cpuinfo) for flag in _NATIVE_BF16_FLAGS)


def resolve_dtype(name: str):
    """The torch dtype a `--dtype` value names, with `auto` resolved for this machine."""
    import torch

    if name not in DTYPE_CHOICES:
        raise ValueError(f"--dtype {name!r}: expected one of {', '.join(DTYPE_CHOICES)}")
    if name != "auto":
        return getattr(torch, name)
    if torch.cuda.is_available():
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if cpu_has_native_bf16() else torch.float32
