"""Pretraining: the Lightning loop around a method, its callbacks and distributed pieces,
checkpoints, acceleration, and the speed benchmark of the training step.
"""
