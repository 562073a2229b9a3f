"""Named experiments: the notebook's three runs, one per remedy, and paper reproductions.

`preset(name)` returns a RunConfig; `COMPARISONS` groups presets that are meant to be
seen side by side, each with the pattern a person should expect (`expect`) and, as data, the
checks that decide whether the runs show it (`checks`, evaluated by vgrad.readings.verdict).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from vgrad.config import ConfigError, RunConfig


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    config: RunConfig


@dataclass(frozen=True)
class Check:
    """One expected relation between runs of a comparison (read by vgrad.readings.verdict).

    measure: a name in vgrad.readings.MEASURES: a number or a word read off each run.
    runs, against: which runs. A tuple of positions in the comparison, or a selector on their
        configs: "cell=lstm", "global_clipnorm!=0", joined by "&" (all hold); "a|b" takes the first
        alternative that selects any run.
    test: how the measure of each of `runs` relates to each of `against`, or to `value`:
        "gap"  m(run) - m(other) >= value     "ratio" m(run) / m(other) >= value
        "near" m(run) / m(other) within [1/value, value]
        "less" m(run) < m(other)              "more"  m(run) > m(other)
        "at_most" m(run) <= value             "above" m(run) > value
        "in"   m(run) is one of value (words)  "not_in" m(run) is none of value
    A check whose runs select nothing does not apply; the verdict holds when every check that
    applies holds.
    """

    measure: str
    runs: tuple[int, ...] | str
    test: str
    against: tuple[int, ...] | str = ()
    value: float | tuple[str, ...] = 0.0


@dataclass(frozen=True)
class Comparison:
    name: str
    title: str
    presets: tuple[str, ...]
    expect: str
    paper: str = ""
    checks: tuple[Check, ...] = ()


# The notebook: make_classification defaults, 75/25 split, Adam(lr=0.1), batch 32, one epoch.
_NOTEBOOK = dict(epochs=1, learning_rate=0.1, optimizer="adam", batch_size=32, units=8)
# Baseline for remedies: the notebook's deep sigmoid net trained longer.
_DEEP_SIGMOID = dict(hidden_layers=8, units=8, activation="sigmoid", epochs=40, learning_rate=0.01)
# A harder, larger data set for the paper reproductions.
_PAPER_DATA = dict(n_samples=1000, n_features=10, class_sep=1.0, standardize=True, batch_size=32)
_CHAOS = dict(_PAPER_DATA, hidden_layers=30, units=32, activation="tanh", initializer="random_normal",
              bias_std=math.sqrt(0.05), optimizer="sgd", learning_rate=0.01, epochs=10)
_ISOMETRY = dict(_PAPER_DATA, hidden_layers=20, units=32, optimizer="sgd", learning_rate=0.05, epochs=10)
_RNN = dict(family="rnn", n_samples=1000, n_features=4, class_sep=2.0, flip_y=0.0, standardize=True,
            units=32, seq_len=40, epochs=15, batch_size=32, optimizer="adam", learning_rate=0.005,
            activation="tanh")

_SPECS: list[tuple[str, str, dict]] = [
    ("notebook-deep-sigmoid", "The notebook: 8 sigmoid Dense(8) layers, Adam lr 0.1, one epoch",
     dict(_NOTEBOOK, hidden_layers=8, activation="sigmoid")),
    ("notebook-shallow-sigmoid", "The notebook's fix 1: only 2 sigmoid layers",
     dict(_NOTEBOOK, hidden_layers=2, activation="sigmoid")),
    ("notebook-deep-relu", "The notebook's fix 2: 7 ReLU layers",
     dict(_NOTEBOOK, hidden_layers=7, activation="relu")),
    ("deep-sigmoid", "Remedy baseline: 8 sigmoid layers, Adam lr 0.01, 40 epochs",
     dict(_DEEP_SIGMOID)),
    ("remedy-relu", "Remedy 1: ReLU instead of sigmoid (non-saturating for x > 0)",
     dict(_DEEP_SIGMOID, activation="relu", initializer="he_normal")),
    ("remedy-leaky-relu", "Remedy 1: LeakyReLU (alpha 0.1), no dead units",
     dict(_DEEP_SIGMOID, activation="leaky_relu", leaky_alpha=0.1, initializer="he_normal")),
    ("remedy-prelu", "Remedy 1: PReLU, a learned negative slope",
     dict(_DEEP_SIGMOID, activation="prelu", initializer="he_normal")),
    ("remedy-he-init", "Remedy 2: He initialisation for a deep ReLU net",
     dict(_DEEP_SIGMOID, hidden_layers=16, activation="relu", initializer="he_normal")),
    ("remedy-glorot-init", "Remedy 2: Glorot initialisation for a deep tanh net",
     dict(_DEEP_SIGMOID, activation="tanh", initializer="glorot_uniform")),
    ("remedy-batchnorm", "Remedy 3: BatchNormalization before each sigmoid",
     dict(_DEEP_SIGMOID, batch_norm="before")),
    ("remedy-residual", "Remedy 4: identity skip connections every 2 layers",
     dict(_DEEP_SIGMOID, residual_every=2)),
    ("remedy-clipping", "Remedy 5: gradient clipping, clipvalue 1.0",
     dict(_DEEP_SIGMOID, clipvalue=1.0)),
    ("remedy-lstm", "Remedy 6: an LSTM carries the signal across 40 time steps",
     dict(_RNN, cell="lstm")),
    ("remedy-gru", "Remedy 6: a GRU carries the signal across 40 time steps",
     dict(_RNN, cell="gru")),
    ("remedy-dropout-l2", "Remedy 7: dropout 0.2 and L2 0.01",
     dict(_DEEP_SIGMOID, dropout=0.2, l2=0.01)),
    # Glorot & Bengio (2010)
    ("glorot-tanh-standard", "Glorot & Bengio 2010: tanh, 5x64, 'standard' init U[±1/sqrt(n_in)], SGD",
     dict(_PAPER_DATA, hidden_layers=5, units=64, activation="tanh", initializer="glorot_bengio_standard",
          optimizer="sgd", learning_rate=0.05, epochs=20)),
    ("glorot-tanh-normalized", "Glorot & Bengio 2010: tanh, 5x64, normalized (Glorot) init, SGD",
     dict(_PAPER_DATA, hidden_layers=5, units=64, activation="tanh", initializer="glorot_uniform",
          optimizer="sgd", learning_rate=0.05, epochs=20)),
    # He et al. (2015)
    ("he-relu-small-init", "He et al. 2015: 20 ReLU layers with N(0, 0.01) init stall",
     dict(_PAPER_DATA, hidden_layers=20, units=32, activation="relu", initializer="random_normal",
          init_std=0.01, optimizer="momentum", learning_rate=0.01, epochs=20)),
    ("he-relu-he-init", "He et al. 2015: the same 20 ReLU layers with He init train",
     dict(_PAPER_DATA, hidden_layers=20, units=32, activation="relu", initializer="he_normal",
          optimizer="momentum", learning_rate=0.01, epochs=20)),
    # Ioffe & Szegedy (2015)
    ("ioffe-sigmoid-plain", "Ioffe & Szegedy 2015: 3x100 sigmoid, small Gaussian init, no BatchNorm",
     dict(_PAPER_DATA, hidden_layers=3, units=100, activation="sigmoid", initializer="random_normal",
          init_std=0.01, optimizer="sgd", learning_rate=0.5, epochs=20)),
    ("ioffe-sigmoid-bn", "Ioffe & Szegedy 2015: the same net with BatchNorm before each sigmoid",
     dict(_PAPER_DATA, hidden_layers=3, units=100, activation="sigmoid", initializer="random_normal",
          init_std=0.01, optimizer="sgd", learning_rate=0.5, epochs=20, batch_norm="before")),
    # He et al. (2016)
    ("resnet-plain", "He et al. 2016: a plain 32-layer ReLU net (Glorot init) stalls",
     dict(_PAPER_DATA, hidden_layers=32, units=32, activation="relu", initializer="glorot_uniform",
          optimizer="momentum", learning_rate=0.005, epochs=20)),
    ("resnet-residual", "He et al. 2016: the same net with identity shortcuts every 2 layers trains",
     dict(_PAPER_DATA, hidden_layers=32, units=32, activation="relu", initializer="glorot_uniform",
          optimizer="momentum", learning_rate=0.005, epochs=20, residual_every=2)),
    # Bengio et al. (1994); Hochreiter & Schmidhuber (1997)
    ("rnn-simple", "Bengio 1994: a SimpleRNN forgets step 0 across 40 steps",
     dict(_RNN, cell="simple_rnn")),
    ("rnn-lstm", "Hochreiter & Schmidhuber 1997: an LSTM bridges 40 steps",
     dict(_RNN, cell="lstm")),
    ("rnn-gru", "Cho et al. 2014: a GRU bridges 40 steps",
     dict(_RNN, cell="gru")),
    # Pascanu et al. (2013)
    ("rnn-exploding", "Pascanu 2013: SimpleRNN with recurrent gain 3 > 1/gamma, no clipping",
     dict(_RNN, cell="simple_rnn", recurrent_scale=3.0, optimizer="sgd", learning_rate=0.05, epochs=10)),
    ("rnn-exploding-clipped", "Pascanu 2013: the same with global norm clipping at 1",
     dict(_RNN, cell="simple_rnn", recurrent_scale=3.0, optimizer="sgd", learning_rate=0.05, epochs=10,
          global_clipnorm=1.0)),
    # Poole et al. (2016), Schoenholz et al. (2017): tanh at sigma_b^2 = 0.05, 30 layers
    ("chaos-tanh-ordered", "Schoenholz 2017: tanh, 30 layers, sigma_w^2 = 0.6 (ordered: gradients vanish)",
     dict(_CHAOS, init_std=math.sqrt(0.6 / 32))),
    ("chaos-tanh-critical", "Schoenholz 2017: the same at sigma_w^2 = 1.76, the edge of chaos",
     dict(_CHAOS, init_std=math.sqrt(1.76 / 32))),
    ("chaos-tanh-chaotic", "Schoenholz 2017: the same at sigma_w^2 = 4 (chaotic: gradients explode)",
     dict(_CHAOS, init_std=math.sqrt(4.0 / 32))),
    # Saxe et al. (2013), Pennington et al. (2017): orthogonal vs Gaussian weights, 20 layers
    ("isometry-tanh-gaussian", "Pennington 2017: tanh at sigma_w^2 = 1, sigma_b^2 = 0, Gaussian weights",
     dict(_ISOMETRY, activation="tanh", initializer="random_normal", init_std=math.sqrt(1.0 / 32))),
    ("isometry-tanh-orthogonal", "Pennington 2017: the same with orthogonal weights (dynamical isometry)",
     dict(_ISOMETRY, activation="tanh", initializer="orthogonal", init_gain=1.0)),
    ("isometry-sigmoid-gaussian", "Pennington 2017: sigmoid on its critical line (sigma_w^2 = 103), Gaussian",
     dict(_ISOMETRY, activation="sigmoid", initializer="random_normal", init_std=math.sqrt(103.0 / 32),
          bias_std=math.sqrt(0.05))),
    ("isometry-sigmoid-orthogonal", "Pennington 2017: the same sigmoid with orthogonal weights",
     dict(_ISOMETRY, activation="sigmoid", initializer="orthogonal", init_gain=103.0, bias_std=math.sqrt(0.05))),
    # He et al. (2015) through mean-field theory: chi_1 = sigma_w^2 / 2 for ReLU
    ("relu-ordered-lecun", "ReLU, 20 layers, LeCun init (sigma_w^2 = 1, chi_1 = 1/2: ordered)",
     dict(_PAPER_DATA, hidden_layers=20, units=32, activation="relu", initializer="lecun_normal",
          optimizer="momentum", learning_rate=0.01, epochs=10)),
    ("relu-critical-he", "ReLU, 20 layers, He init (sigma_w^2 = 2, chi_1 = 1: critical)",
     dict(_PAPER_DATA, hidden_layers=20, units=32, activation="relu", initializer="he_normal",
          optimizer="momentum", learning_rate=0.01, epochs=10)),
]

# Ioffe & Szegedy, He et al. 2016: the fixed net ends with a lower loss and a larger early gradient.
_LOWER_LOSS_BIGGER_GRADIENT = (
    Check("status", (0, 1), "not_in", value=("diverged", "failed")),
    Check("final_loss", (1,), "less", (0,)),
    Check("early_first_grad", (1,), "more", (0,)),
)

PRESETS: dict[str, Preset] = {name: Preset(name, desc, RunConfig(**fields)) for name, desc, fields in _SPECS}

COMPARISONS: dict[str, Comparison] = {c.name: c for c in [
    Comparison("notebook", "The notebook: deep sigmoid vs shallow vs ReLU",
               ("notebook-deep-sigmoid", "notebook-shallow-sigmoid", "notebook-deep-relu"),
               "The deep sigmoid net's first-layer gradient is orders of magnitude below its last layer's; "
               "the shallow and the ReLU nets keep them closer.",
               checks=(Check("attenuation", (0,), "gap", (1, 2), 1.0),)),
    Comparison("remedies", "Every remedy against the deep-sigmoid baseline",
               ("deep-sigmoid", "remedy-relu", "remedy-batchnorm", "remedy-residual", "remedy-clipping",
                "remedy-dropout-l2"),
               "ReLU, BatchNorm and residual connections raise the gradient back-propagated to the first layers "
               "(dL/da) by orders of magnitude; clipping and dropout/L2 barely change it: clipping only bounds "
               "large gradients (here it never engages, so that run is the baseline again), and L2's dL/dW is "
               "large only because it adds the penalty's own gradient 2 x l2 x W.",
               checks=(Check("early_first_act_grad", (1, 2, 3), "ratio", (0,), 3.0),
                       Check("early_first_act_grad", (4, 5), "near", (0,), 10.0))),
    Comparison("glorot-bengio", "Glorot & Bengio 2010: standard vs normalized init (tanh)",
               ("glorot-tanh-standard", "glorot-tanh-normalized"),
               "With standard init the back-propagated gradient dL/da shrinks toward the input; "
               "with normalized init it stays about the same size across layers.",
               paper="Glorot & Bengio (2010)",
               checks=(Check("act_grad_attenuation_at_start", (0,), "gap", (1,), 0.2),)),
    Comparison("he-init", "He et al. 2015: deep ReLU, small init vs He init",
               ("he-relu-small-init", "he-relu-he-init"),
               "Small init: gradients vanish and the loss stays flat near ln 2 = 0.69; He init: the loss falls.",
               paper="He et al. (2015)",
               checks=(Check("loss_verdict", (0,), "in", value=("flat", "barely moved")),
                       Check("loss_verdict", (1,), "in", value=("learned",)))),
    Comparison("batchnorm", "Ioffe & Szegedy 2015: sigmoid with and without BatchNorm",
               ("ioffe-sigmoid-plain", "ioffe-sigmoid-bn"),
               "BatchNorm trains faster and keeps the first layer's gradient up.",
               paper="Ioffe & Szegedy (2015)", checks=_LOWER_LOSS_BIGGER_GRADIENT),
    Comparison("residual", "He et al. 2016: plain vs residual at 32 layers",
               ("resnet-plain", "resnet-residual"),
               "The plain net's first-layer gradient is orders of magnitude below its last and its loss stays "
               "near ln 2; the residual net keeps the gradient and reaches a far lower training loss.",
               paper="He et al. (2016)", checks=_LOWER_LOSS_BIGGER_GRADIENT),
    Comparison("rnn", "Bengio 1994 / Hochreiter 1997: SimpleRNN vs LSTM vs GRU at 40 steps",
               ("rnn-simple", "rnn-lstm", "rnn-gru"),
               "The SimpleRNN's gradient with respect to early inputs vanishes and it stays near chance on "
               "validation; the LSTM (forget-gate bias 1) keeps enough of it to learn the task. The GRU starts "
               "with its update gate near 0.5, so its step-0 gradient starts even smaller: see whether it recovers.",
               paper="Bengio et al. (1994); Hochreiter & Schmidhuber (1997)",
               # The LSTM is the expected bridge; the GRU may or may not recover (without an LSTM,
               # any gated cell is compared).
               checks=(Check("time_kept", "cell=simple_rnn", "less", "cell=lstm|cell!=simple_rnn"),
                       Check("val_accuracy", "cell=simple_rnn", "less", "cell=lstm|cell!=simple_rnn"))),
    Comparison("clipping", "Pascanu et al. 2013: exploding RNN, clipping off vs on",
               ("rnn-exploding", "rnn-exploding-clipped"),
               "Recurrent gain 3 > 1/gamma = 1: gradient norms spike; clipping the global norm at 1 bounds every update.",
               paper="Pascanu et al. (2013)",
               checks=(Check("clip_overshoot", "global_clipnorm!=0", "at_most", value=0.001),
                       Check("max_norm", "global_clipnorm=0&clipnorm=0&clipvalue=0", "above", value=1.0))),
    Comparison("edge-of-chaos", "Schoenholz et al. 2017: tanh at 30 layers, ordered vs critical vs chaotic",
               ("chaos-tanh-ordered", "chaos-tanh-critical", "chaos-tanh-chaotic"),
               "At the edge of chaos (chi_1 = 1, sigma_w^2 = 1.76 for sigma_b^2 = 0.05) the gradient keeps its size "
               "through 30 layers and the net trains; in the ordered phase it vanishes and the loss stays at ln 2; "
               "in the chaotic phase it grows toward the input and training is worse.",
               paper="Poole et al. (2016); Schoenholz et al. (2017)",
               checks=(Check("final_loss", (1,), "less", (0, 2)),
                       Check("act_grad_attenuation_at_start", (0,), "gap", (1,), 2.0))),
    Comparison("isometry", "Pennington et al. 2017: orthogonal vs Gaussian weights, the Jacobian's spectrum",
               ("isometry-tanh-gaussian", "isometry-tanh-orthogonal", "isometry-sigmoid-gaussian",
                "isometry-sigmoid-orthogonal"),
               "At the same sigma_w^2, orthogonal weights spread the squared singular values of the Jacobian far "
               "less than Gaussian ones (dynamical isometry). For tanh near q* = 0 the orthogonal net is almost an "
               "isometry; the logistic sigmoid cannot be centred, so on its critical line q* is large and it gains "
               "less (Pennington et al. shift it to make it work).",
               paper="Saxe et al. (2013); Pennington, Schoenholz & Ganguli (2017)",
               checks=(Check("spectrum_spread", "activation=tanh&initializer=orthogonal", "less",
                             "activation=tanh&initializer=random_normal"),
                       Check("spectrum_spread", "activation=sigmoid&initializer=orthogonal", "less",
                             "activation=sigmoid&initializer=random_normal"))),
    Comparison("he-critical", "Mean-field theory of He et al. 2015: ReLU is critical at sigma_w^2 = 2",
               ("relu-ordered-lecun", "relu-critical-he"),
               "For ReLU chi_1 = sigma_w^2 / 2: LeCun init (1/fan_in) halves the squared gradient per layer, so after "
               "20 layers dL/da at the input is ~1000x smaller and the loss stays at ln 2; He init (2/fan_in) is "
               "exactly critical and trains.",
               paper="He et al. (2015); Schoenholz et al. (2017)",
               checks=(Check("act_grad_attenuation_at_start", (0,), "gap", (1,), 2.0),
                       Check("final_loss", (1,), "less", (0,)))),
]}


def preset(name: str) -> RunConfig:
    """The RunConfig of a named preset; ConfigError lists the names if unknown."""
    try:
        return PRESETS[name].config
    except (KeyError, TypeError):
        raise ConfigError("preset", f"unknown preset {str(name)[:40]!r}; known: {', '.join(PRESETS)}") from None
