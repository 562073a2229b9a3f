"""The Explorer's live view: run controls, headline numbers and the charts of one job.

    controls(client, form)          # Train / Pause / Step / Stop (outside the live fragment)
    live_view(job)                  # headline + charts 1-6 + exports (inside the live fragment)
"""

from __future__ import annotations

import streamlit as st

from vgrad import charts
from vgrad.charts.network import network_diagram
from vgrad.readings import config_phase, divergence_banner, notices
from vgrad.records import Action, Status
from vgrad.service.client import BackendClient, BackendError
from vgrad.store import StoreError, save_run
from vgrad.text import MISSING, escape_markdown, orders_short, orders_text, pct
from vgrad.ui import class_view, figures, live
from vgrad.ui.config_form import FormResult

STATS = {"grad_norm": "dL/dW (weight gradient)", "act_grad_rms": "dL/da (back-propagated)"}
_ERROR = "vgrad.control_error"

CAPTIONS = {
    "network": "Each circle is a neuron, each line a weight; the line's colour and thickness are the size of "
               "that weight's gradient |dL/dW| (log scale) at the latest kept step. Thin dark lines on the left "
               "are weights that barely learn. Layers wider than 16 units are drawn as one band.",
    "heatmap": "Each row is a layer (input at the bottom), each column a step; dark = tiny gradient. "
               "A vanishing gradient is a dark band at the bottom that never brightens.",
    "flow": "The bars should stand about level; a staircase falling towards the input means the "
            "first layers barely learn.",
    "curves": "A loss stuck near ln 2 ≈ 0.69 and accuracy near 50% means the network is not learning yet.",
    "kernel": "Every entry of one layer's dL/dW (red > 0 > blue); near-white everywhere means this layer "
              "gets almost no signal.",
    "health": "Saturated sigmoid/tanh units (flat tails) and dead ReLUs pass almost no gradient backwards.",
    "boundary": "The black P = 0.5 line should bend to separate the two classes as training goes on.",
    "boundary_multiclass": "Each region takes the colour of the class the network predicts there (paler: "
                           "less sure); the points are the training examples in their true class's colour.",
    "boundary_regression": "The colour is the predicted value; the points are the training examples, "
                           "coloured by their true target on the same scale.",
    "confusion": "Row: the true class; column: the predicted one. A good classifier fills the diagonal.",
    "theory": "Mean-field theory (Poole et al. 2016, Schoenholz et al. 2017) predicts how dL/da shrinks or "
              "grows per layer in a wide random net: χ₁ per layer for the squared gradient. One net of "
              "finite width scatters around the prediction (the band).",
    "spectrum": "Squared singular values of the Jacobian from the first hidden layer to the last at step 0: "
                "all near 1 is dynamical isometry (signals and gradients keep their size in every direction); "
                "a wide, low spread means most directions are lost.",
}


# --- controls ---------------------------------------------------------------------------------

def _start(client: BackendClient, form: FormResult) -> None:
    try:
        job = live.start(client, form.config, form.preset)
        class_view.register(job, class_view.current())
        st.session_state.pop(_ERROR, None)
    except BackendError as exc:
        st.session_state[_ERROR] = f"The service refused the run: {exc}"


def _control(client: BackendClient, action: Action | None) -> None:
    """Ask the service to pause / resume / step / stop this page's job (None: pause or resume)."""
    job = live.current()
    if job is None:
        return
    if action is None:
        action = Action.RESUME if job.paused else Action.PAUSE
    err = live.control(client, job, action)
    if err:
        st.session_state[_ERROR] = err
    else:
        st.session_state.pop(_ERROR, None)


def controls(client: BackendClient | None, form: FormResult) -> None:
    """The Train / Pause / Step / Stop row."""
    job = live.current()
    running = job is not None and job.active and client is not None
    cols = st.columns([1.3, 1.2, 1, 1, 4])
    cols[0].button("Train", icon=":material/play_arrow:", type="primary", key="ctl_train", on_click=_start, args=(client, form),
                   disabled=client is None or form.config is None or bool(form.limit), width="stretch",
                   help="start a new run with the settings in the sidebar")
    paused = bool(job and job.paused)
    cols[1].button("Resume" if paused else "Pause",
                   icon=":material/play_arrow:" if paused else ":material/pause:", key="ctl_pause", on_click=_control,
                   args=(client, None), disabled=not running, width="stretch")
    cols[2].button("Step", icon=":material/skip_next:", key="ctl_step", on_click=_control, args=(client, Action.STEP), disabled=not running,
                   width="stretch", help="run exactly one step, then stay paused")
    cols[3].button("Stop", icon=":material/stop:", key="ctl_stop", on_click=_control, args=(client, Action.STOP), disabled=not running,
                   width="stretch")
    if form.config is None or form.limit:
        cols[4].caption("Fix the setting marked in the sidebar to train.")
    elif job is None:
        cols[4].caption("Press Train: the charts below fill in live.")
    if st.session_state.get(_ERROR):
        st.error(escape_markdown(st.session_state[_ERROR], 600))


