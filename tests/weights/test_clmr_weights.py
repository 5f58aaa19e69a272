"""CLMR's released checkpoints (--weights): each layout, built here with random weights under CLMR's
key names, loads onto our SampleCNN, and its embeddings equal a SampleCNN forward written here from
CLMR's code (Spijkervet/CLMR clmr/models/sample_cnn.py; tag 1.0 modules/sample_cnn_59049.py):

    block 0: Conv1d(1, 128, k3, s3, p0) -> BatchNorm1d -> ReLU
    blocks 1..9: Conv1d(k3, s1, p1) -> BatchNorm1d -> ReLU -> MaxPool1d(3, stride 3)
    block 10: Conv1d(512, 512, k3, p1) -> BatchNorm1d -> ReLU;  out.reshape(B, C * T)
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from ssl_music_bench.cli import main
from ssl_music_bench.data.synthetic_corpus import SYNTH_VERSION
from ssl_music_bench.errors import BenchError
from ssl_music_bench.weights import load_external_weights

CHANNELS = [(1, 128), (128, 128), (128, 128), (128, 256)] + [(256, 256)] * 5 + [(256, 512), (512, 512)]
SAMPLES = 59_049


def clmr_blocks(seed: int = 0, kernels: list[int] | None = None) -> list[dict[str, torch.Tensor]]:
    """Random float64 weights of CLMR's 11 blocks: {"0.weight": conv, ..., "1.running_var": BN}."""
    generator = torch.Generator().manual_seed(seed)
    blocks = []
    for k, (c_in, c_out) in enumerate(CHANNELS):
        size = (kernels or [3] * 11)[k]
        blocks.append({
            "0.weight": torch.randn(c_out, c_in, size, generator=generator, dtype=torch.float64)
            * math.sqrt(2 / (c_in * size)),
            "0.bias": torch.randn(c_out, generator=generator, dtype=torch.float64) * 0.1,
            "1.weight": 0.5 + torch.rand(c_out, generator=generator, dtype=torch.float64),
            "1.bias": torch.randn(c_out, generator=generator, dtype=torch.float64) * 0.1,
            "1.running_mean": torch.randn(c_out, generator=generator, dtype=torch.float64) * 0.1,
            "1.running_var": 0.5 + torch.rand(c_out, generator=generator, dtype=torch.float64),
            "1.num_batches_tracked": torch.tensor(1000),
        })
    return blocks


def projector(dtype: torch.dtype = torch.float64) -> dict[str, torch.Tensor]:
    return {"projector.0.weight": torch.randn(512, 512, dtype=dtype),
            "projector.2.weight": torch.randn(128, 512, dtype=dtype)}


