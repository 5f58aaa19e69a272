"""CLMR's pitch shift: integer cents U(-700, 700), duration and tempo kept (p = 0.6).

The reference (torchaudio-augmentations ``PitchShift``) runs SoX ``pitch <cents>`` followed by
``rate <sr>`` through WavAugment. SoX's ``pitch`` is its ``tempo`` effect (WSOLA: overlap-add
of segments placed where they correlate best) slowing the clip down by a = 2^(cents/1200),
with the result declared to be at a times the sample rate; ``rate`` then resamples it back.
Pitch moves by a while duration and the position of every onset stay put. Plain resampling
would move pitch AND tempo and is a different transform (SoX manual, effects ``pitch`` and ``speed``).

This file does the same two steps for a whole batch, each clip with its own a:

1. time-stretch by a with a phase vocoder (Flanagan & Golden 1966) instead of WSOLA: output
   frame t reads the input STFT at the fractional frame t / a, a (B, T) grid; magnitudes are
   interpolated linearly between the two neighbouring frames, phases advance by the
   instantaneous frequency measured between them, with identity phase locking (Laroche &
   Dolson 1999) so that partials stay coherent. The stretched clip is synthesised at twice
   the rate (zero-padded frame spectra), and bins that step 2 would fold over Nyquist
   (above sr / 2a) are zeroed: the anti-alias filter of SoX's ``rate``, done in the STFT;
2. resample by a on a per-example time grid (output sample n reads the stretched clip at
   n * a) with cubic (Keys) interpolation of the 2x oversampled clip, instead of SoX's
   long band-limited filter.

Measured on sines (0.75 s, 22,050 Hz): frequency within 0.2 %, amplitude within 0.1 dB and
60-90 dB SNR below 3 kHz, about 0.2 dB loss and 30 dB SNR at 8-9 kHz. Differences from
SoX: phase-vocoder smearing of transients instead of WSOLA's occasional doubled or skipped
fragments, and noise-like content comes out about 2 dB quieter (overlap-add of frames with
unrelated phases). Length is exactly kept (WavAugment pads or trims to ``n_samples``).
"""

from __future__ import annotations

import functools
import math

import torch
from torch import Tensor

from ssl_music_bench.augment.batching import Generator, apply_to, check_batch, coin, randint, shapes_are_static

OVERSAMPLE = 2
"""Rate factor at which the stretched clip is synthesised before the cubic read-out."""
CPU_CHUNK_SAMPLES = 1 << 18
"""Rows (x length) of one pitch-shift call on CPU: about four 2.68 s clips at 22,050 Hz.

Its intermediates are several times the clip (spectra of up to 1.5x as many frames, a 2x
oversampled synthesis), and smaller chunks stay in cache: measured on 48 clips of 59,049
samples with 2 threads, 2-4 rows per chunk took 4.4-4.6 ms per clip, 8 rows 5.0, 17 rows
6.2 and the whole batch 7.8 (the shared default, batching.CPU_CHUNK_SAMPLES, gives 8)."""


def default_fft_size(sample_rate: int) -> int:
    """A power of two near 46 ms (1024 at 22,050 Hz): long enough to resolve the partials of
    low notes, short enough to keep drum onsets from smearing over more than a few hops."""
    return 1 << max(6, round(math.log2(0.0464 * sample_rate)))


def nearest_peak(magnitude: Tensor) -> Tensor:
    """Index of the spectral peak each bin belongs to, for every frame (same shape, int64).

    Each bin points at the largest bin within +-2 (one Hann main lobe); following the
    pointers three times climbs to the local maximum. Used for identity phase locking
    (Laroche & Dolson 1999): integrating each bin's phase on its own lets estimation errors
    (at onsets, at the clip start) pile up differently in neighbouring bins of one partial;
    once an analysis frame is reused or skipped they no longer cancel, the bins of a partial
    drift out of phase and overlap-add cancels it (a stretched steady sine lost 80 % of its
    amplitude). Locked bins take their peak's integrated phase plus their analysis-frame
    offset from it, so each partial stays one coherent lobe.
    """
    shape = magnitude.shape
    flat = magnitude.reshape(-1, shape[-1])
    if shapes_are_static():
        # The same pointers (argmax, like max pooling, keeps the first of equal maxima), in a
        # form inductor compiles: reading max_pool1d's indices as gather indices stops its code
        # generation (an InductorError in index simplification, torch 2.11); eager max pooling
        # is about 25 % faster on CPU, so the default path keeps it.
        windows = torch.nn.functional.pad(flat, (2, 2), value=-math.inf).unfold(1, 5, 1)
        pointer = windows.argmax(2) + torch.arange(-2, shape[-1] - 2, device=flat.device)
    else:
        pointer = torch.nn.functional.max_pool1d(flat[:, None], 5, stride=1, padding=2, return_indices=True)[1][:, 0]
    peak = pointer
    for _ in range(3):
        peak = pointer.gather(1, peak)
    return peak.view(shape)


