"""The Lessons page's sections: short text around live plots, numbers from real runs of the service.

    chain_rule(client)          # the chain rule as a product, on the notebook's real network
    activations()               # every activation and its derivative, the bound marked
    bound_products()            # bound ** depth against depth
    init_scale(client)          # activation/gradient spread at initialisation, 1-step job
    update_is_not_gradient()    # the notebook's flaw, from the same real run
    remedies()                  # each remedy opens the Explorer or Compare already configured
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import streamlit as st

from vgrad.charts.lessons import (
    activations_figure,
    bound_product_figure,
    chain_figure,
    init_spread_figure,
    update_vs_gradient_figure,
)
from vgrad.config import ACTIVATIONS, INITIALIZERS, RunConfig
from vgrad.lessons import (
    bound_product,
    chain_factors,
    derivative_bound,
    init_spread,
    mean_derivative,
    update_vs_gradient,
)
from vgrad.presets import PRESETS, preset
from vgrad.service.client import BackendClient
from vgrad.text import escape_markdown
from vgrad.ui import turns
from vgrad.ui.multi_run import RunGroup, status_line

NOTEBOOK = RunGroup("vgrad.lesson.nb")
INIT = RunGroup("vgrad.lesson.init")
NOTEBOOK_PRESET = "notebook-deep-sigmoid"
# Each remedy: preset, what it changes, and the comparison that shows it (presets against the baseline).
REMEDIES = [
    ("remedy-relu", "ReLU does not saturate for x > 0: its derivative is 1 there, not at most 1/4."),
    ("remedy-leaky-relu", "LeakyReLU keeps a small slope for x < 0, so no unit dies for good."),
    ("remedy-prelu", "PReLU learns that slope."),
    ("remedy-he-init", "He initialisation scales weights by sqrt(2 / fan_in), keeping ReLU signals the same size."),
    ("remedy-glorot-init", "Glorot initialisation balances fan-in and fan-out for tanh."),
    ("remedy-batchnorm", "BatchNorm re-centres each layer's input, keeping sigmoids in their steep middle."),
    ("remedy-residual", "Identity shortcuts give the gradient a path that skips the multiplications."),
    ("remedy-clipping", "Clipping caps large gradients: it fights exploding, not vanishing, gradients."),
    ("remedy-lstm", "An LSTM's cell state carries the signal across time steps additively."),
    ("remedy-gru", "A GRU's update gate does the same with fewer weights."),
    ("remedy-dropout-l2", "Dropout and L2 regularise; they do not make small gradients bigger."),
]


def _ensure(client: BackendClient | None, group: RunGroup, label: str, config: RunConfig, key: str) -> None:
    """Submit `config` once per session (again when it changed), when the service is up."""
    if client is None:
        return
    if st.session_state.get(key) != config:
        st.session_state[key] = config
        errors = group.start(client, [(label, config)])
        for e in errors:
            st.error(escape_markdown(e, 400))


def _run_of(group: RunGroup):
    jobs = group.jobs()
    return jobs[0] if jobs else None


def _link(page: str, label: str, query: dict[str, str], key: str) -> None:
    """st.page_link with query parameters; a plain link when the page is run on its own (tests)."""
    try:
        st.page_link(page, label=label, query_params=query)
    except Exception:  # noqa: BLE001 (page not registered: no st.navigation around this page)
        path = page.rsplit("/", 1)[-1].removesuffix(".py")
        st.markdown(f"[{label}](/{path}?{'&'.join(f'{k}={v}' for k, v in query.items())})")


# --- 1. chain rule ------------------------------------------------------------------------------

def chain_rule(client: BackendClient | None) -> None:
    st.header("1. The chain rule is a product")
    st.markdown("The gradient reaching layer 1 is the loss's gradient times one factor per layer above it: "
                "each layer multiplies by its weights and by its activation's slope.")
    st.latex(r"\frac{\partial L}{\partial a_1} = \frac{\partial L}{\partial a_L}"
             r"\prod_{k=2}^{L} W_k^\top \,\sigma'(z_k)")
    _ensure(client, NOTEBOOK, "the notebook's deep sigmoid net", preset(NOTEBOOK_PRESET), "vgrad.lesson.nb.cfg")
    _follow(client, NOTEBOOK, _chain_body)


def _follow(client: BackendClient | None, group: RunGroup, body) -> None:
    """body(job) in a fragment that polls the group's job while it trains."""
    every = 0.5 if client is not None and group.needs_poll() else None

    @turns.fragment(run_every=every)
    def _live() -> None:
        job = _run_of(group)
        if job is not None and client is not None and job.needs_poll:  # until every record is read
            group.poll(client)
        if job is None:
            st.info("Waiting for the training service." if client is None else "Submitting the run…")
            return
        body(job)

    _live()


