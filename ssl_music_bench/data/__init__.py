"""Audio to examples: the clip store, decoding and resampling, samplers, multi-source batches,
silence levels, `bench prepare` and `bench separate`, and the synthetic corpus.
"""
