"""Audio to examples: the clip store, decoding and resampling, samplers, multi-source batches,
silence levels, `bench prepare` and `bench separate` (a subpackage), and the synthetic corpus
(synthetic_corpus.py, what readers open; synth/, the generator that renders it).
"""
