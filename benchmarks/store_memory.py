"""Resident memory of training from a clip store, at 1x and 10x the data: stores are memory-mapped.

The script builds two stores of random int16 audio with the real ``ClipStoreWriter`` (by default
120 and 1,200 clips of 30 s at 16 kHz, 0.96 MB each: 110 MiB and 1.1 GiB on disk, in the
writer's default 20-minute shards). For each store a FRESH Python process (so that no figure
inherits memory from another measurement) opens the ``ClipStore``, builds the real pretraining
loader, ``pretrain_loader(ExcerptDataset(store, all clips, excerpt), batch, steps, seed,
workers)``, and iterates it for the same fixed number of batches (random 4 s excerpts of clips
drawn from the whole store). It reports

- **RSS open**: the process's resident set (``VmRSS`` in ``/proc/self/status``) with torch
  imported, the store open (its manifest parsed into memory) and the loader built;
- **peak** RSS while iterating: ``VmHWM`` (the kernel's high-water mark, which also catches
  peaks between two samples), reset just before the first batch by writing ``5`` to
  ``/proc/self/clear_refs``; where that is refused, the largest ``VmRSS`` sampled after each
  batch; without ``/proc`` (not Linux), ``resource.getrusage`` ``ru_maxrss``;
- **growth** = peak - open, and at the end of iteration its parts: **audio RSS**, the ``Rss`` of
  the store's shard mappings in ``/proc/self/smaps`` (**of it PMD**: ``FilePmdMapped``, mapped as
  whole 2 MiB huge pages), and ``RssAnon`` (tensors, Python objects); the rest is code of torch
  and numpy paged in by the first batches;
- **touched**: the distinct 4 KiB pages of the shard files that the loader's slices cover
  (recorded around ``ClipStore.read``, with ``--workers 0``), and **2M blocks**: the distinct
  2 MiB-aligned blocks they fall in;

each with the page cache in two states (``--cache``): **written**, as the writer left it just
before (the store was just prepared, as when ``bench prepare`` is followed by ``bench run``),
and **cold**, the shards written back and dropped from the page cache with ``posix_fadvise
(DONTNEED)`` (as after a reboot, or a store prepared long ago); "cached" is how much of the
store was in the page cache just before (``mincore``). As the contrast, what "not
memory-mapped" costs: in another fresh process every shard of the small store is read into
memory (``np.load`` without ``mmap_mode``) and the RSS growth measured; for the large store the
figure is given as bytes (the arrays' size; twice that as float32).

What is counted. RSS is what ``top``/``ps`` show for the training process. Pages of a
memory-mapped file count in it once the process has touched them and while they stay mapped;
pages never touched are never resident in the process, however large the file, and mapped file
pages are clean page cache, which the kernel can take back under memory pressure without
swapping (unlike ``RssAnon``). How much a touch brings in depends on the page cache, not on the
store code: a fault maps the whole page-cache folio (plus neighbours already cached, the
kernel's fault-around). Read in through the map (cold), folios are 4 KiB pages and audio RSS is
close to the bytes touched. But on Linux 6.18 with ext4 (the machine of docs/PERFORMANCE.md)
the large sequential writes of ``ClipStoreWriter`` leave the shards in the page cache as 2 MiB
folios, and every excerpt that touches one maps all 2 MiB of it (PMD-mapped; with THP disabled
for the process, PTE-mapped, the same size): audio RSS is then about 2 MiB per excerpt, and a
small store is soon resident in full. The loader's slicing touches only its excerpts either way
(compare "touched" with "2M blocks"). Over a long run audio RSS keeps growing with the
distinct data read, up to the whole store; it is bounded by the store, not by anything the
process copies. The manifest is parsed at opening (a few hundred bytes per clip), so "RSS open"
grows a little with the number of clips. With ``--workers N`` the loader's workers slice the
maps, not the main process: their RSS, peak and audio RSS are printed per worker too. Put
``--dir`` on a disk, not a tmpfs: a store on tmpfs is in memory whatever the reader does (the
script warns).

    python benchmarks/store_memory.py                          # 120 vs 1,200 clips of 30 s (1.2 GiB of disk)
    python benchmarks/store_memory.py --clips 20 --seconds 10 --out store_memory.json
    python benchmarks/store_memory.py --dir /data/scratch --workers 2 --cache cold --keep

Memory is reported, never asserted, like speed (docs/PERFORMANCE.md).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

MIB = 1024 * 1024
STATUS_FIELDS = ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem")
MAPPING = re.compile(r"^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \d+\s*(.*)$")
MANIFEST_BYTES_PER_CLIP = 300  # disk headroom for manifest lines


# ---------------------------------------------------------------------------------------------
# /proc readers (Linux); every figure in bytes


def proc_status(pid: int | str = "self") -> dict[str, int]:
    """VmRSS, VmHWM, RssAnon, RssFile, RssShmem of a process in bytes; {} without /proc."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    figures = {}
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name in STATUS_FIELDS:
            figures[name] = int(value.split()[0]) * 1024  # the kernel reports kB (KiB)
    return figures


