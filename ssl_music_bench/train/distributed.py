"""Everything that makes N training processes (DDP) compute what one process computes.

The protocol's ``batch_size`` is the GLOBAL batch: each of the N processes holds its slice of
the same seeded global batch (ssl_music_bench/data/sampler.py, :func:`per_process_batch`). Four
things would otherwise depend on N, and each has its piece here:

- **which process this is**: :func:`distributed_rank`, read by the batch samplers once the
  trainer has set up the process group;
- **random draws on the device** (crops, coins, noise): :func:`draw` and :func:`sharded_draws`;
- **batch-norm statistics**: :func:`synchronise_batch_norm` makes them those of the global batch;
- **contrastive negatives**: :func:`gather_rows` stacks every process's rows, with gradients.

Random draws. If each process drew its crops, coins and noise for its own rows from its own
stream, the examples would get other draws than in one process with the whole batch, and N
processes would train a different (equally random) model than one. Instead every process seeds
its device generator with the same (seed, step) (train/module.py) and, for each draw, draws the
values of the whole GLOBAL batch and keeps its own rows: example k of the global batch gets the
same crop, coins and noise whatever N is (tests/train/test_draws.py,
tests/train/test_distributed.py). The price is drawing N times as many numbers, which is small
next to the model (parameters are a few numbers per example; the largest draw is white noise of
one crop per example). Every draw must be made by every process with the same global shape, also
where the local rows do not need it (e.g. noise for rows whose coin said "no"), so that the
processes' streams stay in step. A draw is written as ``draw(batch, lambda n: torch.rand(n, ...))``:
``make(n)`` draws n examples' values along dimension 0. Outside :func:`sharded_draws` (one
process, evaluation, tests) it is simply ``make(batch)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import MethodType

import torch
import torch.distributed as dist
from lightly.utils.dist import gather
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from ssl_music_bench.errors import BenchError


def distributed_rank() -> tuple[int, int]:
    """(rank, world size) of this process; (0, 1) without a process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def per_process_batch(batch_size: int, devices: int, num_nodes: int) -> int:
    """The protocol's global batch split over ``devices x num_nodes`` processes, or a BenchError."""
    world = devices * num_nodes
    if devices < 1 or num_nodes < 1:
        raise BenchError(f"devices ({devices}) and nodes ({num_nodes}) must be at least 1.")
    if batch_size % world:
        raise BenchError(
            f"The protocol's pretraining batch of {batch_size} examples is the global batch, split "
            f"evenly over {devices} device(s) x {num_nodes} node(s) = {world} processes, but "
            f"{batch_size} is not divisible by {world}. Use a number of devices that divides "
            f"{batch_size}, or a protocol whose batch_size is a multiple of {world}."
        )
    return batch_size // world


_shard: tuple[int, int] = (0, 1)  # (rank, world size) of the training step in progress


@contextmanager
def sharded_draws(rank: int, world_size: int) -> Iterator[None]:
    """Within the block, draws are those of this process's rows of the global batch."""
    global _shard
    previous, _shard = _shard, (rank, world_size)
    try:
        yield
    finally:
        _shard = previous


def draw(batch: int, make: Callable[[int], Tensor]) -> Tensor:
    """This process's ``batch`` rows of ``make(batch x world size)`` (see the module doc)."""
    rank, world = _shard
    if world == 1:
        return make(batch)
    return make(batch * world)[rank * batch : (rank + 1) * batch]


def gather_rows(x: Tensor) -> tuple[Tensor, int]:
    """(x of every process stacked along dim 0, offset of this process's rows), with gradients.

    The backward pass sums the gradients of every process's loss for this process's rows
    (lightly's GatherLayer). With DDP's gradient averaging over N processes, each holding the
    mean loss of its B anchors against all N x B positives, the parameters then get the gradient
    of the mean loss over all N x B anchors: exactly the single-process loss of the whole batch.
    Every process must hold the same number of rows. Single process: ``(x, 0)``, untouched.
    """
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return x, 0
    return torch.cat(gather(x), dim=0), dist.get_rank() * x.shape[0]


def global_batch_norm(self: _BatchNorm, x: Tensor) -> Tensor:
    """A batch-norm layer's forward with mean and variance over the batch of every process.

    Installed on a layer's instance by :func:`synchronise_batch_norm`. Unlike torch's
    SyncBatchNorm it works on every device (CPU and gloo too, so the equivalence test runs in
    CI) and keeps the activation of timm's BatchNormAct2d. The sums go through an all-reduce
    with gradients, so each process's backward sums every process's loss, as the contrastive
    gathers do. Statistics in float32, also under mixed precision.
    """
    if not (self.training and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
        return type(self).forward(self, x)
    from torch.distributed.nn.functional import all_reduce

    dims = [0, *range(2, x.dim())]
    shape = [1, x.shape[1]] + [1] * (x.dim() - 2)
    values = x.float()
    sums = all_reduce(torch.cat([values.sum(dims), values.new_tensor([values.numel() / x.shape[1]])]))
    count = sums[-1].detach()
    mean = sums[:-1] / count
    centred = values - mean.view(shape)
    variance = all_reduce(centred.square().sum(dims)) / count
    out = centred * torch.rsqrt(variance + self.eps).view(shape)
    if self.weight is not None:
        out = out * self.weight.view(shape) + self.bias.view(shape)
    if self.track_running_stats and self.running_mean is not None and self.running_var is not None:
        with torch.no_grad():
            self.num_batches_tracked.add_(1)  # type: ignore[union-attr,operator]
            factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
            unbiased = variance.detach() * count / max(float(count) - 1, 1.0)
            self.running_mean.lerp_(mean.detach().to(self.running_mean.dtype), factor)
            self.running_var.lerp_(unbiased.to(self.running_var.dtype), factor)
    out = out.to(x.dtype)
    if hasattr(self, "act"):  # timm's BatchNormAct2d: norm, then dropout and activation
        out = self.act(self.drop(out))
    return out


def synchronise_batch_norm(module: nn.Module) -> list[_BatchNorm]:
    """Make every batch-norm layer of ``module`` use global-batch statistics; returns the layers
    for :func:`restore_batch_norm`. Weights, buffers and the module tree stay as they are."""
    layers = [m for m in module.modules() if isinstance(m, _BatchNorm)]
    for layer in layers:
        layer.forward = MethodType(global_batch_norm, layer)  # type: ignore[method-assign]
    return layers


def restore_batch_norm(layers: list[_BatchNorm]) -> None:
    """Undo :func:`synchronise_batch_norm`: the layers' class forward again (embedding, saving)."""
    for layer in layers:
        del layer.forward