# --- the live view ----------------------------------------------------------------------------

def headline_row(job: live.LiveJob) -> None:
    run = job.run
    metrics = run.final_metrics()
    orders = run.attenuation_orders()
    cols = st.columns(6)
    cols[0].metric("Status", live.status_text(job))
    cols[1].metric(f"Step (of {run.total_steps:,})", f"{run.last_step + 1:,}")
    cols[2].metric(f"Epoch (of {run.epochs_total:,})", f"{len(run.epochs):,}")
    sps = job.steps_per_second
    cols[3].metric("Steps / s", MISSING if sps is None else f"{sps:,.0f}" if sps >= 10 else f"{sps:.1f}")
    att = orders_short(orders)
    cols[4].metric("Attenuation", att if att in (MISSING, "∞") else f"{att} orders",
                   help="log10(last layer's ‖dL/dW‖ / first layer's) at the latest step: " + orders_text(orders))
    cols[5].metric("Val. accuracy", pct(metrics["val_accuracy"]), help=f"training accuracy {pct(metrics['accuracy'])}")
    st.progress(run.progress)
    st.caption(f"Theory at initialisation: {escape_markdown(config_phase(run.config))}")
    notes = st.container()  # always present, so the charts below keep their place when it is empty
    banner = divergence_banner(run)
    if banner:
        notes.error(escape_markdown(banner, 800), icon=":material/error:")
    elif job.status == Status.QUEUED:
        notes.info(f"Waiting for a free trainer: position {job.queue_position or '?'} in the queue.",
                   icon=":material/hourglass_top:")
    for n in figures.cached("explorer_notices", figures.run_token(job.job_id, run), lambda: notices(run)):
        notes.info(escape_markdown(n.text, 600), icon=":material/info:")
    if job.error:
        notes.warning(f"Lost contact with the training service, retrying: {escape_markdown(job.error)}")


def gradient_heatmap(run, key: str = "explorer", token: tuple = ()) -> str:
    stat = st.radio("Gradient", list(STATS), format_func=STATS.get, horizontal=True, key=f"{key}_stat",
                    label_visibility="collapsed")
    figures.chart(f"{key}_heatmap", (token, stat),
                  lambda: charts.gradient_heatmap(run.steps, run.layers, stat or "grad_norm"))
    st.caption(CAPTIONS["heatmap"])
    return stat or "grad_norm"


def kernel_panel(run, key: str = "explorer", token: tuple = ()) -> None:
    by_layer = charts.snapshot_steps(run.snapshots)
    if not by_layer or not run.layers:
        figures.chart(f"{key}_kernel", None, lambda: charts.kernel_gradient(None))
        st.caption(CAPTIONS["kernel"])
        return
    labels = charts.layer_labels(run.layers)
    layer_ids = [i for i in range(len(run.layers)) if i in by_layer]
    c1, c2 = st.columns([1, 1], vertical_alignment="bottom")
    lkey = f"{key}_kernel_layer"
    if st.session_state.get(lkey) not in layer_ids:
        st.session_state[lkey] = layer_ids[0]
    layer = c1.selectbox("Layer", layer_ids, format_func=lambda i: labels[i], key=lkey)
    steps = by_layer.get(layer, [])
    follow = c2.toggle("Follow the latest step", value=True, key=f"{key}_kernel_follow")
    slot = st.container()  # the slider's place, kept even when it is hidden
    if follow or len(steps) < 2:
        step = steps[-1]
    else:
        skey = f"{key}_kernel_pos"
        if st.session_state.get(skey, 0) > len(steps) - 1:
            st.session_state[skey] = len(steps) - 1
        pos = slot.slider("Kept snapshot", 0, len(steps) - 1, key=skey,
                          help=f"{len(steps)} kept steps: {steps[0]} … {steps[-1]}")
        step = steps[pos]
    figures.chart(f"{key}_kernel", (token, layer, step),
                  lambda: charts.kernel_gradient(charts.find_snapshot(run.snapshots, layer, step), run.layers))
    st.caption(CAPTIONS["kernel"])


