"""Which encoders a method can train: a method's ``accepts`` against an encoder's input kind,
checked by name before any data is touched."""

from __future__ import annotations

from ssl_music_bench.contracts.registry import ENCODERS, METHODS
from ssl_music_bench.errors import BenchError


def compatible_encoders(method_name: str) -> list[str]:
    """Names of the registered encoders whose input kind the method accepts."""
    accepts = METHODS.get(method_name).obj.accepts
    return [e.name for e in ENCODERS.entries() if e.obj.input_kind in accepts]


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