def complex_abs(z: Tensor, out: Tensor) -> Tensor:
    """|z| as sqrt(re^2 + im^2) into ``out``: about twice as fast on CPU as ``z.abs()``
    (which guards against overflow, impossible for audio spectra in float32)."""
    parts = torch.view_as_real(z)
    torch.mul(parts[..., 0], parts[..., 0], out=out)
    return out.addcmul_(parts[..., 1], parts[..., 1]).sqrt_()


def polar(magnitude: Tensor, phase: Tensor) -> Tensor:
    """``torch.polar`` written as cos and sin into one buffer (up to 3x faster on CPU)."""
    out = torch.empty(*phase.shape, 2, device=phase.device, dtype=phase.dtype)
    torch.cos(phase, out=out[..., 0])
    torch.sin(phase, out=out[..., 1])
    return torch.view_as_complex(out.mul_(magnitude[..., None]))


@functools.lru_cache(maxsize=16)
def _synthesis_window(n_fft: int, scale: float, device: torch.device, dtype: torch.dtype) -> Tensor:
    """``scale`` x periodic Hann window of ``n_fft`` samples (cached: one per size and device)."""
    return torch.hann_window(n_fft, device=device, dtype=dtype) * scale


def overlap_add(frames: Tensor, hop: int) -> Tensor:
    """Sum (B, T, L) frames placed ``hop`` apart, L a multiple of hop: (B, (T - 1) * hop + L).

    The frames are cut into L / hop blocks of one hop, so overlap-add is L / hop shifted
    block additions instead of torch.istft's general fold.
    """
    batch, count, size = frames.shape
    parts = size // hop
    blocks = frames.view(batch, count, parts, hop)
    out = torch.empty(batch, count + parts - 1, hop, device=frames.device, dtype=frames.dtype)
    out[:, :count] = blocks[:, :, 0]
    out[:, count:] = 0
    for j in range(1, parts):
        out[:, j : j + count] += blocks[:, :, j]
    return out.view(batch, -1)


def window_envelope(window: Tensor, hop: int, counts: Tensor, blocks: int, fewest: int | None = None) -> Tensor:
    """(B, blocks * hop): the sum of ``window ** 2`` over row b's ``counts[b]`` frames placed
    ``hop`` apart (torch.istft's normaliser), and 1 past the last of them.

    Built from cumulative sums of the squared window's hop-long blocks: it ramps up over the
    first frame, is constant in the middle and ramps down over row b's own last frame, so a
    row's normalisation does not depend on how long the other rows of its batch are.
    ``fewest``: a lower bound on ``counts`` known without reading it from the device.
    """
    parts = window.shape[0] // hop
    squared = window.pow(2)
    block = torch.arange(blocks, device=window.device)
    fewest = int(counts.min()) if fewest is None else fewest
    if fewest < parts - 1:  # fewer frames than a window has blocks: plain sums
        rows = []
        for count in counts.tolist():
            sums = overlap_add(squared.expand(1, count, parts * hop).contiguous(), hop)[0]
            rows.append(torch.nn.functional.pad(sums, (0, blocks * hop - sums.shape[0]), value=1.0))
        return torch.stack(rows)
    cumulative = squared.view(parts, hop).cumsum(0)
    full = cumulative[-1:]
    # rows: ramp-up blocks, the full sum, ramp-down blocks, ones past the end
    table = torch.cat([cumulative[:-1], full, full - cumulative[:-1], torch.ones_like(full)])
    count = counts[:, None]
    index = torch.where(
        block[None, :] < count, block.clamp(max=parts - 1)[None, :], (block[None, :] - count + parts).clamp(max=2 * parts - 1)
    )
    return table.index_select(0, index.flatten()).view(counts.shape[0], blocks * hop)


