"""`bench experiment`: the seed papers' experiments as data (contracts/experiments/*.toml),
expanded into grid cells (expansion.py), run by the grid runner and rendered (rendering.py)."""
