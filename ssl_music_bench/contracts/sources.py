"""The stem vocabulary: the four sources a music mixture is split into, in the benchmark's order.

They are open-unmix's four music targets, "vocals", "drums", "bass" and "other" (Stöter et al.,
JOSS 2019; the targets of MUSDB18, on which umxhq / umx were trained), which the MSA poster
(Garoufis, Zlatintsi & Maragos, SMC 2023) separates every mixture into: "vocals, drums, bass and
other (accompaniment)". Real datasets after `bench separate`, the synthetic corpus (generated with
its stems), MSA's settings and its batches all name stems with these words.

The order is the benchmark's, not open-unmix's own (vocals first): every stems store, synthetic or
separated, lists its stems in this order, and MSA numbers sources by their place in it.
"""

from __future__ import annotations

SOURCES: tuple[str, ...] = ("drums", "bass", "vocals", "other")
