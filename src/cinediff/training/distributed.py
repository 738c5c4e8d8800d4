"""torchrun integration: process group set-up and model wrapping (DDP, FSDP)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def setup_distributed(device: str | None = None) -> DistInfo:
    """Join the process group torchrun describes (gloo on CPU, nccl on CUDA); single process otherwise."""
    world_size = int(os.environ.get("WORLD_SIZE", 1))
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    use_cuda = torch.cuda.is_available() if device is None else device.startswith("cuda")
    dev = torch.device(f"cuda:{local_rank}" if use_cuda else "cpu")
    if use_cuda:
        torch.cuda.set_device(dev)
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    rank = dist.get_rank() if dist.is_initialized() else 0
    return DistInfo(rank, world_size, local_rank, dev)


def teardown_distributed() -> None:
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def wrap_model(model: nn.Module, info: DistInfo, strategy: str = "ddp") -> nn.Module:
    """DDP (default) or FSDP2 ``fully_shard`` for models too large to replicate."""
    if not info.enabled:
        return model
    if strategy == "ddp":
        from torch.nn.parallel import DistributedDataParallel

        return DistributedDataParallel(model, device_ids=[info.local_rank] if info.device.type == "cuda" else None)
    if strategy == "fsdp":
        from torch.distributed.fsdp import fully_shard

        return fully_shard(model)
    raise ValueError(f"unknown distributed strategy {strategy!r}; choose ddp or fsdp")


def mean_across_ranks(value: torch.Tensor) -> torch.Tensor:
    """The elementwise mean of a tensor over all ranks (identity without a process group)."""
    if dist.is_initialized():
        value = value.detach().clone()
        dist.all_reduce(value)
        value /= dist.get_world_size()
    return value


def check_replicas_in_sync(module: nn.Module) -> None:
    """Raise if the ranks' weights differ (a float64 checksum per rank, compared on all)."""
    if not dist.is_initialized():
        return
    checksum = torch.stack([p.detach().double().sum() for p in module.parameters()]).sum().reshape(1)
    gathered = [torch.zeros_like(checksum) for _ in range(dist.get_world_size())]
    dist.all_gather(gathered, checksum)
    if any(not torch.equal(g, gathered[0]) for g in gathered):
        raise RuntimeError(f"replicas diverged: weight checksums per rank {[g.item() for g in gathered]}")


# Full (unsharded) states, the same calls with or without FSDP: torch.distributed.checkpoint's
# state-dict API gathers shards (a collective: every rank calls it) and keys optimizer state
# by parameter name, so checkpoints do not depend on the world size or the wrapping.
def _full_options():
    from torch.distributed.checkpoint.state_dict import StateDictOptions

    return StateDictOptions(full_state_dict=True, cpu_offload=dist.is_initialized())


def full_model_state(model: nn.Module) -> dict[str, torch.Tensor]:
    from torch.distributed.checkpoint.state_dict import get_model_state_dict

    return get_model_state_dict(model, options=_full_options())


def full_optimizer_state(model: nn.Module, optimizer: torch.optim.Optimizer) -> dict:
    from torch.distributed.checkpoint.state_dict import get_optimizer_state_dict

    return get_optimizer_state_dict(model, optimizer, options=_full_options())


def set_full_optimizer_state(model: nn.Module, optimizer: torch.optim.Optimizer, state: dict) -> None:
    """Load a full optimizer state: keyed by parameter name (what ``full_optimizer_state`` writes),
    or by parameter index (``optimizer.state_dict()``, written by earlier cinediff versions)."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

    if all(isinstance(k, int) for k in state["state"]) and not dist.is_initialized():
        optimizer.load_state_dict(state)
        return
    # strict=False: parameters that never received a gradient (unused branches) have no state yet.
    set_optimizer_state_dict(model, optimizer, state, options=StateDictOptions(full_state_dict=True, strict=False))
