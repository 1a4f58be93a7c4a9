"""Memory settings for inference on a CPU: glibc keeps freed memory for reuse, and PyTorch puts
large tensors on transparent huge pages.

* `keep_freed_memory`: glibc hands every allocation above its mmap threshold fresh pages from the
  kernel and gives them back on free, so a tensor of that size costs a page fault per 4 KiB on
  first touch. The towers allocate and free activations of tens of MB in every layer (CLIP-L on 8
  frames: 2056 x 4096 bf16, 17 MB), and PyTorch's CPU allocator keeps no cache of its own:
  measured, CLIP-L on 8 frames took 2.5 s with glibc's defaults and 1.9 s with the thresholds
  below. jemalloc or tcmalloc preloaded (LD_PRELOAD) is the usual cure, but needs the process
  started with it; `mallopt` sets glibc's own thresholds at run time. Memory freed stays with the
  process, so its resident size stays at its peak.
* `huge_pages_for_tensors`: PyTorch's CPU allocator asks the kernel for transparent huge pages
  (`madvise(MADV_HUGEPAGE)`) for tensors of 2 MB and more when `THP_MEM_ALLOC_ENABLE=1` is set
  before torch is imported (pytorch/pytorch#115990). Each decoded token reads every weight of the
  LLM once; on 4 KiB pages that stream stalls on TLB misses: measured, bf16 decoding of a
  nano-2b went from 11-12 to 17-18 tokens/s on 2 cores with it (Linux with THP set to `madvise`
  or `always`; elsewhere the variable does nothing).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import platform
import sys

logger = logging.getLogger(__name__)

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt parameters, <malloc.h>
MMAP_THRESHOLD = 32 * 2**20  # glibc's largest (HEAP_MAX_SIZE / 2 on 64-bit): bigger blocks are mapped anyway
TRIM_THRESHOLD = 2**31 - 1  # free memory at the top of the heap kept up to 2 GiB (an int)
_applied: bool | None = None


def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds for this process (once); False where the C library
    is not glibc (macOS, musl), where nothing changes."""
    global _applied
    if _applied is None:
        _applied = False
        name = ctypes.util.find_library("c") if platform.system() == "Linux" else None
        if name and platform.libc_ver()[0] == "glibc":
            libc = ctypes.CDLL(name)
            _applied = bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and \
                bool(libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
            logger.info("glibc malloc: freed blocks up to %d MiB are kept for reuse%s", MMAP_THRESHOLD >> 20,
                        "" if _applied else " (mallopt refused)")
    return _applied


THP_VARIABLE = "THP_MEM_ALLOC_ENABLE"


def huge_pages_for_tensors() -> bool:
    """Turn on PyTorch's huge pages for large CPU tensors in this process; it must run before torch
    is imported (the allocator reads the variable once). Returns whether it is on; a value the user
    set is kept."""
    if "torch" not in sys.modules:
        os.environ.setdefault(THP_VARIABLE, "1")
    elif THP_VARIABLE not in os.environ:
        logger.debug("%s not set: torch was imported first", THP_VARIABLE)
    return os.environ.get(THP_VARIABLE) == "1"
