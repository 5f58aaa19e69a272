"""Which encoders a method can train: a method's ``accepts`` against an encoder's input kind,
checked by name before any data is touched."""

from __future__ import annotations

from ssl_music_bench.contracts.registry import ENCODERS, METHODS
from ssl_music_bench.errors import BenchError


def compatible_encoders(method_name: str) -> list[str]:
    """Names of the registered encoders whose input kind the method accepts."""
    method_cls = METHODS.get(method_name).obj
    return [e.name for e in ENCODERS.entries()
            if e.obj.input_kind in method_cls.accepts and _frozen_only(e.obj) == _frozen_only(method_cls)]


def _frozen_only(piece: type) -> bool:
    """An encoder trained elsewhere (a HEAR module) and the one method that probes it as given
    (``frozen``) pair only with each other (ssl_music_bench/hear/)."""
    return bool(getattr(piece, "frozen_only", False))


def check_compatible(method_name: str, encoder_name: str) -> None:
    """Refuse an incompatible pairing at the start, naming the encoders that would work."""
    method_cls = METHODS.get(method_name).obj
    encoder_cls = ENCODERS.get(encoder_name).obj
    if encoder_cls.input_kind not in method_cls.accepts:
        raise BenchError(
            f'The method "{method_name}" works on {" or ".join(sorted(method_cls.accepts))} input, '
            f'but the encoder "{encoder_name}" takes {encoder_cls.input_kind} input. Compatible '
            f"encoders for {method_name}: {', '.join(compatible_encoders(method_name)) or '(none)'}."
        )
    if _frozen_only(encoder_cls) and not _frozen_only(method_cls):
        raise BenchError(
            f'The encoder "{encoder_name}" is a HEAR module, trained by its authors: it is evaluated frozen, as '
            f'published, with --method frozen. "{method_name}" would have to train it (or, for random-init, '
            f"re-initialise it), which this benchmark does not do to a network it does not own."
        )
    if _frozen_only(method_cls) and not _frozen_only(encoder_cls):
        raise BenchError(
            f'The method "{method_name}" probes an encoder trained elsewhere (--encoder hear:MODULE) as given; '
            f'"{encoder_name}" is this benchmark\'s own encoder, whose untrained row is --method random-init.'
        )
