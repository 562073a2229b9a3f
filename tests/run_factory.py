"""Synthetic, well-formed Runs for store/export/page tests (no training, no TensorFlow)."""

from __future__ import annotations

import numpy as np

from vgrad.config import RunConfig
from vgrad.records import LAYER_STATS
from vgrad.run import Run


def make_run(n_layers: int = 4, n_steps: int = 20, steps_per_epoch: int = 5, status: str = "finished",
             seed: int = 0, snapshot_every: int = 5, units: int = 8, **config) -> Run:
    """A run shaped like the engine's: gradients shrink 10x per layer towards the input."""
    rng = np.random.default_rng(seed)
    cfg = RunConfig(hidden_layers=max(1, n_layers - 1), units=units, epochs=max(1, n_steps // steps_per_epoch),
                    **config)
    layers = [{"name": f"dense_{i}" if i < n_layers - 1 else "output", "index": i,
               "kind": "dense" if i < n_layers - 1 else "output", "units": units if i < n_layers - 1 else 1,
               "activation": cfg.activation, "fan_in": 2 if i == 0 else units} for i in range(n_layers)]
    records: list[dict] = [{"kind": "start", "layers": layers, "n_train": 75, "n_val": 25,
                            "steps_per_epoch": steps_per_epoch, "total_steps": n_steps, "family": "mlp",
                            "lr": cfg.learning_rate}]
    for s in range(n_steps):
        scale = [10.0 ** (i - n_layers) * (1 + 0.1 * rng.random()) for i in range(n_layers)]
        step = {"kind": "step", "step": s, "epoch": s // steps_per_epoch, "loss": 0.7 / (1 + 0.05 * s) + 1e-3 * seed,
                "global_norm": float(sum(scale)), "global_norm_clipped": float(sum(scale))}
        for k in LAYER_STATS:
            step[k] = [float(v) for v in scale]
        records.append(step)
        if snapshot_every and s % snapshot_every == 0:
            for layer in layers:
                grad = rng.normal(0, scale[layer["index"]], (layer["fan_in"], layer["units"]))
                records.append({"kind": "snapshot", "step": s, "layer_index": layer["index"],
                                "grad": grad.tolist()})
        if (s + 1) % steps_per_epoch == 0:
            e = s // steps_per_epoch
            records.append({"kind": "epoch", "epoch": e, "step": s, "loss": 0.7 - 0.01 * e,
                            "accuracy": 0.5 + 0.01 * e, "val_loss": 0.71 - 0.01 * e, "val_accuracy": 0.5})
    if status != "running":  # a running run has no status record yet
        records.append({"kind": "status", "status": status, "step": n_steps - 1, "message": ""})
    return Run.from_records(cfg, records)