def _chain_body(job) -> None:
    run = job.run
    st.caption(f"The notebook's network (8 sigmoid layers of 8 units, Adam lr 0.1): {status_line(job)}")
    if not run.steps:
        st.info("Training…")
        return
    names = [layer.name for layer in run.layers]
    factors = chain_factors(run.steps[0])
    st.plotly_chart(chain_figure(factors, names), key="lesson.chain")
    if factors["factors"]:
        f = np.array(factors["factors"])
        st.markdown(f"At the first step, going back through each layer multiplied the gradient by "
                    f"{f.min():.2g} to {f.max():.2g} (the sigmoid's slope is at most 1/4, times the weights). "
                    f"{len(f)} such factors make {np.prod(f):.2g}: the first layer's dL/da is "
                    f"{1 / np.prod(f):,.0f} times smaller than the last hidden layer's.")


# --- 2. activations --------------------------------------------------------------------------------

def activations() -> None:
    st.header("2. Each activation and its slope")
    chosen = st.multiselect("Activations", list(ACTIVATIONS), default=list(ACTIVATIONS), key="lesson.acts")
    alpha = st.slider("Negative slope of leaky_relu (and a learned prelu)", 0.0, 1.0, 0.3, 0.05,
                      key="lesson.alpha")
    st.plotly_chart(activations_figure(chosen, alpha=alpha), key="lesson.acts_fig")
    rows = [{"activation": n, "bound sup|f'|": round(derivative_bound(n, alpha), 4),
             "typical E|f'(z)|, z~N(0,1)": round(mean_derivative(n, 1.0, alpha), 4),
             "bound^8": f"{bound_product(n, 8, alpha):.3g}"} for n in chosen]
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True, key="lesson.bounds")
    st.caption("The sigmoid's slope is at most 1/4 (at 0); tanh's at most 1. Eight sigmoid layers can pass at most "
               "(1/4)^8 ≈ 1.5e-5 of a gradient through their activations.")


def bound_products() -> None:
    st.header("3. The product of the bounds against depth")
    depth = st.slider("Deepest network shown", 2, 60, 30, key="lesson.depth")
    names = st.session_state.get("lesson.acts") or list(ACTIVATIONS)
    st.plotly_chart(bound_product_figure(names, max_depth=depth), key="lesson.bound_fig")
    st.caption("Solid: the most the activations let through. Dotted: a typical value. Weights multiply too, "
               "which is why the initialisation scale matters (next section).")


# --- 4. init scale -------------------------------------------------------------------------------------

def init_config(activation: str, initializer: str, depth: int, init_std: float) -> RunConfig:
    """A network measured at initialisation: one optimizer step on the notebook's data."""
    return RunConfig(hidden_layers=depth, units=32, activation=activation, initializer=initializer,
                     init_std=init_std, epochs=1, steps=1, learning_rate=0.001, n_samples=400, standardize=True,
                     batch_size=256)


