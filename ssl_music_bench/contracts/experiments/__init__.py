"""The named experiments of `bench experiment`, one TOML file each (ssl_music_bench/experiments/)."""
