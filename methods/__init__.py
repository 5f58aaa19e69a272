"""Built-in pretext methods: one file per method, each registered with ``@register_method``.

Every module of this package is imported when a registry is first read.
"""

from ssl_music_bench.contracts.registry import import_submodules

import_submodules(__name__, __path__)
