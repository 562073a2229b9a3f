"""vgrad: an interactive lab for the vanishing gradient problem.

    import vgrad
    run = vgrad.train(vgrad.preset("notebook-deep-sigmoid"))   # imports TensorFlow on first use
    run.attenuation()

The domain (config, presets, records, run, readings, store...) is plain Python; TensorFlow is
imported only when a model is built or trained (vgrad.train), so `import vgrad` stays light.
"""

from vgrad import train
from vgrad.config import FIELDS, ConfigError, RunConfig
from vgrad.presets import COMPARISONS, PRESETS, preset

__all__ = ["FIELDS", "COMPARISONS", "PRESETS", "ConfigError", "RunConfig", "preset", "train", "Run",
           "GradientMonitor"]


def __getattr__(name: str):
    if name == "Run":
        from vgrad.run import Run

        return Run
    if name == "GradientMonitor":  # imports TensorFlow
        from vgrad.train.callback import GradientMonitor

        return GradientMonitor
    raise AttributeError(name)
