"""Data sets from scikit-learn generators, split and (optionally) standardised.

The defaults reproduce the notebook exactly: make_classification(n_samples=100, n_features=2,
n_classes=2, n_redundant=0, n_repeated=0, n_clusters_per_class=1, random_state=2121) and
train_test_split(random_state=2121), giving 75 training and 25 validation examples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.datasets import make_circles, make_classification, make_moons
from sklearn.model_selection import train_test_split

from vgrad.config import RunConfig


@dataclass(frozen=True)
class Dataset:
    x_train: np.ndarray  # (n, features) or (n, seq_len, features) for rnn; float32
    y_train: np.ndarray  # (n, 1) float32 in {0, 1}
    x_val: np.ndarray
    y_val: np.ndarray


def make_xy(config: RunConfig) -> tuple[np.ndarray, np.ndarray]:
    """The raw generator output (features, labels) before splitting."""
    if config.dataset == "moons":
        return make_moons(n_samples=config.n_samples, noise=config.noise, random_state=config.data_seed)
    if config.dataset == "circles":
        return make_circles(n_samples=config.n_samples, noise=config.noise, factor=0.5,
                            random_state=config.data_seed)
    informative = config.n_features if config.n_features < 4 else max(2, config.n_features // 2)
    return make_classification(
        n_samples=config.n_samples, n_features=config.n_features, n_classes=2,
        n_informative=informative, n_redundant=0, n_repeated=0, n_clusters_per_class=1,
        class_sep=config.class_sep, flip_y=config.flip_y, random_state=config.data_seed,
    )


def load(config: RunConfig) -> Dataset:
    """Generate, split (random_state=data_seed) and shape the data for `config.family`."""
    x, y = make_xy(config)
    x_tr, x_va, y_tr, y_va = train_test_split(x, y, test_size=config.val_fraction, random_state=config.data_seed)
    if config.standardize:
        mean, std = x_tr.mean(axis=0), x_tr.std(axis=0)
        std[std == 0] = 1.0
        x_tr, x_va = (x_tr - mean) / std, (x_va - mean) / std
    if config.family == "rnn":
        x_tr, x_va = to_sequences(x_tr, config, 0), to_sequences(x_va, config, 1)
    f32 = np.float32
    return Dataset(x_tr.astype(f32), y_tr.reshape(-1, 1).astype(f32), x_va.astype(f32), y_va.reshape(-1, 1).astype(f32))


def to_sequences(x: np.ndarray, config: RunConfig, part: int) -> np.ndarray:
    """Long-dependency task: the features sit at time step 0; steps 1.. are pure noise.

    The label depends only on step 0, so a recurrent net must carry it across seq_len steps.
    """
    rng = np.random.default_rng([config.data_seed, part])
    seq = rng.normal(0.0, config.seq_noise, size=(x.shape[0], config.seq_len, x.shape[1]))
    seq[:, 0, :] = x
    return seq
