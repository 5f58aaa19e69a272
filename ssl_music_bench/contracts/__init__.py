"""The contracts every piece implements: the registry, encoder, method and task, the protocol
and its TOML files, the stem vocabulary and the parsing of method settings.
"""