def maxrss_bytes() -> int:
    """Peak RSS from getrusage: KiB on Linux, bytes on macOS."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def reset_peak() -> bool:
    """Reset the kernel's RSS high-water mark (VmHWM) of this process, if allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def mapped_rss(root: Path, pid: int | str = "self") -> dict[str, int]:
    """Resident bytes (of which PMD-mapped, i.e. whole 2 MiB folios) and number of mappings of the
    files under ``root`` in a process's address space, from /proc/PID/smaps."""
    prefix = os.path.realpath(root) + os.sep
    figures = {"rss": 0, "pmd_mapped": 0, "mappings": 0}
    try:
        lines = Path(f"/proc/{pid}/smaps").read_text().splitlines()
    except OSError:
        return figures
    inside = False
    for line in lines:
        header = MAPPING.match(line)
        if header:
            inside = header.group(1).startswith(prefix)
            figures["mappings"] += inside
        elif inside and line.startswith(("Rss:", "FilePmdMapped:")):
            figures["rss" if line.startswith("Rss:") else "pmd_mapped"] += int(line.split()[1]) * 1024
    return figures


def page_cache_resident(paths: list[Path]) -> int | None:
    """Bytes of these files now in the page cache (mincore on a fresh map, which faults nothing
    in); None where mincore is not available."""
    import ctypes

    import numpy as np

    try:
        mincore = ctypes.CDLL(None, use_errno=True).mincore
    except (OSError, AttributeError):
        return None
    page = os.sysconf("SC_PAGE_SIZE")
    resident = 0
    for path in paths:
        size = path.stat().st_size
        if size == 0:
            continue
        mapped = np.memmap(path, dtype=np.uint8, mode="r")
        vector = (ctypes.c_ubyte * ((size + page - 1) // page))()
        if mincore(ctypes.c_void_p(mapped.ctypes.data), ctypes.c_size_t(size), vector) != 0:
            return None
        resident += sum(byte & 1 for byte in bytes(vector)) * page
        del mapped
    return min(resident, sum(path.stat().st_size for path in paths))


def evict(paths: list[Path]) -> None:
    """Write these files back and drop them from the page cache (posix_fadvise DONTNEED), as if
    the store had been prepared long ago or the machine rebooted since. Needs no privileges;
    pages that another process has mapped stay."""
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)  # dirty pages are not dropped
            if hasattr(os, "posix_fadvise"):
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def child_pids(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (DataLoader workers), from /proc/*/stat."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()  # after "(comm)", which may hold spaces
        if int(fields[1]) == pid:
            children.append(int(entry.name))
    return sorted(children)


def filesystem_type(path: Path) -> str:
    """The type of the filesystem holding ``path`` (longest mount point in /proc/mounts)."""
    real = os.path.realpath(path)
    best, kind = "", "unknown"
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return kind
    for line in mounts:
        parts = line.split()
        if len(parts) < 3:
            continue
        point = parts[1].replace("\\040", " ")
        if (real == point or real.startswith(point.rstrip("/") + "/")) and len(point) > len(best):
            best, kind = point, parts[2]
    return kind


# ---------------------------------------------------------------------------------------------
# measurements, each run in a fresh process (``--child MODE JSON``)


def shard_data_offsets(root: Path) -> dict[int, int]:
    """Byte offset of the samples in each mix shard file (after the .npy header)."""
    import numpy as np

    offsets = {}
    for path in root.glob("mix-*.npy"):
        with open(path, "rb") as handle:
            major, _ = np.lib.format.read_magic(handle)
            read_header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
            read_header(handle)
            offsets[int(path.stem.rsplit("-", 1)[1])] = handle.tell()
    return offsets


def touched_bytes(reads: list[tuple[int, int, int]], offsets: dict[int, int], block: int) -> int:
    """Bytes of the distinct ``block``-sized, aligned pieces of the shard files that the reads
    (shard, first sample, samples) cover."""
    pieces = set()
    for shard, first, count in reads:
        begin = offsets[shard] + 2 * first
        end = begin + 2 * count
        pieces.update((shard, piece) for piece in range(begin // block, (end - 1) // block + 1))
    return len(pieces) * block


def child_loader(params: dict[str, Any]) -> dict[str, Any]:
    """Open the store, build the pretraining loader, iterate it; RSS figures of this process."""
    start = time.perf_counter()
    import torch

    from ssl_music_bench.data.sampler import ExcerptDataset, pretrain_loader
    from ssl_music_bench.data.store import ClipStore

    root = Path(params["store"])
    offsets = shard_data_offsets(root)
    before_open = proc_status()
    store = ClipStore(root)
    reads: list[tuple[int, int, int]] = []
    if params["workers"] == 0:  # record which samples the loader slices (workers' records stay there)
        read = store.read

        def recording_read(index: int, start: int = 0, length: int | None = None, source: str = "mix") -> Any:
            info = store.items[index]
            reads.append((info.shard, info.offset + start, info.length - start if length is None else length))
            return read(index, start, length, source)

        store.read = recording_read  # type: ignore[method-assign]
    dataset = ExcerptDataset(store, list(range(len(store))), params["samples"])
    loader = pretrain_loader(dataset, params["batch"], params["steps"], params["seed"], params["workers"])
    opened = proc_status()
    opened_rss = opened.get("VmRSS", maxrss_bytes())
    reset = reset_peak()
    sampled_peak, batches, examples = opened_rss, 0, 0
    for batch in loader:
        batches += 1
        examples += int(batch["audio"].shape[0])
        sampled_peak = max(sampled_peak, proc_status().get("VmRSS", 0))
    end = proc_status()
    if "VmHWM" in end and reset:
        peak, peak_source = end["VmHWM"], "VmHWM (reset after opening)"
    elif end:
        peak, peak_source = max(sampled_peak, end.get("VmRSS", 0)), "max VmRSS sampled after each batch"
    else:
        peak, peak_source = maxrss_bytes(), "getrusage ru_maxrss (since process start)"
    audio = mapped_rss(root)
    workers = []
    if params["workers"] > 0 and end:  # persistent workers are alive until the loader goes
        for pid in child_pids(os.getpid()):
            status = proc_status(pid)
            if status:
                worker_audio = mapped_rss(root, pid)
                workers.append(
                    {"pid": pid, "rss": status.get("VmRSS", 0), "peak_rss": status.get("VmHWM", 0),
                     "rss_anon": status.get("RssAnon", 0), "mapped_audio_rss": worker_audio["rss"],
                     "mapped_audio_pmd": worker_audio["pmd_mapped"], "mapped_shards": worker_audio["mappings"]}
                )
    page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
    return {
        "clips": len(store),
        "batches": batches,
        "examples": examples,
        "rss_before_open": before_open.get("VmRSS"),
        "rss_open": opened_rss,
        "rss_anon_open": opened.get("RssAnon"),
        "rss_peak": peak,
        "peak_source": peak_source,
        "rss_growth": peak - opened_rss,
        "rss_end": end.get("VmRSS"),
        "rss_anon_end": end.get("RssAnon"),
        "rss_file_end": end.get("RssFile"),
        "mapped_audio_rss": audio["rss"],
        "mapped_audio_pmd": audio["pmd_mapped"],
        "mapped_shards": audio["mappings"],
        "reads": len(reads) if reads else None,
        "touched_pages_bytes": touched_bytes(reads, offsets, page) if reads else None,
        "touched_2mib_blocks_bytes": touched_bytes(reads, offsets, 2 * MIB) if reads else None,
        "workers": workers,
        "torch": torch.__version__,
        "seconds": round(time.perf_counter() - start, 3),
    }


def child_in_memory(params: dict[str, Any]) -> dict[str, Any]:
    """Contrast: every shard of the store read into memory (no memory map); RSS growth."""
    start = time.perf_counter()
    import numpy as np

    from ssl_music_bench.data.store import ClipStore

    root = Path(params["store"])
    store = ClipStore(root)
    before = proc_status().get("VmRSS", maxrss_bytes())
    arrays = [np.load(path) for path in sorted(root.glob("*.npy"))]
    after = proc_status().get("VmRSS", maxrss_bytes())
    return {
        "clips": len(store),
        "array_bytes": int(sum(array.nbytes for array in arrays)),
        "rss_before": before,
        "rss_after": after,
        "rss_growth": after - before,
        "seconds": round(time.perf_counter() - start, 3),
    }


CHILDREN = {"loader": child_loader, "in-memory": child_in_memory}


def measure(mode: str, params: dict[str, Any]) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter; its JSON result is the last line it prints."""
    result = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", mode, json.dumps(params)],
        capture_output=True, text=True,
    )
    if result.returncode != 0:
        raise RuntimeError(f"measurement {mode} of {params['store']} failed:\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------
# building the stores


def store_bytes(clips: int, seconds: float, rate: int) -> int:
    return clips * round(seconds * rate) * 2


def build_store(root: Path, clips: int, seconds: float, rate: int, seed: int) -> dict[str, Any]:
    """A store of ``clips`` clips of random audio (uniform in [-1, 1]), with the real writer."""
    import numpy as np

    from ssl_music_bench.data.store import ClipStoreWriter

    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    samples = round(seconds * rate)
    metadata = {"benchmark": "store_memory", "clips": clips, "clip_seconds": seconds, "seed": seed}
    with ClipStoreWriter(root, rate, metadata=metadata) as writer:
        for index in range(clips):
            audio = rng.random(samples, dtype=np.float32) * 2 - 1
            writer.add(f"clip-{index:06d}", "train", (), audio)
    files = sorted(root.glob("*.npy"))
    return {
        "path": str(root),
        "clips": clips,
        "bytes": int(sum(path.stat().st_size for path in root.iterdir())),
        "audio_bytes": store_bytes(clips, seconds, rate),
        "shards": len(files),
        "build_seconds": round(time.perf_counter() - start, 2),
    }


# ---------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=120, help="clips in the small store (the large has scale x)")
    parser.add_argument("--scale", type=int, default=10, help="size of the large store, in small stores")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each clip")
    parser.add_argument("--rate", type=int, default=16000, help="sample rate of the stores in Hz")
    parser.add_argument("--batch", type=int, default=16, help="examples per batch")
    parser.add_argument("--steps", type=int, default=16, help="batches drawn from each store")
    parser.add_argument("--excerpt-seconds", type=float, default=4.0, help="excerpt length (COLA/CPC/MSA: 4 s)")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader workers (0: read in the process)")
    parser.add_argument(
        "--cache", choices=["written", "cold", "both"], default="both",
        help="page cache before each measurement: as the writer left it, evicted, or both (written first)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dir", type=Path, default=None, help="where to build the stores (default: a temp folder)")
    parser.add_argument("--keep", action="store_true", help="keep the stores afterwards")
    parser.add_argument("--out", type=Path, default=None, help="write every figure as JSON here")
    return parser.parse_args(argv)


def mib(value: float | None) -> str:
    return "-" if value is None else f"{value / MIB:,.1f}"


def times(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def print_table(result: dict[str, Any]) -> None:
    config = result["config"]
    print(
        f"\nbatch {config['batch']} x {config['steps']} steps of {config['excerpt_seconds']} s excerpts at "
        f"{config['rate']} Hz, {config['workers']} workers: audio sliced {mib(result['audio_read_bytes'])} MiB "
        f"per store (int16). Figures in MiB."
    )
    header = ("store", "cache", "clips", "size", "cached", "RSS open", "peak", "growth",
              "audio RSS", "of it PMD", "touched", "2M blocks", "anon end")
    widths = (6, 8, 7, 9, 9, 10, 9, 9, 10, 10, 9, 10, 10)
    print("".join(f"{h:<{w}}" if i < 2 else f"{h:>{w}}" for i, (h, w) in enumerate(zip(header, widths))))
    for name, row in result["stores"].items():
        for cache, m in row["measures"].items():
            cells = (
                name, cache, f"{row['clips']:,}", mib(row["bytes"]), mib(m["page_cache_before"]), mib(m["rss_open"]),
                mib(m["rss_peak"]), mib(m["rss_growth"]), mib(m["mapped_audio_rss"]), mib(m["mapped_audio_pmd"]),
                mib(m["touched_pages_bytes"]), mib(m["touched_2mib_blocks_bytes"]), mib(m["rss_anon_end"]),
            )
            print("".join(f"{c:<{w}}" if i < 2 else f"{c:>{w}}" for i, (c, w) in enumerate(zip(cells, widths))))
            for worker in m["workers"]:
                print(
                    f"    worker {worker['pid']}: RSS {mib(worker['rss'])}, peak {mib(worker['peak_rss'])}, "
                    f"audio RSS {mib(worker['mapped_audio_rss'])} in {worker['mapped_shards']} shard maps"
                )
    memory = result["in_memory"]
    print(
        f"not memory-mapped: every shard of the 1x store read into memory: RSS +{mib(memory['measured_growth'])} MiB "
        f"(arrays {mib(memory['array_bytes_1x'])} MiB); the {config['scale']}x store would need "
        f"{mib(memory['array_bytes_large'])} MiB as int16, {mib(2 * memory['array_bytes_large'])} MiB as float32"
    )
    print(f"store size ratio {result['ratios']['store_size']:.2f}x ({config['scale']}x the clips)")
    for cache, figures in result["ratios"]["by_cache"].items():
        print(
            f"  page cache {cache}: RSS growth ratio {times(figures['rss_growth'])}, peak RSS ratio "
            f"{times(figures['rss_peak'])}, mapped audio RSS ratio {times(figures['mapped_audio_rss'])}"
            + (f", workers' audio RSS ratio {times(figures['workers_mapped_audio_rss'])}" if config["workers"] else "")
        )


def ratio(large: float | None, small: float | None) -> float | None:
    return None if large is None or not small or small <= 0 else large / small


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Build both stores, measure each in fresh processes, print the table; return the figures."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:  # a measurement process started by measure()
        print(json.dumps(CHILDREN[argv[1]](json.loads(argv[2]))))
        return {}
    args = parse_args(argv)
    started = time.perf_counter()
    load_start = os.getloadavg() if hasattr(os, "getloadavg") else None
    sizes = {"1x": args.clips, f"{args.scale}x": args.clips * args.scale}
    caches = ["written", "cold"] if args.cache == "both" else [args.cache]
    work = args.dir if args.dir is not None else Path(tempfile.mkdtemp(prefix="store-memory-"))
    work.mkdir(parents=True, exist_ok=True)
    needed = sum(store_bytes(n, args.seconds, args.rate) + n * MANIFEST_BYTES_PER_CLIP for n in sizes.values())
    free = shutil.disk_usage(work).free
    if free < needed + 256 * MIB:
        if args.dir is None:
            shutil.rmtree(work, ignore_errors=True)
        raise SystemExit(
            f"{work} has {free / MIB:,.0f} MiB free; the two stores need {needed / MIB:,.0f} MiB (plus 256 MiB "
            f"headroom). Pass --dir on a larger disk, or scale down with --clips / --seconds."
        )
    fs = filesystem_type(work)
    if fs in ("tmpfs", "ramfs"):
        print(f"warning: {work} is on {fs}: the stores live in memory whatever the reader does; use --dir on a disk")
    samples = round(args.excerpt_seconds * args.rate)
    # the stores are removed afterwards: never build (and so never remove) a folder that was there before
    existing = [work / f"store-{clips}clips" for clips in sizes.values() if (work / f"store-{clips}clips").exists()]
    if existing:
        raise SystemExit(f"{existing[0]} already exists; this benchmark builds its stores in new folders and "
                         "removes them afterwards, so it does not touch it. Pass another --dir, or move that folder.")
    stores: dict[str, dict[str, Any]] = {}
    try:
        for name, clips in sizes.items():
            stores[name] = build_store(work / f"store-{clips}clips", clips, args.seconds, args.rate, args.seed)
            stores[name]["measures"] = {}
            print(
                f"built {name} store: {clips:,} clips, {mib(stores[name]['bytes'])} MiB in "
                f"{stores[name]['shards']} shards ({stores[name]['build_seconds']} s)", flush=True
            )
        for cache in caches:  # "written" first: a measurement leaves its reads in the page cache
            for name, row in stores.items():
                shards = sorted(Path(row["path"]).glob("*.npy"))
                if cache == "cold":
                    evict(shards)
                params = {"store": row["path"], "samples": samples, "batch": args.batch, "steps": args.steps,
                          "seed": args.seed, "workers": args.workers}
                cached = page_cache_resident(shards)
                row["measures"][cache] = {"page_cache_before": cached, **measure("loader", params)}
                print(f"measured {name} store, page cache {cache}", flush=True)
        small, large = stores["1x"], stores[f"{args.scale}x"]
        contrast = measure("in-memory", {"store": small["path"]})
    finally:
        if not args.keep:
            for row in stores.values():
                shutil.rmtree(row["path"], ignore_errors=True)
            if args.dir is None:
                shutil.rmtree(work, ignore_errors=True)
    by_cache = {}
    for cache in caches:
        a, b = small["measures"][cache], large["measures"][cache]
        by_cache[cache] = {
            "rss_growth": ratio(b["rss_growth"], a["rss_growth"]),
            "rss_peak": ratio(b["rss_peak"], a["rss_peak"]),
            "mapped_audio_rss": ratio(b["mapped_audio_rss"], a["mapped_audio_rss"]),
            "workers_mapped_audio_rss": ratio(
                sum(w["mapped_audio_rss"] for w in b["workers"]), sum(w["mapped_audio_rss"] for w in a["workers"])
            ),
        }
    result: dict[str, Any] = {
        "benchmark": "store_memory",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": "python benchmarks/store_memory.py " + " ".join(argv),
        "config": {
            "clips": args.clips, "scale": args.scale, "seconds": args.seconds, "rate": args.rate,
            "batch": args.batch, "steps": args.steps, "excerpt_seconds": args.excerpt_seconds,
            "excerpt_samples": samples, "workers": args.workers, "cache": caches, "seed": args.seed,
            "dir": str(work), "filesystem": fs, "kept": args.keep,
        },
        "audio_read_bytes": args.batch * args.steps * samples * 2,
        "stores": stores,
        "in_memory": {
            "store": "1x",
            "measured_growth": contrast["rss_growth"],
            "array_bytes_1x": contrast["array_bytes"],
            "array_bytes_large": large["audio_bytes"],
            "measure": contrast,
        },
        "ratios": {
            "store_size": large["bytes"] / small["bytes"],
            "clips": large["clips"] / small["clips"],
            "by_cache": by_cache,
        },
        "host": {
            "python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
            "torch": small["measures"][caches[0]].get("torch"), "load_average_start": load_start,
            "load_average_end": os.getloadavg() if hasattr(os, "getloadavg") else None,
        },
        "seconds": round(time.perf_counter() - started, 1),
    }
    print_table(result)
    print(f"took {result['seconds']} s")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
