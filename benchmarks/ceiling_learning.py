"""How fast does the supervised ceiling learn a synthetic task, and what holds it back?

Trains EfficientNet-B0 (encoders/effnet.py) and a linear head on the train split of a synthetic
task, as methods/supervised.py does (Adam, cross-entropy on 1 s crops, dropout before the head),
with the knobs that the CPU ceilings of docs/TASKS.md were diagnosed with:

- ``--pool max`` (COLA's global max pooling, the encoder's own) or ``mean`` (for comparison only);
- ``--crops random`` (anywhere in the clip, as the ceiling trains) or ``onset`` (the first 0.25 s);
- ``--learning-rate``, ``--dropout``.

Every ``--every`` steps it prints the mean training loss of those steps and the valid split's
loss and accuracy on fixed crops, with the batch-norm statistics recomputed for the current
weights (train/batch_norm_statistics.py), so that the figure is the weights', not the running
averages'. It measures; it asserts nothing.

    python benchmarks/ceiling_learning.py --task synth-pitch --steps 300 --pool mean --learning-rate 1e-3 --dropout 0
"""

from __future__ import annotations

import argparse
import copy
import math
import time
from pathlib import Path

import torch
from torch import nn

from ssl_music_bench.contracts.protocol import load_protocol
from ssl_music_bench.contracts.registry import ENCODERS, TASKS
from ssl_music_bench.home import resolve_home
from ssl_music_bench.train.batch_norm_statistics import BatchNormCalibration

ONSET_SAMPLES = 4000  # "onset" crops start in the clip's first 0.25 s


def crops(waves: torch.Tensor, length: int, onset: bool, generator: torch.Generator | None = None) -> torch.Tensor:
    """One crop of ``length`` per row, each at its own random start, gathered in one indexing."""
    top = ONSET_SAMPLES if onset else waves.shape[1] - length + 1
    starts = torch.randint(0, top, (waves.shape[0], 1), generator=generator)
    return waves.gather(1, starts + torch.arange(length))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="synth-pitch")
    parser.add_argument("--protocol", default="cpu")
    parser.add_argument("--home", type=Path, default=None)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--every", type=int, default=75)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--pool", choices=("max", "mean"), default="max")
    parser.add_argument("--crops", choices=("random", "onset"), default="random")
    parser.add_argument("--learning-rate", type=float, default=3e-4)
    parser.add_argument("--dropout", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    protocol = load_protocol(args.protocol)
    data = TASKS.get(args.task).obj().load(resolve_home(args.home), protocol)
    if data.kind != "multiclass":
        raise SystemExit(f"{args.task} is a {data.kind} task; this diagnostic scores single-label tasks")
    store = data.store
    encoder = ENCODERS.get("effnet").obj()
    if store.sample_rate != encoder.sample_rate:
        raise SystemExit("the synthetic corpora are stored at the encoder's 16 kHz; this one is not")
    if args.pool == "mean":  # the comparison: mean over frequency and time instead of COLA's max
        encoder.frames = lambda features: encoder.backbone.forward_features(features).mean(dim=2).transpose(1, 2)
        encoder.pool = lambda frames: frames.mean(dim=1)

    def split(name: str) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.stack([torch.from_numpy(store.read(i)) for i in data.indices[name]]), data.targets[name]

    train_waves, train_targets = split("train")
    valid_waves, valid_targets = split("valid")
    length, onset = encoder.crop_samples, args.crops == "onset"
    fixed = torch.Generator().manual_seed(1)
    valid_crops = crops(valid_waves, length, onset, fixed)
    calibration = BatchNormCalibration(store, data.indices["train"], 256, args.batch_size, args.seed, encoder)
    head, dropout = nn.Linear(encoder.embed_dim, data.num_labels), nn.Dropout(args.dropout)
    optimiser = torch.optim.Adam([*encoder.parameters(), *head.parameters()], lr=args.learning_rate, weight_decay=1e-6)

    @torch.no_grad()
    def score() -> tuple[float, float]:
        statistics = copy.deepcopy(encoder.state_dict())  # the training keeps its own running averages
        calibration.apply(encoder)
        encoder.eval()
        logits = torch.cat([head(encoder(valid_crops[k:k + 64])) for k in range(0, len(valid_crops), 64)])
        encoder.load_state_dict(statistics)
        encoder.train()
        return float(nn.functional.cross_entropy(logits, valid_targets)), float((logits.argmax(1) == valid_targets).float().mean())

    print(f"{args.task}: {len(train_targets)} train / {len(valid_targets)} valid clips, chance loss "
          f"{math.log(data.num_labels):.3f}; pool {args.pool}, crops {args.crops}, lr {args.learning_rate:g}, "
          f"dropout {args.dropout:g}, batch {args.batch_size}")
    started, losses = time.perf_counter(), []
    encoder.train()
    for step in range(1, args.steps + 1):
        batch = torch.randint(0, len(train_targets), (args.batch_size,))
        loss = nn.functional.cross_entropy(head(dropout(encoder(crops(train_waves[batch], length, onset)))),
                                           train_targets[batch])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
        if step % args.every == 0 or step == args.steps:
            valid_loss, accuracy = score()
            recent = losses[-args.every:]
            print(f"step {step}: train loss {sum(recent) / len(recent):.3f} | valid loss {valid_loss:.3f}, "
                  f"accuracy {100 * accuracy:.1f} % | {time.perf_counter() - started:.0f} s", flush=True)


if __name__ == "__main__":
    main()
