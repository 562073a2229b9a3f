"""A config's training data: the data set (vgrad.datasets, or an uploaded table), split, shaped.

The defaults reproduce the notebook exactly: make_classification(n_samples=100, n_features=2,
n_classes=2, n_redundant=0, n_repeated=0, n_clusters_per_class=1, random_state=2121) and
train_test_split(random_state=2121), giving 75 training and 25 validation examples.

Labels by task: binary (n, 1) float32 in {0, 1}; multi-class (n,) int32 class indices; regression
(n, 1) float32 targets standardised with the training split's mean and std (so a loss of 1.0 is
what predicting the mean scores). Features are standardised on the training split when asked.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import train_test_split

from vgrad import datasets
from vgrad.config import RunConfig

# RunConfig field -> the data set's make() parameter.
PARAMS = {"n_samples": "n_samples", "n_features": "n_features", "n_classes": "n_classes",
          "n_informative": "n_informative", "n_clusters_per_class": "n_clusters_per_class",
          "class_sep": "class_sep", "flip_y": "flip_y", "noise": "noise"}


@dataclass(frozen=True)
class Dataset:
    x_train: np.ndarray  # (n, features) or (n, seq_len, features) for rnn; float32
    y_train: np.ndarray  # see the module docstring
    x_val: np.ndarray
    y_val: np.ndarray
    classes: tuple[str, ...] = ()  # class names (classification)
    target_mean: float = 0.0  # regression: the standardisation undone by `target * std + mean`
    target_std: float = 1.0


def make_xy(config: RunConfig) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """The data set's features, labels (int) or targets (float), and class names, before splitting."""
    if config.dataset == "csv":
        from vgrad.uploads import UploadStore

        table = UploadStore().table(config)
        x, y, classes = table.x.astype(np.float64), table.y, table.class_names
        if config.n_samples < len(y):  # a seeded subset of the rows
            keep = np.sort(np.random.default_rng(config.data_seed).choice(len(y), config.n_samples, replace=False))
            x, y = x[keep], y[keep]
        return x, y, tuple(classes)
    spec = datasets.DATASETS[config.dataset]
    params = {p: getattr(config, f) for f, p in PARAMS.items() if p in spec.params}
    if "n_informative" in params:
        params["n_informative"] = params["n_informative"] or None  # 0: the generator's default rule
    x, y = spec.make(seed=config.data_seed, **params)
    if config.task == "regression":
        return x, y, ()
    classes = spec.class_names or tuple(str(k) for k in range(config.n_classes))
    return x, y, classes


def load(config: RunConfig) -> Dataset:
    """Make, split (random_state=data_seed) and shape the data for `config.family` and `config.task`."""
    x, y, classes = make_xy(config)
    if len(x) != config.n_samples:
        raise ValueError(f"the data set has {len(x)} examples, the config expects n_samples={config.n_samples}")
    x_tr, x_va, y_tr, y_va = train_test_split(x, y, test_size=config.val_fraction, random_state=config.data_seed)
    if config.standardize:
        mean, std = x_tr.mean(axis=0), x_tr.std(axis=0)
        std[std == 0] = 1.0
        x_tr, x_va = (x_tr - mean) / std, (x_va - mean) / std
    if config.family == "rnn":
        x_tr, x_va = to_sequences(x_tr, config, 0), to_sequences(x_va, config, 1)
    f32 = np.float32
    mean, std = 0.0, 1.0
    if config.task == "regression":
        mean, std = float(np.mean(y_tr)), float(np.std(y_tr)) or 1.0
        y_tr, y_va = ((y_tr - mean) / std).reshape(-1, 1).astype(f32), ((y_va - mean) / std).reshape(-1, 1).astype(f32)
    elif config.task == "multiclass":
        y_tr, y_va = y_tr.astype(np.int32), y_va.astype(np.int32)
    else:
        y_tr, y_va = y_tr.reshape(-1, 1).astype(f32), y_va.reshape(-1, 1).astype(f32)
    return Dataset(x_tr.astype(f32), y_tr, x_va.astype(f32), y_va, classes, mean, std)


def to_sequences(x: np.ndarray, config: RunConfig, part: int) -> np.ndarray:
    """Long-dependency task: the features sit at time step 0; steps 1.. are pure noise.

    The label depends only on step 0, so a recurrent net must carry it across seq_len steps.
    """
    rng = np.random.default_rng([config.data_seed, part])
    seq = rng.normal(0.0, config.seq_noise, size=(x.shape[0], config.seq_len, x.shape[1]))
    seq[:, 0, :] = x
    return seq
