"""Weights trained elsewhere: CLMR's released checkpoints, read safely and mapped onto our SampleCNN."""

from ssl_music_bench.weights.external import ExternalWeights, check_weights_pairing, load_external_weights

__all__ = ["ExternalWeights", "check_weights_pairing", "load_external_weights"]
