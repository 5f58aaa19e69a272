"""Helpers the command groups share: reading run records, printing metrics, `--set` options."""

from __future__ import annotations

from pathlib import Path


def records_in(directory: Path, protocol: str | None = None) -> list[dict]:
    """The run records below ``directory`` (none when it does not exist), of one protocol if named."""
    from ssl_music_bench.report.records import load_records

    records = load_records(directory) if directory.is_dir() else []
    return [r for r in records if protocol is None or r["protocol"]["name"] == protocol]


def format_metrics(record: dict) -> str:
    """A record's metrics in percent on one line, e.g. "roc_auc 88.84, pr_auc 74.59"."""
    return ", ".join(f"{k} {100 * v:.2f}" for k, v in record["metrics"].items() if k != "tags_scored")
