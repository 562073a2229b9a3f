"""The Recurrent page's components: SimpleRNN vs LSTM vs GRU, and exploding gradients with clipping.

    choice = controls()                 # scenario, cells, sequence length, units, epochs, clipping, lr, samples
    train_controls(client, choice)
    live_panels(client)

The page's link is a group of runs in vgrad.links' format: `comparison=rnn` (or `clipping`),
`runs=` the cells' presets, and shared fields (seq_len, units, epochs, learning_rate, n_samples,
global_clipnorm, recurrent_scale). Older links (scenario=, cells=, lr=, ...) still open.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from vgrad import links
from vgrad.charts.compare import loss_overlay
from vgrad.charts.recurrent import norm_chart, sigma_chart, time_heatmaps, time_profile
from vgrad.config import RunConfig
from vgrad.presets import COMPARISONS, preset
from vgrad.readings import clipping_comparison, recurrent_reading, run_readings
from vgrad.records import Status
from vgrad.service.client import BackendClient
from vgrad.text import escape_markdown
from vgrad.ui import url_state
from vgrad.ui.multi_run import RunGroup, status_line, verdict_icon

GROUP = RunGroup("vgrad.rnn")
_ERRORS, _TRAINED, _URL = "vgrad.rnn.errors", "vgrad.rnn.trained", "vgrad.rnn.url"
SCENARIOS = {"long": "Long dependency: SimpleRNN vs LSTM vs GRU",
             "exploding": "Exploding gradients: recurrent gain above 1/gamma, clipping off vs on"}
COMPARISON_OF = {"long": "rnn", "exploding": "clipping"}
CELL_PRESETS = {"simple_rnn": "rnn-simple", "lstm": "rnn-lstm", "gru": "rnn-gru"}
CELL_NAMES = {"simple_rnn": "SimpleRNN", "lstm": "LSTM", "gru": "GRU"}
# The widgets' ranges, by RunConfig field.
LIMITS = {"seq_len": (5, 100), "units": (4, 64), "epochs": (1, 50), "recurrent_scale": (0.5, 5.0),
          "learning_rate": (1e-4, 1.0), "n_samples": (200, 5000)}
# The presets' learning rates (Adam for the cells, SGD for the exploding pair).
DEFAULT_LR = {"long": preset("rnn-simple").learning_rate, "exploding": preset("rnn-exploding").learning_rate}
# Widgets drawn for one scenario only: their state is kept while the other scenario is shown.
_KEEP = ("rnn.cells", "rnn.clip", "rnn.gain")


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

    def group(self) -> links.Group:
        """The runs this choice trains, as a link group."""
        shared = {"seq_len": str(self.seq_len), "units": str(self.units), "epochs": str(self.epochs),
                  "learning_rate": f"{self.learning_rate:g}", "n_samples": str(self.samples)}
        if self.scenario == "exploding":
            return links.comparison_group("clipping", {**shared, "recurrent_scale": f"{self.gain:g}"})
        if self.clip:
            shared["global_clipnorm"] = "1"
        return links.comparison_group("rnn", shared, [CELL_PRESETS[c] for c in self.cells])

    def runs(self) -> list[tuple[str, RunConfig]]:
        """(label, config) of every run this choice trains."""
        configs = self.group().configs()
        if self.scenario == "exploding":
            labels = [f"gain {self.gain:g}, no clipping", f"gain {self.gain:g}, global_clipnorm 1"]
        else:
            labels = [CELL_NAMES[c] + (" (clipped)" if self.clip else "") for c in self.cells]
        return list(zip(labels, configs, strict=True))

    def query(self) -> dict[str, str]:
        return links.group_query(self.group())


def parse_query(params: dict | str) -> tuple[Choice, list[str]]:
    """A Choice from link parameters; anything unusable (or outside the widgets' ranges) is dropped
    and listed."""
    group, problems = links.parse_group(params, default="rnn")
    d = Choice()
    scenario = "exploding" if group.name == "clipping" else "long"
    if group.name not in (None, *COMPARISON_OF.values()):
        problems.append(f"ignored comparison {group.name!r}: this page shows {' or '.join(COMPARISON_OF.values())}")
        group = links.comparison_group("rnn")
    cells = tuple(c for c, p in CELL_PRESETS.items() if p in {m.preset for m in group.members})
    if scenario == "long" and not cells:
        problems.append("ignored runs: expected rnn-simple, rnn-lstm and/or rnn-gru")
    shared = group.shared

    def number(name, kind, default):
        if name not in shared:
            return default
        lo, hi = LIMITS[name]
        value = kind(float(shared[name]))  # valid: parse_group checked it against RunConfig
        if not lo <= value <= hi:
            problems.append(f"ignored {name}={value:g}: this page accepts {lo:g} to {hi:g}")
            return default
        return value

    clip = float(shared.get("global_clipnorm", "0")) > 0
    return Choice(scenario, cells or d.cells, number("seq_len", int, d.seq_len), number("units", int, d.units),
                  number("epochs", int, d.epochs), clip, number("recurrent_scale", float, d.gain),
                  number("learning_rate", float, None), number("n_samples", int, d.samples)), problems


def controls() -> Choice:
    params = url_state.current()
    for key in _KEEP:  # keep the other scenario's widget values alive (Streamlit drops undrawn ones)
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]
    if "rnn.scenario" not in st.session_state or (params and params != st.session_state.get(_URL)):
        # first visit, or arriving with a new link
        start, problems = parse_query(params)
        for p in problems:
            st.warning(escape_markdown(p, 300), icon=":material/link_off:")
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
        gain = c4.slider("Recurrent gain (singular values of W_rec at init)", *LIMITS["recurrent_scale"], step=0.1,
                         key="rnn.gain")
    c5, c6, _ = st.columns([1, 1, 2])
    lr = c5.number_input("Learning rate", *LIMITS["learning_rate"], step=None, format="%.4g",
                         key=f"rnn.lr.{scenario}",
                         help="Adam for the long-dependency cells, plain SGD for the exploding pair")
    samples = c6.slider("Training sequences", *LIMITS["n_samples"], step=100, key="rnn.samples",
                        help="examples made by make_classification, before the validation split")
    choice = Choice(scenario, tuple(cells) or ("simple_rnn",), int(seq_len), int(units), int(epochs), bool(clip),
                    float(gain), float(lr), int(samples))
    url_state.write(choice.query())
    st.session_state[_URL] = choice.query()
    comp = COMPARISONS[COMPARISON_OF[scenario]]
    st.markdown(f"**Expected** ({comp.paper}): {comp.expect}")
    return choice


def _train(client: BackendClient, choice: Choice) -> None:
    st.session_state[_ERRORS] = GROUP.start(client, choice.runs())
    st.session_state[_TRAINED] = choice


def train_controls(client: BackendClient | None, choice: Choice) -> None:
    c1, c2, c3 = st.columns([1.3, 1, 4])
    if c1.button("Train", icon=":material/play_arrow:", type="primary", key="rnn.train", disabled=client is None,
                 width="stretch"):
        _train(client, choice)  # inline: a callback would see the previous rerun's settings
    c2.button("Stop all", icon=":material/stop:", key="rnn.stop", on_click=GROUP.stop, args=(client,),
              disabled=not GROUP.active(), width="stretch")
    c3.caption(f"{len(choice.runs())} runs of {choice.runs()[0][1].total_steps} steps each; two train at a time.")
    for e in st.session_state.get(_ERRORS, []):
        st.error(escape_markdown(e, 500))


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
        col.caption(f"**{escape_markdown(lab, 80)}**: {escape_markdown(status_line(job))}")
        if job.run.status in (Status.FAILED, Status.DIVERGED) or job.lost:
            col.error(escape_markdown(job.run.message or job.message, 300))
    reading = (clipping_comparison if choice.scenario == "exploding" else recurrent_reading)(runs, labels)
    icon = verdict_icon(reading.holds, any(not r.done for r in runs))
    with st.container(border=True):
        st.markdown(f"**Automatic reading** {icon}")
        st.markdown(escape_markdown(reading.text, 1500))
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
            st.markdown(f"**{escape_markdown(lab, 80)}**")
            for r in run_readings(run)[1:]:
                st.markdown(f"- {escape_markdown(r.text, 500)}")
