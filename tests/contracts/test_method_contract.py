"""Contract tests run over the registry: every method with every encoder.

Each registered method runs one real training step (its own batches from the tiny synthetic
store, resampled as the trainer does, its loss, a backward pass) with every encoder it declares
compatible, and the compatibility check refuses the others with a message naming the right ones.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ssl_music_bench.contracts.compatibility import check_compatible, compatible_encoders
from ssl_music_bench.contracts.protocol import load_protocol
from ssl_music_bench.contracts.registry import ENCODERS, METHODS, TASKS
from ssl_music_bench.data.audio import resample
from ssl_music_bench.errors import BenchError
from ssl_music_bench.run_spec import build_method

PAIRS = [(m, e) for m in METHODS.names() for e in ENCODERS.names()]


@pytest.fixture(scope="module")
def tiny_songs(shared_home: Path, tiny_protocol_file: Path):  # type: ignore[no-untyped-def]
    protocol = load_protocol(str(tiny_protocol_file))
    return TASKS.get("synth-tags").obj().load(shared_home, protocol)


@pytest.mark.parametrize(("method_name", "encoder_name"), PAIRS)
def test_one_training_step_or_a_clear_refusal(method_name: str, encoder_name: str, tiny_songs) -> None:  # type: ignore[no-untyped-def]
    method_class = METHODS.get(method_name).obj
    encoder_class = ENCODERS.get(encoder_name).obj
    if encoder_class.input_kind not in method_class.accepts:
        with pytest.raises(BenchError, match=f"Compatible encoders for {method_name}"):
            check_compatible(method_name, encoder_name)
        assert encoder_name not in compatible_encoders(method_name)
        with pytest.raises(ValueError, match="Pair it with an encoder"):  # constructed directly, too
            method_class(encoder_class())
        return
    torch.manual_seed(0)
    method = build_method(method_name, encoder_name)
    if method_class.uses_task_labels:
        method.attach_task(tiny_songs)
    if not method_class.needs_pretraining:
        return  # nothing to train (random-init): its checkpoint is the seeded initialisation
    loader = method.pretrain_batches(tiny_songs.store, tiny_songs.indices["train"], batch_size=2, steps=1,
                                     seed=0, num_workers=0)
    batches = list(loader)
    assert len(batches) == 1
    batch = batches[0]
    for key in method.audio_keys:
        batch[key] = resample(batch[key], tiny_songs.store.sample_rate, method.encoder.sample_rate)
    loss = method.training_loss(batch)
    assert loss.dim() == 0 and torch.isfinite(loss)
    loss.backward()
    grads = [p.grad for p in method.encoder.parameters() if p.requires_grad]
    assert any(g is not None and torch.any(g != 0) for g in grads), "the encoder received no gradient"
    # The count a record states as used is the count the loss actually reaches (CPC + SampleCNN:
    # the first five blocks only).
    reached = sum(p.numel() for p in method.encoder.parameters() if p.grad is not None)
    assert method.encoder_parameters_used() == reached


@pytest.mark.parametrize("method_name", METHODS.names())
def test_method_declares_its_contract(method_name: str) -> None:
    entry = METHODS.get(method_name)
    assert entry.description, "a one-line description (first docstring line) for `bench list`"
    assert entry.obj.accepts <= {"wave", "mel"} and entry.obj.accepts
    config = entry.obj.config_class()
    assert hasattr(config, "learning_rate") and hasattr(config, "weight_decay")
