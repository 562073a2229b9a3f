"""The Recurrent page's components: SimpleRNN vs LSTM vs GRU, and exploding gradients with clipping.

    choice = controls()                 # scenario, cells, sequence length, units, epochs, clipping, lr, samples
    train_controls(client, choice)
    live_panels(client, choice)
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from vgrad.charts.compare import loss_overlay
from vgrad.charts.recurrent import norm_chart, sigma_chart, time_heatmaps, time_profile
from vgrad.config import RunConfig
from vgrad.presets import COMPARISONS, preset
from vgrad.readings import clipping_comparison, recurrent_reading, run_readings
from vgrad.service.client import BackendClient
from vgrad.ui.multi_run import RunGroup, status_line, verdict_icon
from vgrad.ui.url_state import md_escape

GROUP = RunGroup("vgrad.rnn")
_ERRORS, _TRAINED, _URL = "vgrad.rnn.errors", "vgrad.rnn.trained", "vgrad.rnn.url"
SCENARIOS = {"long": "Long dependency: SimpleRNN vs LSTM vs GRU",
             "exploding": "Exploding gradients: recurrent gain above 1/gamma, clipping off vs on"}
CELL_PRESETS = {"simple_rnn": "rnn-simple", "lstm": "rnn-lstm", "gru": "rnn-gru"}
CELL_NAMES = {"simple_rnn": "SimpleRNN", "lstm": "LSTM", "gru": "GRU"}
LIMITS = {"seq_len": (5, 100), "units": (4, 64), "epochs": (1, 50), "gain": (0.5, 5.0), "lr": (1e-4, 1.0),
          "samples": (200, 5000)}
# The presets' learning rates (Adam for the cells, SGD for the exploding pair).
DEFAULT_LR = {"long": preset("rnn-simple").learning_rate, "exploding": preset("rnn-exploding").learning_rate}


@dataclass(frozen=True)
class Choice:
    scenario: str = "long"
    cells: tuple[str, ...] = ("simple_rnn", "lstm", "gru")
    seq_len: int = 40
    units: int = 32
    epochs: int = 15
    clip: bool = False
    gain: float = 3.0
    lr: float | None = None  # None: the scenario's presets' own
    samples: int = 1000

    @property
    def learning_rate(self) -> float:
        return DEFAULT_LR[self.scenario] if self.lr is None else self.lr

    def runs(self) -> list[tuple[str, RunConfig]]:
        """(label, config) of every run this choice trains."""
        common = dict(seq_len=self.seq_len, units=self.units, epochs=self.epochs, n_samples=self.samples,
                      learning_rate=self.learning_rate)
        if self.scenario == "exploding":
            return [(f"gain {self.gain:g}, no clipping",
                     preset("rnn-exploding").with_values(recurrent_scale=self.gain, **common)),
                    (f"gain {self.gain:g}, global_clipnorm 1",
                     preset("rnn-exploding-clipped").with_values(recurrent_scale=self.gain, **common))]
        clip = dict(global_clipnorm=1.0) if self.clip else {}
        return [(CELL_NAMES[c] + (" (clipped)" if self.clip else ""),
                 preset(CELL_PRESETS[c]).with_values(**common, **clip)) for c in self.cells]

    def query(self) -> dict[str, str]:
        q = {"scenario": self.scenario, "seq_len": str(self.seq_len), "units": str(self.units),
             "epochs": str(self.epochs), "lr": f"{self.learning_rate:g}", "samples": str(self.samples)}
        if self.scenario == "long":
            q["cells"] = ",".join(self.cells)
            q["clip"] = "on" if self.clip else "off"
        else:
            q["gain"] = f"{self.gain:g}"
        return q


def parse_query(params: dict) -> tuple[Choice, list[str]]:
    """A Choice from link parameters; anything unusable is dropped and listed."""
    problems: list[str] = []
    d = Choice()
    flat = {k: (v[-1] if isinstance(v, list) and v else v) for k, v in params.items()}
    scenario = str(flat.get("scenario", d.scenario))
    if scenario not in SCENARIOS:
        problems.append(f"ignored unknown scenario {scenario[:40]!r}")
        scenario = d.scenario
    cells = d.cells
    if "cells" in flat:
        wanted = tuple(c for c in str(flat["cells"]).split(",") if c in CELL_PRESETS)
        if wanted:
            cells = wanted
        else:
            problems.append("ignored cells: expected simple_rnn, lstm and/or gru")

    def number(name, kind, default):
        if name not in flat:
            return default
        lo, hi = LIMITS[name]
        try:
            value = kind(float(flat[name]))
        except (TypeError, ValueError):
            problems.append(f"ignored {name}: not a number")
            return default
        if not lo <= value <= hi:
            problems.append(f"ignored {name}={value}: expected {lo} to {hi}")
            return default
        return value

    clip = str(flat.get("clip", "off")).lower() in ("on", "1", "true", "yes")
    return Choice(scenario, cells, number("seq_len", int, d.seq_len), number("units", int, d.units),
                  number("epochs", int, d.epochs), clip, number("gain", float, d.gain), number("lr", float, None),
                  number("samples", int, d.samples)), problems


def controls() -> Choice:
    params = {k: st.query_params.get_all(k)[-1] for k in st.query_params}
    if "rnn.scenario" not in st.session_state or (params and params != st.session_state.get(_URL)):
        # first visit, or arriving with a new link
        start, problems = parse_query(params)
        for p in problems:
            st.warning(md_escape(p, 300), icon="⚠️")
        st.session_state.update({"rnn.scenario": start.scenario, "rnn.cells": list(start.cells),
                                 "rnn.seq_len": start.seq_len, "rnn.units": start.units, "rnn.epochs": start.epochs,
                                 "rnn.clip": start.clip, "rnn.gain": start.gain, "rnn.samples": start.samples,
                                 **{f"rnn.lr.{k}": v for k, v in DEFAULT_LR.items()},
                                 f"rnn.lr.{start.scenario}": start.learning_rate})
    scenario = st.radio("Scenario", list(SCENARIOS), format_func=SCENARIOS.get, horizontal=True, key="rnn.scenario")
    c1, c2, c3, c4 = st.columns(4)
    seq_len = c1.slider("Sequence length", *LIMITS["seq_len"], key="rnn.seq_len",
                        help="time steps; the label depends on step 0 only")
    units = c2.slider("Units", *LIMITS["units"], key="rnn.units")
    epochs = c3.number_input("Epochs", *LIMITS["epochs"], step=1, key="rnn.epochs")
    if scenario == "long":
        cells = st.multiselect("Cells", list(CELL_PRESETS), format_func=CELL_NAMES.get, key="rnn.cells")
        clip = c4.toggle("Clip the global norm at 1", key="rnn.clip")
        gain = st.session_state["rnn.gain"]
    else:
        cells = st.session_state["rnn.cells"]
        clip = st.session_state["rnn.clip"]
        gain = c4.slider("Recurrent gain (singular values of W_rec at init)", *LIMITS["gain"], step=0.1,
                         key="rnn.gain")
    c5, c6, _ = st.columns([1, 1, 2])
    lr = c5.number_input("Learning rate", *LIMITS["lr"], step=None, format="%.4g", key=f"rnn.lr.{scenario}",
                         help="Adam for the long-dependency cells, plain SGD for the exploding pair")
    samples = c6.slider("Training sequences", *LIMITS["samples"], step=100, key="rnn.samples",
                        help="examples made by make_classification, before the validation split")
    choice = Choice(scenario, tuple(cells) or ("simple_rnn",), int(seq_len), int(units), int(epochs), bool(clip),
                    float(gain), float(lr), int(samples))
    if params != choice.query():
        st.query_params.from_dict(choice.query())
    st.session_state[_URL] = choice.query()
    comp = COMPARISONS["rnn" if scenario == "long" else "clipping"]
    st.markdown(f"**Expected** ({comp.paper}): {comp.expect}")
    return choice


def _train(client: BackendClient, choice: Choice) -> None:
    st.session_state[_ERRORS] = GROUP.start(client, choice.runs())
    st.session_state[_TRAINED] = choice


def train_controls(client: BackendClient | None, choice: Choice) -> None:
    c1, c2, c3 = st.columns([1.3, 1, 4])
    if c1.button("▶ Train", type="primary", key="rnn.train", disabled=client is None, width="stretch"):
        _train(client, choice)  # inline: a callback would see the previous rerun's settings
    c2.button("⏹ Stop all", key="rnn.stop", on_click=GROUP.stop, args=(client,), disabled=not GROUP.active(),
              width="stretch")
    c3.caption(f"{len(choice.runs())} runs of {choice.runs()[0][1].total_steps} steps each; two train at a time.")
    for e in st.session_state.get(_ERRORS, []):
        st.error(md_escape(e, 500))


def live_panels(client: BackendClient | None) -> None:
    GROUP.live(client, _panels)


def _panels(jobs, labels) -> None:
    if not jobs:
        st.info("Press **Train**: the gradient through time fills in as the networks learn.")
        return
    choice: Choice = st.session_state.get(_TRAINED, Choice())
    runs = [j.run for j in jobs]
    labels = labels[:len(runs)]
    for col, job, lab in zip(st.columns(len(jobs)), jobs, labels, strict=True):
        col.caption(f"**{md_escape(lab, 80)}**: {md_escape(status_line(job))}")
        if job.run.status in ("failed", "diverged") or job.lost:
            col.error(md_escape(job.run.message or job.message, 300))
    reading = (clipping_comparison if choice.scenario == "exploding" else recurrent_reading)(runs, labels)
    icon = verdict_icon(reading.holds, any(not r.done for r in runs))
    with st.container(border=True):
        st.markdown(f"**Automatic reading** {icon}")
        st.markdown(md_escape(reading.text, 1500))
    st.plotly_chart(time_heatmaps(runs, labels), key="rnn.time")
    st.caption("Each panel: rows are time steps (the label depends on t = 0, at the bottom), columns are training "
               "steps. A dark bottom band means the early input gets almost no gradient: the net cannot learn "
               "that it matters.")
    left, right = st.columns(2)
    left.plotly_chart(time_profile(runs, labels), key="rnn.profile")
    right.plotly_chart(sigma_chart(runs, labels), key="rnn.sigma")
    st.plotly_chart(loss_overlay(runs, labels), key="rnn.loss")
    st.plotly_chart(norm_chart(runs, labels), key="rnn.norm")
    with st.expander("Automatic reading of each run", expanded=False):
        for lab, run in zip(labels, runs, strict=True):
            st.markdown(f"**{md_escape(lab, 80)}**")
            for r in run_readings(run)[1:]:
                st.markdown(f"- {md_escape(r.text, 500)}")
