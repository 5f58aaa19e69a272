"""Built-in tasks: one file per dataset family, each task registered with ``@register_task``.

Every module of this package is imported when a registry is first read.
"""

from ssl_music_bench.contracts.registry import import_submodules

import_submodules(__name__, __path__)
