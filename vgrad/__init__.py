"""vgrad: an interactive lab for the vanishing gradient problem.

The core (config, data, models, engine) is plain Python; TensorFlow is imported only
when a model is built or trained, so `import vgrad` stays light.
"""

from vgrad.config import FIELDS, ConfigError, RunConfig
from vgrad.presets import COMPARISONS, PRESETS, preset

__all__ = ["FIELDS", "COMPARISONS", "PRESETS", "ConfigError", "RunConfig", "preset", "train", "Run",
           "GradientMonitor"]


def __getattr__(name: str):
    # Lazy: these import TensorFlow.
    if name == "train":
        from vgrad.engine import train

        return train
    if name == "Run":
        from vgrad.run import Run

        return Run
    if name == "GradientMonitor":
        from vgrad.callback import GradientMonitor

        return GradientMonitor
    raise AttributeError(name)
