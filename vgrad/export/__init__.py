"""Exports of runs to other tools (no TensorFlow): `vgrad.export.tensorboard`."""