def init_scale(client: BackendClient | None) -> None:
    st.header("4. Why the initial scale matters")
    st.markdown("Measured on a real network at initialisation (one step through the training service): "
                "the spread of each layer's activations going forward, and of dL/da coming back.")
    c1, c2, c3, c4 = st.columns(4)
    act = c1.selectbox("Activation", list(ACTIVATIONS), index=list(ACTIVATIONS).index("relu"), key="lesson.init_act")
    init = c2.selectbox("Initializer", list(INITIALIZERS), index=list(INITIALIZERS).index("random_normal"),
                        key="lesson.init_name")
    depth = c3.slider("Layers", 2, 30, 12, key="lesson.init_depth")
    std = c4.select_slider("std of random_normal", [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0], value=0.01,
                           key="lesson.init_std", disabled=init != "random_normal")
    config = init_config(act, init, depth, std)
    _ensure(client, INIT, f"{act}, {init}", config, "vgrad.lesson.init.cfg")
    every = 0.5 if client is not None and INIT.needs_poll() else None

    @turns.fragment(run_every=every)
    def _live() -> None:
        job = _run_of(INIT)
        if job is not None and client is not None and job.needs_poll:  # until every record is read
            INIT.poll(client)
        if job is None or not job.run.steps:
            st.info("Measuring the network at initialisation…" if client is not None
                    else "Waiting for the training service.")
            return
        run = job.run
        spread = init_spread(run.steps[0])
        st.plotly_chart(init_spread_figure(spread, [layer.name for layer in run.layers]), key="lesson.init_fig")
        st.markdown(escape_markdown(init_sentence(spread), 600))

    _live()


def init_sentence(spread: dict) -> str:
    """'activation std goes from 0.12 at layer 1 to 3.1e-9 at layer 12; dL/da is 10^-7.2 smaller ...'."""
    std = [v for v in spread.get("act_std", [])[:-1] if isinstance(v, int | float) and math.isfinite(v)]
    grad = [v for v in spread.get("act_grad_rms", []) if isinstance(v, int | float) and math.isfinite(v) and v > 0]
    parts = []
    if len(std) >= 2:
        parts.append(f"activation std goes from {std[0]:.2g} at the first hidden layer to {std[-1]:.2g} at the last")
    if len(grad) >= 2:
        ratio = grad[0] / grad[-1]
        parts.append(f"RMS dL/da at the first layer is {ratio:.2g} times the last hidden layer's "
                     f"({'shrinking' if ratio < 0.1 else 'growing' if ratio > 10 else 'about level'} toward the input)")
    return "; ".join(parts) + "." if parts else "No finite values at initialisation."


# --- 5. update is not the gradient -----------------------------------------------------------------

def update_is_not_gradient(client: BackendClient | None) -> None:
    st.header("5. The update is not the gradient")
    _follow(client, NOTEBOOK, lambda job: _update_body(job.run))


def _update_body(run) -> None:
    st.markdown("The notebook printed `(initial_weights - final_weights) / lr` after one Adam epoch and called it "
                "*the gradient*. Here is that number next to the real first-layer gradient of the same network.")
    uvg = update_vs_gradient(run)
    st.plotly_chart(update_vs_gradient_figure(uvg), key="lesson.uvg")
    if uvg is None:
        st.info("Waiting for the run's final weights.")
        return
    n = uvg.numbers
    m1, m2, m3 = st.columns(3)
    m1.metric("notebook's estimate, norm", f"{n['estimate_norm']:.3g}")
    m2.metric("true gradient at step 0, norm", f"{n['gradient_norm']:.3g}")
    m3.metric("estimate / gradient", f"{n['ratio']:.3g}x")
    for sentence in uvg.sentences:
        st.markdown(escape_markdown(sentence, 600))
    st.latex(r"\Delta w = -\,\mathrm{lr}\cdot\frac{\hat m_t}{\sqrt{\hat v_t}+\epsilon}"
             r"\quad\Rightarrow\quad |\Delta w| \approx \mathrm{lr}\ \text{whatever the size of } g")


# --- 6. remedies ------------------------------------------------------------------------------------

def remedies() -> None:
    st.header("6. Remedies: open each one, configured")
    for name, why in REMEDIES:
        desc = PRESETS[name].description
        with st.container(border=True):
            st.markdown(f"**{desc}**  \n{why}")
            c1, c2 = st.columns(2)
            with c1:
                _link("pages/explorer.py", "Open in the Explorer", {"preset": name}, f"ex.{name}")
            with c2:
                base = "rnn-simple" if PRESETS[name].config.family == "rnn" else "deep-sigmoid"
                _link("pages/compare.py", f"Compare with {base}", {"runs": f"{base},{name}"}, f"cmp.{name}")
    _link("pages/compare.py", "Compare every remedy against the baseline", {"comparison": "remedies"}, "cmp.all")
