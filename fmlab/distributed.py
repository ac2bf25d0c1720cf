"""Several processes, one model: DistributedDataParallel when launched by torchrun.

    torchrun --nproc_per_node=4 -m fmlab pretrain --objective mae --data eeg --size medium

torchrun starts one process per GPU (or per CPU slot) and sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and
MASTER_PORT; ``init()`` joins them into one group (NCCL on GPUs, gloo on CPU). fit() then wraps the model in
DDP: every process draws its own share of each batch and its own masks, gradients are averaged, so the weights
stay identical on every process. Only rank 0 prints, evaluates and writes files. Without torchrun every
function here answers as for a single process, so the same code runs in a notebook.
"""
from __future__ import annotations

import os

import torch
import torch.distributed as dist


def launched() -> bool:
    """Whether torchrun (or another launcher) started several processes for this run."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init() -> torch.device:
    """Join the process group once (a no-op without a launcher); returns the device this process trains on:
    its own GPU (LOCAL_RANK) where there are GPUs, else the CPU."""
    if not launched():
        from .profiles import device
        return device()
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    if not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    return torch.device("cuda", torch.cuda.current_device()) if cuda else torch.device("cpu")


def active() -> bool:
    """Whether this process belongs to a group of more than one."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if active() else 0


def world_size() -> int:
    return dist.get_world_size() if active() else 1


def is_main() -> bool:
    """Rank 0: the process that prints, evaluates and writes checkpoints."""
    return rank() == 0


def mean(value: torch.Tensor) -> torch.Tensor:
    """The mean of a scalar tensor over every process (itself without a group). gloo has no AVG: SUM / N."""
    if not active():
        return value
    total = value.detach().clone()
    dist.all_reduce(total, op=dist.ReduceOp.SUM)
    return total / dist.get_world_size()


def _flag_device() -> torch.device:
    """Where a collective's tensor must live: NCCL reduces on the GPU, gloo on the CPU."""
    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")


def any_process(flag: bool) -> bool:
    """Whether ``flag`` holds on any process (``flag`` itself without a group), e.g. "I was interrupted", so
    that every process takes the same branch."""
    if not active():
        return flag
    total = torch.tensor([float(flag)], device=_flag_device())
    dist.all_reduce(total, op=dist.ReduceOp.MAX)
    return bool(total.item())


def from_main(value):
    """Rank 0's ``value`` (any picklable object) on every process; ``value`` itself without a group."""
    if not active():
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def wrap(model: torch.nn.Module, dev: torch.device) -> torch.nn.Module:
    """``model`` in DistributedDataParallel when in a group (rank 0's weights are copied to every process),
    else ``model`` itself."""
    if not active():
        return model
    from torch.nn.parallel import DistributedDataParallel
    if dev.type != "cuda":
        return DistributedDataParallel(model)
    return DistributedDataParallel(model, device_ids=[dev.index if dev.index is not None else torch.cuda.current_device()])


def share_buffers(model: torch.nn.Module) -> None:
    """Copy rank 0's buffers (e.g. BatchNorm running statistics, which each process updates from its own
    batch) to every process, so the processes end with one identical model."""
    if active():
        for buffer in model.buffers():
            dist.broadcast(buffer.data, src=0)


def close() -> None:
    """Leave the group (end of a torchrun script)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
