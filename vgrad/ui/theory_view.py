"""The Theory page: the (σ_w², σ_b²) phase diagram, and theory checked against real wide networks.

    point = controls()                   # activation, σ_w², σ_b², depth (in the link)
    phase_section(point)                 # ξ_c contours, the critical line, the point; click to move it
    measure_section(client, point)       # χ per layer of width-128 nets at 3 points vs the prediction
    spectrum_section(client, point)      # Jacobian spectra at initialisation: Gaussian vs orthogonal
    presets_section()                    # edge of chaos, orthogonal sigmoid, He is critical for ReLU

Every prediction comes from vgrad.theory (numpy, in this process); every measurement from a 1-step
job of the training service (its step 0 is the network at initialisation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import streamlit as st

from vgrad import theory
from vgrad.charts.theory import chi_points, phase_diagram, spectrum_histogram
from vgrad.config import ACTIVATIONS, RunConfig
from vgrad.readings import phase_text
from vgrad.service.client import BackendClient
from vgrad.text import escape_markdown
from vgrad.ui import url_state
from vgrad.ui.multi_run import RunGroup, status_line

CHI = RunGroup("vgrad.theory.chi")
SPECTRA = RunGroup("vgrad.theory.spectra")
WIDTH = 128
MEASURE_DEPTH = 12
SW2 = (0.2, 4.0)
SB2 = (0.0, 0.5)
GRID = 40
DEFAULT = {"activation": "tanh", "sigma_w2": 1.76, "sigma_b2": 0.05, "depth": 12}


@dataclass(frozen=True)
class Point:
    activation: str = "tanh"
    sigma_w2: float = 1.76
    sigma_b2: float = 0.05
    depth: int = 12

    def config(self, initializer: str = "random_normal", depth: int | None = None) -> RunConfig:
        """A width-128 net whose weights and biases have exactly these variances, for one step."""
        base = dict(hidden_layers=depth or self.depth, units=WIDTH, activation=self.activation, n_features=16,
                    n_samples=200, standardize=True, epochs=1, steps=1, bias_std=math.sqrt(self.sigma_b2),
                    learning_rate=1e-6, optimizer="sgd", spectrum="start")
        if initializer == "orthogonal":  # square orthogonal kernels: sigma_w2 = init_gain
            return RunConfig(initializer="orthogonal", init_gain=self.sigma_w2, **base)
        return RunConfig(initializer="random_normal", init_std=math.sqrt(self.sigma_w2 / WIDTH), **base)

    def query(self) -> dict[str, str]:
        return {"activation": self.activation, "sigma_w2": f"{self.sigma_w2:g}", "sigma_b2": f"{self.sigma_b2:g}",
                "depth": str(self.depth)}


def parse_query(params: dict) -> tuple[Point, list[str]]:
    """A Point from the link; unusable values are dropped with a sentence (never a traceback)."""
    problems: list[str] = []
    d = Point()
    act = str(params.get("activation", d.activation))
    if act not in ACTIVATIONS:
        problems.append(f"ignored activation {escape_markdown(act, 40)}: expected one of {', '.join(ACTIVATIONS)}")
        act = d.activation

    def number(name: str, default: float, lo: float, hi: float, kind=float):
        text = str(params.get(name, "")).strip()
        if not text:
            return default
        try:
            value = float(text) if text.isascii() else math.nan
        except (ValueError, OverflowError):
            value = math.nan
        if not (math.isfinite(value) and lo <= value <= hi) or (kind is int and value != int(value)):
            problems.append(f"ignored {name}={text[:40]!r}: expected {lo:g} to {hi:g}")
            return default
        return kind(value)

    return Point(act, number("sigma_w2", d.sigma_w2, *SW2), number("sigma_b2", d.sigma_b2, *SB2),
                 number("depth", d.depth, 2, 30, int)), problems


def controls() -> Point:
    params = url_state.current()
    if "theory.activation" not in st.session_state or (params and params != st.session_state.get("theory.url")):
        start, problems = parse_query(params)
        for p in problems:
            st.warning(p, icon=":material/link_off:")
        st.session_state.update({"theory.activation": start.activation, "theory.sigma_w2": start.sigma_w2,
                                 "theory.sigma_b2": start.sigma_b2, "theory.depth": start.depth})
    c1, c2, c3, c4 = st.columns(4)
    act = c1.selectbox("Activation", ACTIVATIONS, key="theory.activation")
    sw2 = c2.slider("σ_w² (weights' variance × fan-in)", *SW2, step=0.01, key="theory.sigma_w2")
    sb2 = c3.slider("σ_b² (biases' variance)", *SB2, step=0.005, key="theory.sigma_b2")
    depth = c4.slider("Depth (hidden layers)", 2, 30, key="theory.depth")
    point = Point(act, float(sw2), float(sb2), int(depth))
    url_state.write(point.query())
    st.session_state["theory.url"] = point.query()
    return point


def _move_point(key: str) -> None:
    """A click on the phase diagram moves the point there."""
    event = st.session_state.get(key)
    try:  # Streamlit's selection state: {"selection": {"points": [{"x": ..., "y": ...}, ...]}}
        points = event["selection"]["points"]
    except (KeyError, TypeError):
        points = []
    if points:
        st.session_state["theory.sigma_w2"] = float(np.clip(round(points[0]["x"], 2), *SW2))
        st.session_state["theory.sigma_b2"] = float(np.clip(round(points[0]["y"], 3), *SB2))


def phase_section(point: Point) -> None:
    mf = theory.mean_field(point.activation, point.sigma_w2, point.sigma_b2)
    st.markdown(f"**{escape_markdown(phase_text(mf))}**")
    crit = theory.critical_sigma_w2(point.activation, point.sigma_b2)
    st.caption(("critical σ_w² at this σ_b²: " + (f"{crit:.3f}" if math.isfinite(crit) else "none (no χ₁ = 1)"))
               + f" · q* = {mf.q_star:.3g} · χ₁ = {mf.chi_1:.3g} · ξ_c = {mf.xi_c:.3g} · depth {point.depth}: "
               + _depth_verdict(mf, point.depth))
    sw2 = np.linspace(*SW2, GRID)
    sb2 = np.linspace(*SB2, GRID)
    grid = _grid(point.activation)
    fig = phase_diagram(point.activation, sw2, sb2, grid["xi_c"], grid["critical"],
                        point=(point.sigma_w2, point.sigma_b2))
    # An invisible grid of points makes every place of the diagram clickable.
    gx, gy = np.meshgrid(sw2[::2], sb2[::2])
    xi = grid["xi_c"][::2, ::2].ravel()
    fig.add_scatter(x=gx.ravel(), y=gy.ravel(), mode="markers", marker=dict(size=14, opacity=0), showlegend=False,
                    customdata=xi, name="click",  # a hover of its own: a skipped trace gets no clicks
                    hovertemplate="σw² %{x:.2f}, σb² %{y:.3f}<br>ξ_c %{customdata:.3g} layers<br>"
                                  "click to move the star here<extra></extra>")
    st.plotly_chart(fig, key="theory.phase", on_select=lambda: _move_point("theory.phase"),
                    selection_mode="points")
    st.caption("Colours: ξ_c, the depth over which two inputs stay distinguishable. Left of the white critical "
               "line (χ₁ < 1) gradients vanish like χ₁^(L/2); right of it they explode and nearby inputs decorrelate; "
               "on it both depth scales diverge (Schoenholz et al. 2017). Click anywhere to move the star.")


@st.cache_data(show_spinner=False, max_entries=32)
def _grid(activation: str) -> dict:
    sw2 = np.linspace(*SW2, GRID)
    sb2 = np.linspace(*SB2, GRID)
    return {"xi_c": theory.xi_c_grid(activation, sw2, sb2), "critical": theory.critical_line(activation, sb2)}


def _depth_verdict(mf, depth: int) -> str:
    if math.isinf(mf.trainable_depth) or depth <= mf.trainable_depth:
        return "within the trainable depth"
    return f"deeper than the trainable ~{mf.trainable_depth:.0f} layers"


# --- theory against wide nets -------------------------------------------------------------------

def _measure_points(point: Point) -> list[Point]:
    """Three σ_w² values around the chosen one (ordered, here, chaotic side), same σ_b²."""
    return [Point(point.activation, round(max(SW2[0], point.sigma_w2 * f), 3), point.sigma_b2, MEASURE_DEPTH)
            for f in (0.6, 1.0, 1.6)]


def measured_chi(run) -> tuple[float, float] | None:
    """(measured, predicted) χ per layer over the deeper half of a wide net's hidden layers at step 0:
    measured = mean of (RMS dL/da_{l-1} / RMS dL/da_l)^2, predicted = mean of theory's χ^l there."""
    first = run.step_record(0)
    if first is None or run.start is None:
        return None
    depth = run.config.hidden_layers
    rms = np.array(first.act_grad_rms[:depth], dtype=float)
    if not np.all(np.isfinite(rms) & (rms > 0)):
        return None
    ratios = (rms[:-1] / rms[1:]) ** 2  # entry l-1: chi of hidden layer l+1
    c = run.config
    mf = theory.from_config(c)
    chis = theory.layer_chis(c.activation, mf.sigma_w2, mf.sigma_b2, run.start.input_q or 1.0, depth,
                             first_sigma_w2=theory.weight_variance(c.initializer, c.n_features, c.units,
                                                                   init_std=c.init_std, init_gain=c.init_gain))
    half = slice(depth // 2 - 1, depth - 1)
    return float(np.mean(ratios[half])), float(np.mean(chis[1:][half]))


def measure_section(client: BackendClient | None, point: Point) -> None:
    st.subheader("Theory against real networks at initialisation")
    st.markdown(f"Three nets {WIDTH} units wide and {MEASURE_DEPTH} layers deep, at σ_w² × 0.6, × 1 and × 1.6, "
                "trained for one step by the service: their step-0 gradients are the network at initialisation.")
    if st.button("Measure", key="theory.measure", icon=":material/science:", disabled=client is None):
        runs = [(f"σw² {p.sigma_w2:g}", p.config()) for p in _measure_points(point)]
        st.session_state["theory.measure.errors"] = CHI.start(client, runs)
    for e in st.session_state.get("theory.measure.errors", []):
        st.error(escape_markdown(e, 400))
    CHI.live(client, _chi_body)


def _chi_body(jobs, labels) -> None:
    if not jobs:
        st.info("Press **Measure** to put real networks beside the prediction.")
        return
    points = []
    for job, label in zip(jobs, labels, strict=False):
        got = measured_chi(job.run) if job.run.done else None
        if got is not None:
            points.append({"label": label, "measured": got[0], "predicted": got[1]})
    st.caption(" · ".join(f"{escape_markdown(lab, 40)}: {escape_markdown(status_line(j))}"
                          for j, lab in zip(jobs, labels, strict=False)))
    st.plotly_chart(chi_points(points), key="theory.chi")
    if points:
        worst = max(abs(p["measured"] / p["predicted"] - 1) for p in points)
        st.caption(f"Largest difference: {worst:.0%}. At width {WIDTH} one net scatters by about "
                   f"{math.sqrt(2 / WIDTH):.0%} per layer around the wide-net average; BatchNorm, residual "
                   "connections and training move a net away from what this theory describes.")


def spectrum_section(client: BackendClient | None, point: Point) -> None:
    st.subheader("Dynamical isometry: the Jacobian's spectrum")
    st.markdown("Pennington, Schoenholz & Ganguli (2017): at the same σ_w², orthogonal weights spread the squared "
                "singular values of the input-output Jacobian far less than Gaussian ones, so every direction "
                "keeps its size through depth. Two nets at the chosen point and depth, measured at step 0:")
    if st.button("Measure both spectra", key="theory.spectra", icon=":material/science:", disabled=client is None):
        runs = [("Gaussian", point.config("random_normal")), ("orthogonal", point.config("orthogonal"))]
        st.session_state["theory.spectra.errors"] = SPECTRA.start(client, runs)
    for e in st.session_state.get("theory.spectra.errors", []):
        st.error(escape_markdown(e, 400))
    SPECTRA.live(client, lambda jobs, labels: _spectra_body(jobs, labels, point))


def _spectra_body(jobs, labels, point: Point) -> None:
    if not jobs:
        st.info("Press **Measure both spectra**.")
        return
    cols = st.columns(2)
    for col, job, label in zip(cols, jobs, labels, strict=False):
        run = job.run
        weights = "orthogonal" if label == "orthogonal" else "gaussian"
        pred = theory.jacobian_spectrum(point.activation, point.sigma_w2, point.sigma_b2, point.depth - 1,
                                        weights=weights)
        spectrum = run.spectra[0] if run.spectra else None
        with col:
            st.caption(f"{label}: {escape_markdown(status_line(job))}")
            st.plotly_chart(spectrum_histogram(spectrum, pred.mean_sq_singular, math.sqrt(pred.var_sq_singular),
                                               label=label), key=f"theory.spectrum.{label}")
            if spectrum is not None:
                sq = np.square(np.asarray(spectrum.values))
                st.caption(f"Measured: mean {sq.mean():.3g}, std {sq.std():.3g}; predicted (at q*): mean "
                           f"{pred.mean_sq_singular:.3g}, std {math.sqrt(pred.var_sq_singular):.3g}.")


def presets_section() -> None:
    st.subheader("See it train")
    for name, text in (("edge-of-chaos", "tanh at the critical point trains 30 layers deep; off it, it does not"),
                       ("isometry", "orthogonal vs Gaussian sigmoid at the same depth and σ_w²"),
                       ("he-critical", "ReLU: He init (σ_w² = 2, critical) against σ_w² = 1 (ordered)")):
        try:
            st.page_link("pages/compare.py", label=f"Compare: {text}", icon=":material/compare:",
                         query_params={"comparison": name})
        except Exception:  # noqa: BLE001 (outside the app's navigation, e.g. AppTest)
            st.markdown(f"[Compare: {escape_markdown(text)}](compare?comparison={name})")