# One phase vocoder kept whole (~80 lines) so it reads step by step against SoX's and torchaudio's;
# its parameters are the STFT's and the stretch's.
def time_stretch(
    wave: Tensor,
    stretch: Tensor,
    n_fft: int,
    length: int,
    oversample: int = 1,
    row_lengths: Tensor | None = None,
    shortest: int | None = None,
) -> Tensor:
    """Make row b ``stretch[b]`` times longer without changing its pitch.

    Returns (B, oversample * length) at ``oversample`` times the input rate; samples past row
    b's own stretched duration are (close to) zero. Frames are kept as rows of a (B * T, F)
    matrix so that reading fractional frame positions is a row gather. ``row_lengths`` (B,),
    each at most ``length``: row b is synthesised as if called alone with ``row_lengths[b]``
    (its frames past that are dropped and its overlap-add normalised by its own frames), so
    that a row's result does not depend on the other rows of the batch; ``shortest``, a lower
    bound on them known in advance, spares reading their minimum from the device.
    """
    batch, device, dtype = wave.shape[0], wave.device, wave.dtype
    hop = n_fft // 4
    window = _synthesis_window(n_fft, 1.0, device, dtype)
    spec = torch.stft(wave, n_fft, hop, window=window, center=True, return_complex=True)
    spec = spec.transpose(1, 2)  # (B, T, F)
    frames, bins = spec.shape[1], spec.shape[2]
    # Two silent frames after the end, so that frame i + 1 always exists and reading past
    # the end of a clip yields silence.
    magnitude = torch.empty(batch, frames + 2, bins, device=device, dtype=dtype)
    phase = torch.empty_like(magnitude)
    magnitude[:, frames:] = 0
    phase[:, frames:] = 0
    complex_abs(spec, out=magnitude[:, :frames])
    torch.angle(spec, out=phase[:, :frames])
    # Phase advance per hop between frames i and i + 1: the bin's own advance plus the
    # deviation measured between the frames, wrapped to (-pi, pi] (instantaneous frequency).
    # Rows line up with magnitude's; the last one (after the two silent frames, never read as
    # an advance) holds the phase of frame 0, where each output clip's phase starts.
    omega = torch.linspace(0, math.pi * hop, bins, device=device, dtype=dtype)
    advance = torch.empty_like(magnitude)
    advance[:, -1] = phase[:, 0]
    deviation = torch.sub(phase[:, 1:], phase[:, :-1], out=advance[:, :-1]).sub_(omega)
    deviation.sub_(torch.round(deviation / (2 * math.pi)).mul_(2 * math.pi)).add_(omega)
    # Phase locking: each bin's analysis-frame phase offset from its peak's, taken at the
    # input frames (fewer than the output frames when stretching).
    peak = nearest_peak(magnitude)
    offset = phase - phase.gather(2, peak)

    out_frames = length // hop + 1
    position = torch.arange(out_frames, device=device, dtype=torch.float64)[None, :]
    position = (position / stretch.double()[:, None]).clamp(max=frames)  # (B, T_out)
    first = position.floor().long()
    frac = (position - first).to(dtype)[:, :, None]
    row = (first + (frames + 2) * torch.arange(batch, device=device)[:, None]).flatten()

    def frames_at(table: Tensor, shift: int = 0) -> Tensor:
        return table.reshape(-1, bins).index_select(0, row + shift).view(batch, out_frames, bins)

    mag = torch.lerp(frames_at(magnitude), frames_at(magnitude, 1), frac)
    counts = torch.full((batch,), out_frames, device=device)
    if row_lengths is not None:
        counts = row_lengths.to(device) // hop + 1
        own = torch.arange(out_frames, device=device)[None, :] < counts[:, None]
        mag.mul_(own[:, :, None].to(dtype))
    # Output frame t's phase: frame 0's plus the advances read at output frames 0 .. t - 1.
    start_row = (frames + 2) * torch.arange(1, batch + 1, device=device)[:, None] - 1
    previous = torch.cat([start_row, row.view(batch, out_frames)[:, :-1]], dim=1).flatten()
    step = advance.reshape(-1, bins).index_select(0, previous).view(batch, out_frames, bins)
    out_phase = torch.cumsum(step, dim=1)
    # Only each peak's phase is integrated over time (so this stays a cumsum, not a frame
    # loop); the other bins keep their analysis offset from their peak.
    out_phase = out_phase.gather(2, frames_at(peak)).add_(frames_at(offset))

    # Bins above sr / (2a) would fold over Nyquist when the clip is resampled by a.
    keep = torch.arange(bins, device=device)[None, :] * stretch[:, None] <= bins - 1
    out = polar(mag.mul_(keep[:, None, :].to(dtype)), out_phase)  # (B, T_out, F)
    # An inverse FFT of ``oversample`` times the size zero-pads every frame's spectrum: it
    # synthesises the clip at ``oversample`` times the rate (band-limited interpolation of each
    # frame), so the cubic read-out that follows works on an oversampled signal, where its
    # passband droop and images are small. Then windowed overlap-add, as torch.istft does.
    size, synth_hop = oversample * n_fft, oversample * hop
    synth_window = _synthesis_window(size, float(oversample), device, dtype)
    signal = overlap_add(torch.fft.irfft(out, n=size, dim=2).mul_(synth_window), synth_hop)
    start = size // 2  # center=True: frame t is centred on sample t * hop
    fewest = None if shortest is None else shortest // hop + 1
    envelope = window_envelope(synth_window / oversample, synth_hop, counts, signal.shape[1] // synth_hop, fewest)
    end = start + oversample * length
    return signal[:, start:end] / envelope[:, start:end]


def cubic_resample(wave: Tensor, step: Tensor, length: int) -> Tensor:
    """Read row b at positions 0, step[b], 2 step[b], ... with Keys cubic interpolation."""
    grid = torch.arange(length, device=wave.device, dtype=torch.float64)[None, :] * step.double()[:, None]
    base = grid.floor()
    t = (grid - base).to(wave.dtype)
    padded = torch.nn.functional.pad(wave, (1, 3))  # so that base - 1 .. base + 2 exist
    index = (base.long() + 1).clamp(max=padded.shape[1] - 3)
    t2, t3 = t * t, t * t * t
    weights = (
        -0.5 * t3 + t2 - 0.5 * t,
        1.5 * t3 - 2.5 * t2 + 1.0,
        -1.5 * t3 + 2.0 * t2 + 0.5 * t,
        0.5 * t3 - 0.5 * t2,
    )
    out = padded.gather(1, index - 1).mul_(weights[0])
    for offset, weight in zip((0, 1, 2), weights[1:]):
        out.addcmul_(padded.gather(1, index + offset), weight)
    return out


def stretched_row_length(length: int, ratio: float) -> int:
    """Samples of a stretched row (the extra 4 keep the cubic read-out inside it): what
    ``apply_pitch_shift`` computes per row, for a ratio known in advance."""
    return math.ceil(length * ratio) + 4


def apply_pitch_shift(
    wave: Tensor, sample_rate: int, cents: Tensor, n_fft: int | None = None, cents_range: tuple[int, int] | None = None
) -> Tensor:
    """Shift row b by ``cents[b]`` keeping its length and tempo (stretch, then resample).

    ``cents_range`` (lowest, highest), when given, sizes the stretch for the range instead of
    for this batch's largest draw: a shape known before the draws (``static_shapes``).
    """
    length = wave.shape[1]
    n_fft = n_fft or default_fft_size(sample_rate)
    while n_fft // 2 >= length and n_fft > 16:  # STFT reflect padding needs n_fft / 2 < length
        n_fft //= 2
    ratio = torch.pow(2.0, cents.double() / 1200.0).to(wave.dtype)
    # Each row's own stretched length, so that its result does not depend on its batch.
    row_lengths = torch.ceil(length * ratio.double()).long() + 4
    if cents_range is None:
        stretched_length, shortest = int(row_lengths.max()), None
    else:
        low, high = (2.0 ** (c / 1200.0) for c in cents_range)
        # one sample of slack each way: ratio is rounded to float32 before the ceil above
        stretched_length = stretched_row_length(length, high) + 1
        shortest = stretched_row_length(length, low) - 1
    stretched = time_stretch(wave, ratio, n_fft, stretched_length, OVERSAMPLE, row_lengths, shortest)
    return cubic_resample(stretched, ratio * OVERSAMPLE, length)


# Parameters: the clip, its rate, and the transform's settings as torchaudio-augmentations names them.
def pitch_shift(
    wave: Tensor,
    sample_rate: int,
    p: float = 0.6,
    min_cents: int = -700,
    max_cents: int = 700,
    n_fft: int | None = None,
    generator: Generator = None,
) -> Tensor:
    """With probability p, shift pitch by integer cents ~ U{min_cents..max_cents}, tempo kept.

    Cents are drawn like ``random.randint(-700, 700)`` in torchaudio-augmentations
    ``PitchShift``; CLMR applies it with p = 0.6 (config.yaml ``transforms_pitch``).
    """
    check_batch(wave)
    batch = wave.shape[0]
    chosen = coin(batch, p, wave.device, generator)
    cents = randint(batch, min_cents, max_cents, wave.device, generator)
    cents_range = (min_cents, max_cents) if shapes_are_static() else None
    return apply_to(
        wave,
        chosen,
        lambda rows_wave, rows: apply_pitch_shift(rows_wave, sample_rate, cents[rows], n_fft, cents_range),
        sort_by=cents,
        chunk_samples=CPU_CHUNK_SAMPLES,
    )
