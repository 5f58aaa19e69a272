"""`bench grid`: a whole method x encoder x task x seed grid, its cells run concurrently and resumably.

cells.py (what a grid is), worker.py (one pretraining group as `bench run` processes),
runner.py (the local pool and the contract's run_grid), progress.py (the one display),
slurm.py (the same groups as a submitit job array), config.py (the grid as a TOML file).
"""

from ssl_music_bench.grid.cells import GridCell, expand_grid
from ssl_music_bench.grid.runner import GridInterrupted, GridOutcome, cell_record_path, run_grid

__all__ = ["GridCell", "GridInterrupted", "GridOutcome", "cell_record_path", "expand_grid", "run_grid"]