def exports(job: live.LiveJob, key: str = "explorer") -> None:
    run = job.run
    name = f"vgrad-{job.preset or 'custom'}-{job.job_id[:8]}"
    c1, c2, c3 = st.columns([1, 1, 3])
    c1.download_button("Run as JSON", icon=":material/download:", data=run.to_json, file_name=f"{name}.json", mime="application/json",
                       key=f"{key}_json", on_click="ignore", disabled=not run.steps, width="stretch")
    c2.download_button("Steps as CSV", icon=":material/download:", data=run.to_csv, file_name=f"{name}.csv", mime="text/csv",
                       key=f"{key}_csv", on_click="ignore", disabled=not run.steps, width="stretch")
    c3.caption("JSON: config, every record and the status (reload it on the Runs page). "
               "CSV: one row per step × layer.")
    if run.done and run.steps:
        save_form(run, default=name, key=key)


def save_form(run, default: str, key: str) -> None:
    """Name and save a finished run in the Runs store (VGRAD_DATA_DIR)."""
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    name = c1.text_input("Name", value=default, max_chars=120, key=f"{key}_save_name")
    if c2.button("Save run", icon=":material/save:", key=f"{key}_save", width="stretch"):
        try:
            run_id = save_run(run, name)
        except StoreError as exc:
            st.error(f"Not saved: {escape_markdown(str(exc))}")
        else:
            st.success(f"Saved as **{escape_markdown(name)}** (#{run_id}); open it on the Runs page.")


def live_view(job: live.LiveJob | None, key: str = "explorer") -> None:
    """Headline numbers and charts 1-6 of the page's job (or what to do when there is none)."""
    if job is None:
        st.info("No run yet. Pick a preset or change the settings in the sidebar, then press **Train**.")
        return
    run = job.run
    token = figures.run_token(job.job_id, run)
    class_view.save_finished(job, class_view.current())
    headline_row(job)
    stat = gradient_heatmap(run, key, token)
    left, right = st.columns(2)
    with left:
        figures.chart(f"{key}_network", (token[0], len(run.snapshots), len(run.steps) // 50),
                      lambda: network_diagram(run.snapshots, run.layers, run.steps[-1] if run.steps else None))
        st.caption(CAPTIONS["network"])
    with right:
        figures.chart(f"{key}_flow", (token, stat),
                      lambda: charts.gradient_flow(run.steps[-1] if run.steps else None, run.layers, stat))
        st.caption(CAPTIONS["flow"])
    left, right = st.columns(2)
    with left:
        figures.chart(f"{key}_curves", token, lambda: charts.loss_accuracy(run.epochs, run.steps))
        st.caption(CAPTIONS["curves"])
        figures.chart(f"{key}_health", token, lambda: charts.activation_health(run.steps, run.layers))
        st.caption(CAPTIONS["health"])
    with right:
        if run.boundaries or run.data:
            classes = run.start.classes if run.start is not None else ()
            figures.chart(f"{key}_boundary", token, lambda: charts.decision_boundary(
                run.boundaries[-1] if run.boundaries else None, run.data, classes=classes, task=run.task))
            st.caption(CAPTIONS["boundary" if run.task == "binary" else f"boundary_{run.task}"])
        elif run.confusion is not None:
            confusion_panel(run, key, token)
        else:
            st.info("The decision boundary is drawn for 2-feature data (mlp with n_features = 2); a "
                    "classification run shows its confusion matrix here when it ends.")
    if run.confusion is not None and (run.boundaries or run.data):
        left, _ = st.columns(2)
        with left:
            confusion_panel(run, key, token)
    theory_panel(run, key, token)
    kernel_panel(run, key, token)
    exports(job, key)


def confusion_panel(run, key: str, token: tuple) -> None:
    figures.chart(f"{key}_confusion", token, lambda: charts.confusion_matrix(run.confusion))
    st.caption(CAPTIONS["confusion"])


def theory_panel(run, key: str = "explorer", token: tuple = ()) -> None:
    """Theory beside measurement at initialisation: dL/da per layer, and the Jacobian spectrum."""
    from vgrad.charts.theory import spectrum_histogram, theory_flow
    from vgrad.readings import theory_view

    view = figures.cached(f"{key}_theory_view", (token[:1], len(run.steps) > 0, bool(run.spectra)),
                          lambda: theory_view(run))
    st.markdown("**Theory beside measurement** (step 0)" + (f": {escape_markdown(view.reading.text)}"
                                                          if view.reading is not None else ""))
    left, right = st.columns(2)
    with left:
        figures.chart(f"{key}_theory", (token[:1], len(run.steps) > 0), lambda: theory_flow(view, run.layers))
        st.caption(CAPTIONS["theory"])
    with right:
        spectrum = run.spectra[0] if run.spectra else None
        mean = view.spectrum_mean if view.applies else None
        figures.chart(f"{key}_spectrum", (token[:1], spectrum is not None),
                      lambda: spectrum_histogram(spectrum, mean, view.spectrum_std if view.applies else None))
        st.caption(CAPTIONS["spectrum"])
