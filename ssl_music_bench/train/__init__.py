"""Pretraining and what surrounds it.

pretrained.py   a run's method: its checkpoint reused, or pretrained now and saved (load_pretrained)
pretrain.py     pretrain(): the Lightning Trainer around a method for the protocol's budget
module.py       the training step (step_loss) and the LightningModule that runs it
optimisation.py a method's optimiser and schedule, read once from Lightning's formats
callbacks.py    the loss curve for the record, and resume checkpoints
distributed.py  what makes N processes compute what one computes (draws, batch norm, gathers)
acceleration.py channels-last layout and torch.compile, which keep the computation
checkpoint.py   content-addressed safetensors checkpoints
speed/          `bench speed`: the training step timed with and without the input pipeline
"""
