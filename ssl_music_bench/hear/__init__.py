"""The HEAR 2021 common API both ways: `bench export --hear` (export.py, api.py) and
``--encoder hear:MODULE[:WEIGHTS]`` with the ``frozen`` method (encoder.py, frozen.py)."""
