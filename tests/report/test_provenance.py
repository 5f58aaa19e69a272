"""Records name the code they ran: from git in a checkout, from SOURCE_SHA in a `git archive` copy."""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

from ssl_music_bench.report.records import git_state

REPOSITORY = Path(__file__).resolve().parents[2]


def git(*args: str) -> bytes:
    return subprocess.run(["git", "-C", str(REPOSITORY), *args], capture_output=True, check=True).stdout


def test_checkout_reports_its_head() -> None:
    state = git_state(REPOSITORY / "ssl_music_bench")
    assert state["sha"] == git("rev-parse", "HEAD").decode().strip()
    assert state["dirty"] in (True, False)


def test_archive_copy_reports_the_archived_commit(tmp_path: Path) -> None:
    """What `git archive HEAD` ships (as to a borrowed GPU machine) carries HEAD's SHA."""
    archive = git("archive", "--format=tar", "HEAD", "ssl_music_bench/SOURCE_SHA")
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(tmp_path, filter="data")
    state = git_state(tmp_path / "ssl_music_bench")  # tmp_path is no git checkout
    assert state == {"sha": git("rev-parse", "HEAD").decode().strip(), "dirty": None}


def test_unexpanded_placeholder_is_no_sha(tmp_path: Path) -> None:
    package = tmp_path / "ssl_music_bench"
    package.mkdir()
    (package / "SOURCE_SHA").write_text((REPOSITORY / "ssl_music_bench" / "SOURCE_SHA").read_text())
    assert git_state(package) == {"sha": None, "dirty": None}
    (package / "SOURCE_SHA").unlink()
    assert git_state(package) == {"sha": None, "dirty": None}


def test_hardware_names_the_processor_and_its_kernels() -> None:
    """A record says which processor made it and which instruction set torch's CPU kernels used:
    the same code and seed on another CPU can differ in the float order (docs/TASKS.md)."""
    import platform

    import torch

    from ssl_music_bench.report.records import cpu_model, hardware

    found = hardware()
    assert found["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert found["torch_threads"] == torch.get_num_threads()
    if platform.system() == "Linux":
        names = [line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")]
        assert found["cpu_model"] == cpu_model() == (names[0] if names else None)
