"""Exponential moving average of weights (used for sampling)."""

from __future__ import annotations

import torch
from torch import nn


class EMA:
    """``ema = decay · ema + (1 - decay) · θ`` after every optimizer step, over floating tensors.

    Warm-up (as in many diffusion codebases): the effective decay is
    ``min(decay, (1 + step) / (10 + step))`` so early averages are not dominated by the init.
    """

    def __init__(self, model: nn.Module, decay: float = 0.999):
        self.decay = decay
        self.shadow = {k: v.detach().clone().float() for k, v in model.state_dict().items()}

    def effective_decay(self, step: int) -> float:
        return min(self.decay, (1 + step) / (10 + step))

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        decay = self.effective_decay(step)
        for name, value in model.state_dict().items():
            if value.dtype.is_floating_point:
                self.shadow[name].lerp_(value.float(), 1 - decay)
            else:
                self.shadow[name].copy_(value)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.shadow

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        missing = set(self.shadow) - set(state)
        if missing:
            raise KeyError(f"EMA state lacks {sorted(missing)[:5]}")
        self.shadow = {k: state[k].clone().float() for k in self.shadow}

    def shard_like(self, model: nn.Module) -> None:
        """After FSDP wrapping: split each average like the model's (DTensor) weight, so every
        rank averages its own shard."""
        from torch.distributed.tensor import DTensor, distribute_tensor

        for name, value in model.state_dict().items():
            if isinstance(value, DTensor) and not isinstance(self.shadow[name], DTensor):
                self.shadow[name] = distribute_tensor(self.shadow[name].to(value.device), value.device_mesh,
                                                      value.placements)

    def full_state_dict(self) -> dict[str, torch.Tensor]:
        """The averages as whole tensors (gathers FSDP shards: every rank must call it)."""
        from torch.distributed.tensor import DTensor

        return {k: v.full_tensor() if isinstance(v, DTensor) else v for k, v in self.shadow.items()}

    def copy_to(self, model: nn.Module) -> None:
        """Load the averaged weights into ``model`` (e.g. a copy used for sampling)."""
        model.load_state_dict({k: v.to(model.state_dict()[k].dtype) for k, v in self.shadow.items()})