def layout_2_0(blocks: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The 2.0 release: SimCLR's state dict, encoder.sequential.{k}.{0,1}.* plus the projector."""
    return {**{f"encoder.sequential.{k}.{name}": v for k, block in enumerate(blocks) for name, v in block.items()},
            **projector()}


def layout_1_0(blocks: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The 1.0 release: encoder.conv{1..11}.{0,1}.* plus the projector."""
    return {**{f"encoder.conv{k + 1}.{name}": v for k, block in enumerate(blocks) for name, v in block.items()},
            **projector()}


def layout_lightning(blocks: list[dict[str, torch.Tensor]]) -> dict[str, object]:
    """A Lightning checkpoint of CLMR master's ContrastiveLearning module: the encoder twice (as
    ``encoder.*`` and inside SimCLR as ``model.encoder.*``), the projector, and hyperparameters."""
    encoder = {f"sequential.{k}.{name}": v for k, block in enumerate(blocks) for name, v in block.items()}
    state = {**{f"model.encoder.{key}": v for key, v in encoder.items()},
             **{f"encoder.{key}": v for key, v in encoder.items()},
             **{f"model.{key}": v for key, v in projector().items()}}
    from pytorch_lightning.utilities.parsing import AttributeDict  # what Lightning pickles hparams as

    return {"epoch": 9999, "global_step": 1_950_000, "pytorch-lightning_version": "1.4.9", "state_dict": state,
            "hyper_parameters": AttributeDict(batch_size=96, projection_dim=64, optimizer="LARS"),
            "args": argparse.Namespace(batch_size=96, temperature=0.5),
            "optimizer_states": [{"state": {0: {"momentum_buffer": torch.zeros(3)}},
                                  "param_groups": [{"lr": 0.735, "params": [0]}]}]}


def reference_forward(blocks: list[dict[str, torch.Tensor]], wave: torch.Tensor) -> torch.Tensor:
    """CLMR's SampleCNN forward (encoder.fc = Identity), written from its code: (B, 59049) -> (B, 512)."""
    x = wave.unsqueeze(1)
    for k, block in enumerate(blocks):
        x = F.conv1d(x, block["0.weight"], block["0.bias"], stride=3 if k == 0 else 1, padding=0 if k == 0 else 1)
        x = F.batch_norm(x, block["1.running_mean"], block["1.running_var"], block["1.weight"], block["1.bias"],
                         training=False, eps=1e-5)
        x = F.relu(x)
        if 1 <= k <= 9:
            x = F.max_pool1d(x, 3, stride=3)
    return x.reshape(wave.shape[0], x.shape[1] * x.shape[2])


def samplecnn_with(weights_path: Path) -> torch.nn.Module:
    from ssl_music_bench.encoders.samplecnn import SampleCNN

    encoder = SampleCNN().double()  # float64 first: the file's float64 tensors are copied as they are
    encoder.load_state_dict(load_external_weights(weights_path).encoder_state, strict=True)
    return encoder.eval()


@pytest.mark.parametrize(("build", "layout", "label"), [
    (layout_2_0, "clmr-2.0", "released 2.0"),
    (layout_1_0, "clmr-1.0", "released 1.0"),
    (layout_lightning, "clmr-lightning", "Lightning checkpoint"),
])
def test_each_layout_embeds_as_clmrs_samplecnn(tmp_path: Path, build, layout: str, label: str) -> None:
    blocks = clmr_blocks()
    path = tmp_path / "checkpoint.pt"
    torch.save(build(blocks), path)
    weights = load_external_weights(path)
    assert (weights.layout, weights.label) == (layout, label)
    assert weights.ignored_keys == (2 if layout != "clmr-lightning" else 2 + 11 * 7)  # projector (+ duplicates)
    wave = torch.randn(3, SAMPLES, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 0.3
    with torch.no_grad():
        ours = samplecnn_with(path)(wave)
    expected = reference_forward(blocks, wave)
    assert ours.shape == (3, 512)
    assert torch.allclose(ours, expected, rtol=1e-10, atol=1e-12), (ours - expected).abs().max()


def test_safetensors_and_a_missing_counter_load(tmp_path: Path) -> None:
    blocks = clmr_blocks(seed=3)
    state = {key: value.float() for key, value in layout_2_0(blocks).items() if not key.endswith("num_batches_tracked")}
    path = tmp_path / "clmr.safetensors"
    save_file(state, str(path))
    wave = torch.randn(2, SAMPLES, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    with torch.no_grad():
        ours = samplecnn_with(path)(wave)
    reference = reference_forward([{k: v.float().double() for k, v in b.items()} for b in blocks], wave)
    assert torch.allclose(ours, reference, rtol=1e-10, atol=1e-12)


def test_the_2_0_release_zip_is_read_as_released(tmp_path: Path) -> None:
    import zipfile

    blocks = clmr_blocks(seed=2)
    inner = tmp_path / "clmr_checkpoint_10000.pt"
    torch.save(layout_2_0(blocks), inner)
    archive = tmp_path / "clmr_checkpoint_10000.zip"  # the 2.0 release's download (Spijkervet/CLMR README)
    with zipfile.ZipFile(archive, "w") as handle:
        handle.write(inner, "clmr_checkpoint_10000.pt")
    weights = load_external_weights(archive)
    assert weights.layout == "clmr-2.0"
    assert torch.equal(weights.encoder_state["layers.39.weight"], blocks[10]["0.weight"])


def test_a_file_that_does_not_fit_is_refused_with_its_keys(tmp_path: Path) -> None:
    state = layout_2_0(clmr_blocks())
    del state["encoder.sequential.4.1.running_var"]
    state["encoder.sequential.11.0.weight"] = torch.zeros(3)
    state["classifier.weight"] = torch.zeros(50, 512)
    path = tmp_path / "broken.pt"
    torch.save(state, path)
    with pytest.raises(BenchError) as raised:
        load_external_weights(path)
    message = str(raised.value)
    assert "missing keys (1): encoder.sequential.4.1.running_var" in message
    assert "unexpected keys (2)" in message and "encoder.sequential.11.0.weight" in message
    assert "classifier.weight" in message and "\n" not in message


def test_a_16_khz_samplecnn_is_refused_for_its_shapes(tmp_path: Path) -> None:
    # CLMR's 16 kHz SampleCNN: strides (= kernel sizes) 3,3,3,3,3,3,5,2,2 (tag 2.0 model.py)
    path = tmp_path / "clmr16k.pt"
    torch.save(layout_2_0(clmr_blocks(kernels=[3, 3, 3, 3, 3, 3, 3, 5, 2, 2, 3])), path)
    with pytest.raises(BenchError, match=r"tensors of the wrong shape \(3\): encoder.sequential.7.0.weight"):
        load_external_weights(path)


class NotATensor:  # a class a weights_only load must refuse to build
    pass


def test_a_file_needing_code_to_unpickle_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "pickled.pt"
    torch.save({**layout_2_0(clmr_blocks()), "extra": NotATensor()}, path)
    with pytest.raises(BenchError, match="cannot be read safely"):
        load_external_weights(path)


def test_unknown_layout_and_wrong_pairing(tmp_path: Path) -> None:
    path = tmp_path / "other.pt"
    torch.save({"backbone.0.weight": torch.zeros(1)}, path)
    with pytest.raises(BenchError, match="not in a CLMR layout"):
        load_external_weights(path)
    torch.save(layout_2_0(clmr_blocks()), path)
    from ssl_music_bench.contracts.protocol import load_protocol
    from ssl_music_bench.run_spec import RunSpec

    with pytest.raises(BenchError, match="--method clmr --encoder samplecnn"):
        RunSpec("cola", "samplecnn", load_protocol("cpu"), weights=load_external_weights(path))


@pytest.mark.parametrize(("build", "layout", "row"), [
    (layout_2_0, "clmr-2.0", "clmr (released 2.0)"),
    (layout_1_0, "clmr-1.0", "clmr (released 1.0)"),
    (layout_lightning, "clmr-lightning", "clmr (Lightning checkpoint)"),
])
def test_bench_run_with_weights_probes_them_and_caches_by_file_hash(
        shared_home: Path, tiny_protocol_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        build, layout: str, row: str) -> None:
    from ssl_music_bench.contracts.protocol import load_protocol
    from ssl_music_bench.contracts.registry import TASKS
    from ssl_music_bench.data.audio import resample
    from ssl_music_bench.evaluate.cache import embedding_key, load_embeddings
    from ssl_music_bench.evaluate.embed import chunk
    from ssl_music_bench.train.checkpoint import file_sha256

    blocks = clmr_blocks(seed=7)
    path = tmp_path / "clmr_checkpoint_10000.pt"
    torch.save(build([{k: v.float() for k, v in block.items()} for block in blocks]), path)
    args = ["run", "--method", "clmr", "--encoder", "samplecnn", "--task", "synth-genre", "--protocol",
            str(tiny_protocol_file), "--weights", str(path), "--no-progress", "--home", str(shared_home)]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "pretraining clmr" not in err and "no pretraining" in err
    folder = shared_home / "records" / "test-tiny"
    stem = row.replace(" (", "_").replace(" ", "_").rstrip(")")
    first = json.loads((folder / f"{stem}__samplecnn__synth-genre__seed0__corpus{SYNTH_VERSION}.json").read_text())
    assert first["method"] == row and first["method_name"] == "clmr"
    assert first["weights"]["sha256"] == file_sha256(path) and first["weights"]["layout"] == layout
    assert first["pretraining"]["steps"] == 0 and first["pretraining"]["weights_sha256"] == file_sha256(path)
    if layout == "clmr-2.0":  # another probe seed: the embeddings are cached under the file's hash
        assert main([*args, "--seed", "1"]) == 0
        second = json.loads((folder / f"{stem}__samplecnn__synth-genre__seed1__corpus{SYNTH_VERSION}.json").read_text())
        assert second["reused_embeddings"] == ["train", "valid", "test"]
    # the cached embeddings are CLMR's forward of every chunk (float32 pipeline vs float64 reference)
    data = TASKS.get("synth-genre").obj().load(shared_home, load_protocol(str(tiny_protocol_file)))
    indices = data.indices["test"]
    ids = [data.store.items[i].id for i in indices]
    cached = load_embeddings(shared_home, embedding_key(file_sha256(path), data.manifest_sha256, ids, 22_050, SAMPLES))
    assert cached is not None
    chunks = torch.cat([chunk(resample(torch.from_numpy(data.store.read(i)), data.store.sample_rate, 22_050), SAMPLES)
                        for i in indices])
    reference = reference_forward([{k: v.float().double() for k, v in b.items()} for b in blocks], chunks.double())
    assert cached[0].shape == reference.shape
    assert torch.allclose(cached[0].double(), reference, rtol=1e-3, atol=1e-4 * reference.abs().max().item())
    capsys.readouterr()
    table = main(["table", "--protocol", "test-tiny", "--home", str(shared_home)])
    assert table == 0 and row in capsys.readouterr().out


def test_bench_embed_with_weights(tmp_path: Path, home: Path) -> None:
    import numpy as np
    import soundfile

    path = tmp_path / "clmr.pt"
    torch.save(layout_1_0(clmr_blocks(seed=5)), path)
    audio = tmp_path / "audio"
    audio.mkdir()
    soundfile.write(audio / "a.wav", np.random.default_rng(0).uniform(-0.5, 0.5, 22_050 * 3).astype("float32"), 22_050)
    out = tmp_path / "out"
    assert main(["embed", str(audio), "--method", "clmr", "--encoder", "samplecnn", "--protocol", "cpu",
                 "--weights", str(path), "--out", str(out), "--no-progress"]) == 0
    about = json.loads((out / "about.json").read_text())
    assert about["weights"]["layout"] == "clmr-1.0" and about["method"] == "clmr (released 1.0)"
    assert np.load(out / "embeddings.npy").shape == (1, 512)
