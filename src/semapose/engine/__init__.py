"""Training engine: loop, torch.distributed (torchrun), checkpoints, logs, validation.

Import the submodules directly (``semapose.engine.trainer`` ...); this package
imports nothing heavy itself.
"""
