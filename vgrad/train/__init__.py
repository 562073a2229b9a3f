"""All of vgrad's TensorFlow code: the engine and what it trains with.

- engine: the instrumented training loop (`train`, `precompile`, `Trainer`)
- models: the Keras model and optimizer a RunConfig describes
- optim: fused optimizer updates; stats: per-layer statistics as TF ops
- compiled: traced steps shared by trainings of one architecture
- tfsetup: thread and graph settings; data: a config's training tensors
- callback: GradientMonitor, for anyone's Keras model

Importing the package imports no TensorFlow; `vgrad.train(config)` (this package, callable)
trains a config, as `vgrad.train.engine.train` does.
"""

from __future__ import annotations

import sys
import types
from typing import Any


def train(*args: Any, **kwargs: Any):
    """vgrad.train.engine.train (imports TensorFlow on first use)."""
    from vgrad.train.engine import train as engine_train

    return engine_train(*args, **kwargs)


class _CallablePackage(types.ModuleType):
    """Lets `vgrad.train(config)` keep working now that vgrad.train is a package."""

    def __call__(self, *args: Any, **kwargs: Any):
        return train(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
