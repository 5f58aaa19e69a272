"""Signal-processing building blocks shared by every synthetic instrument.

Everything here works on whole numpy arrays (no per-sample Python loops) so that a song of
several seconds renders in a fraction of a second: oscillators read from one-period wavetables,
filters are second-order sections run by scipy in C, and the plucked string of Karplus & Strong
is written as one IIR filter instead of a loop over a delay line.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.signal import butter, lfilter, sosfilt

SAMPLE_RATE = 16_000
TABLE_SIZE = 2048
# Harmonics stop below this fraction of the sample rate so that vibrato and detuning never push
# a partial past Nyquist (aliasing would sound like noise and is not part of any instrument).
_MAX_PARTIAL = 0.45


def midi_to_hz(midi: float | np.ndarray) -> float | np.ndarray:
    """Equal temperament, A4 = MIDI 69 = 440 Hz."""
    return 440.0 * 2.0 ** ((np.asarray(midi, dtype=np.float64) - 69.0) / 12.0)


def harmonic_table(amplitudes: Sequence[float] | np.ndarray, top_hz: float) -> np.ndarray:
    """One period of a sum of harmonics ``amplitudes[k-1] * sin(2 pi k t)``, band-limited.

    Harmonics whose frequency at ``top_hz`` (the highest fundamental the table will be played
    at) would exceed the partial limit are dropped, which is what keeps the oscillator alias-free.
    Built by an inverse FFT (bin k holds harmonic k), a thousand times cheaper than summing sines.
    """
    amps = np.asarray(amplitudes, dtype=np.float64)
    keep = max(1, min(len(amps), int(_MAX_PARTIAL * SAMPLE_RATE / max(top_hz, 1.0)), TABLE_SIZE // 2 - 1))
    spectrum = np.zeros(TABLE_SIZE // 2 + 1, dtype=np.complex128)
    spectrum[1 : keep + 1] = -0.5j * TABLE_SIZE * amps[:keep]  # a sine is -j/2 in the spectrum
    return np.fft.irfft(spectrum, TABLE_SIZE)


def oscillate(table: np.ndarray, freq: float | np.ndarray, n: int, phase0: float = 0.0) -> np.ndarray:
    """Play a one-period ``table`` at ``freq`` (Hz, constant or per sample) for ``n`` samples.

    The phase is accumulated in float64 (float32 would drift out of tune over seconds); the
    table lookup with linear interpolation runs in float32, whose error is still far below the
    int16 quantisation of the store.
    """
    freq = np.asarray(freq, dtype=np.float64)
    if freq.ndim == 0:
        phase = phase0 + np.arange(n) * (float(freq) / SAMPLE_RATE)
    else:
        step = freq[:n] / SAMPLE_RATE
        phase = np.cumsum(step)
        phase += phase0 - step[0]
    phase %= 1.0
    phase *= TABLE_SIZE
    i = phase.astype(np.int32)
    frac = (phase - i).astype(np.float32)
    wrapped = np.append(table, table[0]).astype(np.float32)  # entry TABLE_SIZE = entry 0
    low = wrapped[i]
    return low + frac * (wrapped[i + 1] - low)


def saw_amplitudes(count: int = 64, rolloff: float = 1.0) -> np.ndarray:
    """Harmonic amplitudes ``1 / k**rolloff``: 1.0 is a sawtooth, larger values are darker."""
    return 1.0 / np.arange(1, count + 1) ** rolloff


def envelope(
    n: int, attack: float, release: float, hold: float | None = None, decay: float | None = None
) -> np.ndarray:
    """Attack / exponential decay / release envelope of ``n`` samples (times in seconds).

    ``hold`` is where the key is released (default: ``n``); ``decay`` is the time constant of
    the fall after the attack (None: sustain at full level, as an organ or a bowed string).
    """
    t = np.arange(n) / SAMPLE_RATE
    hold = n / SAMPLE_RATE if hold is None else hold
    env = np.minimum(1.0, t / max(attack, 1e-4))
    if decay is not None:
        env = env * np.exp(-np.maximum(t - attack, 0.0) / decay)
    # a quadratic fade reaches exactly zero at the end of the release (an exponential would
    # have to be cut, and the cut is an audible click)
    fade = np.clip(1.0 - (t - hold) / max(release, 1e-4), 0.0, 1.0)
    return env * np.where(t > hold, fade * fade, 1.0)


def resonator_sos(freq: float, bandwidth: float) -> np.ndarray:
    """A two-pole resonator with unit gain at 0 Hz, as one second-order section.

    This is the formant resonator of Klatt's cascade synthesiser (Klatt 1980, JASA 67:971):
    pole radius from the bandwidth, pole angle from the centre frequency.
    """
    r = np.exp(-np.pi * bandwidth / SAMPLE_RATE)
    c = -2.0 * r * np.cos(2 * np.pi * freq / SAMPLE_RATE)
    gain = 1.0 + c + r * r
    return np.array([gain, 0.0, 0.0, 1.0, c, r * r])


def filtered(x: np.ndarray, kind: str, cutoff: float | Sequence[float], order: int = 2) -> np.ndarray:
    """Butterworth low/high/band-pass (``kind`` as scipy's btype), cutoff in Hz."""
    nyquist = SAMPLE_RATE / 2
    edges = np.clip(np.asarray(cutoff, dtype=np.float64) / nyquist, 1e-4, 0.999)
    return sosfilt(butter(order, edges, btype=kind, output="sos"), x)


def karplus_strong(
    freq: float, n: int, rng: np.random.Generator, t60: float = 2.0, brightness: float = 0.7,
    pluck_position: float = 0.2,
) -> np.ndarray:
    """A plucked string (Karplus & Strong 1983, CMJ 7(2)) with Jaffe & Smith's extensions
    (Jaffe & Smith 1983, CMJ 7(2)): tuning, decay stretching and a pluck position.

    The loop ``y[n] = x[n] + g * ((1-S) y[n-N] + S y[n-N-1])`` is an IIR filter, so scipy's
    ``lfilter`` runs it in C instead of a Python loop over the delay line. A first-order
    all-pass in the loop supplies the fractional delay that tunes the string (otherwise high
    notes go audibly flat). ``S`` < 0.5 weakens the loop's low-pass for high notes, which would
    otherwise die within a fraction of a second. The excitation is one period of zero-mean
    noise (the loop's gain at 0 Hz is huge, any offset would become a slow drift), darkened by
    ``brightness`` and comb-filtered at the pluck position.
    """
    period = SAMPLE_RATE / freq
    # decay stretching: choose S so that the low-pass alone takes at most half of the dB decay
    # of the fundamental; S = 0.5 (the plain average) is gentle enough for low notes
    omega = 2 * np.pi * freq / SAMPLE_RATE
    quota = (1.0 - 10.0 ** (-3.0 / (t60 * freq))) / (2.0 * (1.0 - np.cos(omega)))  # S(1-S)
    stretch = 0.5 if quota >= 0.25 else 0.5 * (1.0 - np.sqrt(1.0 - 4.0 * quota))
    # keep the all-pass delay in (0.1, 1.1]: a coefficient near 1 would ring (Jaffe & Smith)
    delay = int(np.floor(period - stretch - 0.1))
    frac = period - stretch - delay
    c = (1.0 - frac) / (1.0 + frac)
    # loop gain per period for a fundamental that falls 60 dB in t60 seconds, less the damping
    # that the two-point low-pass already applies at the fundamental
    lowpass = abs((1 - stretch) + stretch * np.exp(-1j * omega))
    loss = min(10.0 ** (-3.0 / (t60 * freq)) / lowpass, 0.99999)
    # (1 + c z^-1) Y = X (1 + c z^-1) + loss ((1-S) + S z^-1)(c + z^-1) z^-delay Y
    a = np.zeros(delay + 3)
    a[0], a[1] = 1.0, c
    a[delay : delay + 3] -= loss * np.array([(1 - stretch) * c, (1 - stretch) + stretch * c, stretch])
    burst = rng.uniform(-1.0, 1.0, delay)
    burst = lfilter([brightness], [1.0, brightness - 1.0], burst)  # one-pole low-pass
    shift = max(1, int(pluck_position * delay))
    burst[shift:] -= burst[:-shift]
    burst -= burst.mean()
    excitation = np.zeros(n)
    excitation[: min(n, delay)] = burst[: min(n, delay)]
    return lfilter([1.0, c], a, excitation)


def add_at(out: np.ndarray, sound: np.ndarray, start: int) -> None:
    """Mix ``sound`` into ``out`` from sample ``start``, dropping what falls outside."""
    lo = max(start, 0)
    hi = min(start + len(sound), len(out))
    if hi > lo:
        out[lo:hi] += sound[lo - start : hi - start]


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0
