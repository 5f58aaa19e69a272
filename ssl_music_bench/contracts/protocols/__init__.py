"""Built-in protocol files (TOML), one per protocol version."""
