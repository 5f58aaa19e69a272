"""``python -m ssl_music_bench.cli``: the ``bench`` command without its console script."""

import sys

from ssl_music_bench.cli import main

sys.exit(main())
