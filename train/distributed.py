"""One process, several (torchrun / the DeepSpeed launcher), or several nodes: the process-group
set-up the Trainer needs, done once per run (docs/training.md has the launch commands).

* The launcher's environment (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT) is used as is; a
  single DeepSpeed process without a launcher gets a one-process environment (otherwise
  DeepSpeed looks for mpi4py).
* `PartialState` is created first (gloo on CPU, the default backend on GPUs) and every phase's
  Trainer uses it (`accelerator_config={"use_configured_state": True}`); with DeepSpeed,
  ACCELERATE_USE_DEEPSPEED=true. Without these on CPU a batch-size assertion fires or each rank
  silently trains alone.
* The run ends with a barrier and `destroy_process_group()`.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    rank: int
    world_size: int
    local_rank: int

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def launched_world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def init_world(use_deepspeed: bool) -> World:
    from accelerate import PartialState

    if use_deepspeed:
        os.environ["ACCELERATE_USE_DEEPSPEED"] = "true"
        if "RANK" not in os.environ:  # one process, no launcher
            os.environ.update({"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0",
                               "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(free_port())})
    distributed = use_deepspeed or launched_world_size() > 1
    state = PartialState(backend="gloo") if distributed and not torch.cuda.is_available() else PartialState()
    return World(state.process_index, state.num_processes, state.local_process_index)


def barrier() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def finish_world() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
