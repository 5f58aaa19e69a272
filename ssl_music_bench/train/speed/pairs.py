"""Which (method, encoder) pairs ``bench speed`` measures: names or wildcards, compatible pairs of
methods that train."""

from __future__ import annotations

from typing import Any

from ssl_music_bench.contracts.compatibility import compatible_encoders
from ssl_music_bench.contracts.registry import ENCODERS, METHODS
from ssl_music_bench.errors import BenchError


def select_pairs(methods: list[str], encoders: list[str]) -> list[tuple[str, str]]:
    """(method, encoder) pairs to measure: names or wildcards; empty means all.

    Only methods that train are measured (random-init has no step); incompatible pairs are
    skipped, and a selection that leaves nothing is refused with the compatible encoders named.
    """
    method_names = _expand(METHODS, methods or ["*"], "method")
    encoder_names = _expand(ENCODERS, encoders or ["*"], "encoder")
    trainable = [m for m in method_names if METHODS.get(m).obj.needs_pretraining]
    if not trainable:
        raise BenchError(f"None of {', '.join(method_names)} trains, so there is no step to time; pick a "
                         f"self-supervised method or the supervised baseline.")
    pairs = [(m, e) for m in trainable for e in compatible_encoders(m) if e in encoder_names]
    if not pairs:
        hints = "; ".join(f"{m}: {', '.join(compatible_encoders(m))}" for m in trainable)
        raise BenchError(f"No selected method works with the encoders {', '.join(encoder_names)}. "
                         f"Compatible encoders: {hints}.")
    return pairs


def _expand(registry: Any, patterns: list[str], kind: str) -> list[str]:
    """Registered names matching ``patterns`` (exact names, or wildcards), in order, without repeats."""
    names: list[str] = []
    for pattern in patterns:
        found = registry.names(pattern) if any(c in pattern for c in "*?[") else [registry.get(pattern).name]
        if not found:
            raise BenchError(f'No {kind} matches "{pattern}". Known: {", ".join(registry.names())}.')
        names += [n for n in found if n not in names]
    return names
