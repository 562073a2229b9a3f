"""The Explorer's live view: run controls, headline numbers and the charts of one job.

    follow_link(client)             # ?job=ID: reattach to an earlier tab's run (and keep the id in the link)
    controls(client, form)          # Train / Pause / Step / Stop and the playback speed (outside the fragment)
    live_view(job)                  # headline + charts + exports of the playback's view (inside the fragment)
    history_panel(client)           # "Your last runs": reopen or save a finished run of this session

The charts show live.view(job, position): the records up to the playback position, which moves at
the chosen speed while the service trains at full speed (vgrad.ui.live).
"""

from __future__ import annotations

import streamlit as st

from vgrad import charts
from vgrad.charts.network import network_diagram
from vgrad.readings import chance_loss, config_phase, divergence_banner, notices
from vgrad.records import Action, Status
from vgrad.run import Run
from vgrad.service.client import BackendClient, BackendError
from vgrad.store import StoreError, save_run
from vgrad.text import MISSING, escape_markdown, orders_short, orders_text, pct
from vgrad.ui import class_view, figures, live
from vgrad.ui.config_form import FormResult

STATS = {"grad_norm": "dL/dW (weight gradient)", "act_grad_rms": "dL/da (back-propagated)"}
_ERROR = "vgrad.control_error"
JOB_PARAM = "job"  # the link key of the page's job (config_form.PAGE_KEYS)
_GONE = "vgrad.job_gone"  # the sentence for a link whose job the service no longer has
_TRIED = "vgrad.job_tried"  # the link's job id this session tried to reattach
_HISTORY_NOTE = "vgrad.history_note"  # what the last Reopen or Save of the history said
_CHOSEN = "explorer_speed_chosen"  # the user picked a playback speed (Train keeps it then)
NETWORK_EVERY = 50  # a running network diagram is redrawn every this many step records
AVERAGE_RATE = "Avg. steps / s"  # the headline's speed once the run ended
SPEED_HELP = ("How fast the charts go through the run. The service always trains at full speed; this only "
              "sets how fast you watch it: real time = at the pace it trains (a long run shows its latest "
              "state), 10 steps per second = step by step, as in TensorFlow Playground, as fast as possible = "
              "straight to the newest step.")

CAPTIONS = {
    "network": "Each circle is a neuron, each line a weight; the line's colour and thickness are the size of "
               "that weight's gradient |dL/dW| (log scale) at the latest kept step. Thin dark lines on the left "
               "are weights that barely learn. Layers wider than 16 units are drawn as one band.",
    "heatmap": "Each row is a layer (input at the bottom), each column a step; dark = tiny gradient. "
               "A vanishing gradient is a dark band at the bottom that never brightens.",
    "flow": "The bars should stand about level; a staircase falling towards the input means the "
            "first layers barely learn.",
    "kernel": "Every entry of one layer's dL/dW (red > 0 > blue); near-white everywhere means this layer "
              "gets almost no signal.",
    "health": "Saturated sigmoid/tanh units (flat tails) and dead ReLUs pass almost no gradient backwards.",
    "boundary": "The black P = 0.5 line should bend to separate the two classes as training goes on.",
    "boundary_waiting": "The decision boundary appears after the first epoch: the network's prediction over "
                        "the plane of the two features, with the training points on it.",
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
        st.session_state.pop(_GONE, None)
        st.query_params[JOB_PARAM] = job.job_id
        if not st.session_state.get(_CHOSEN):
            st.session_state[live.SPEED_KEY] = live.default_speed(form.config)
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


def _replay() -> None:
    job = live.current()
    if job is not None:
        live.replay(job)


def follow_link(client: BackendClient | None) -> None:
    """The link's ?job=ID is the page's job: reattach to it in a new tab (once), else write the page's
    job id into the link; a job the service no longer has is said in one sentence."""
    wanted = str(st.query_params.get(JOB_PARAM, ""))
    job = live.current()
    if wanted and (job is None or job.job_id != wanted) and wanted != st.session_state.get(_TRIED):
        if client is None:
            return  # the service is starting: try once it answers
        st.session_state[_TRIED] = wanted
        job, problem = live.attach(client, wanted)
        if problem:
            st.session_state[_GONE] = problem
            st.query_params.pop(JOB_PARAM, None)
    elif job is not None and wanted != job.job_id:
        st.query_params[JOB_PARAM] = job.job_id
    if st.session_state.get(_GONE):
        st.warning(escape_markdown(st.session_state[_GONE], 400), icon=":material/history:")


def controls(client: BackendClient | None, form: FormResult) -> None:
    """The Train / Pause / Step / Stop row, then the playback speed."""
    job = live.current()
    running = job is not None and job.active and client is not None
    cols = st.columns([1.3, 1.2, 1, 1, 4])
    cols[0].button("Train", icon=":material/play_arrow:", type="primary", key="ctl_train", on_click=_start,
                   args=(client, form), disabled=client is None or form.config is None or bool(form.limit),
                   width="stretch", help="start a new run with the settings in the sidebar")
    paused = bool(job and job.paused)
    cols[1].button("Resume" if paused else "Pause",
                   icon=":material/play_arrow:" if paused else ":material/pause:", key="ctl_pause", on_click=_control,
                   args=(client, None), disabled=not running, width="stretch")
    cols[2].button("Step", icon=":material/skip_next:", key="ctl_step", on_click=_control,
                   args=(client, Action.STEP), disabled=not running, width="stretch",
                   help="run exactly one step, then stay paused")
    cols[3].button("Stop", icon=":material/stop:", key="ctl_stop", on_click=_control, args=(client, Action.STOP),
                   disabled=not running, width="stretch")
    if form.config is None or form.limit:
        cols[4].caption("Fix the setting marked in the sidebar to train.")
    elif job is None:
        cols[4].caption("Press Train: the charts below fill in live.")
    speed_row(job, form)
    if st.session_state.get(_ERROR):
        st.error(escape_markdown(st.session_state[_ERROR], 600))


def speed_row(job: live.LiveJob | None, form: FormResult) -> None:
    """Playback: real time / 10 steps per second / as fast as possible, and Replay."""
    if live.SPEED_KEY not in st.session_state:
        st.session_state[live.SPEED_KEY] = live.default_speed(form.config)
    left, right = st.columns([5, 1], vertical_alignment="bottom")
    left.segmented_control("Playback", live.SPEEDS, key=live.SPEED_KEY, required=True, help=SPEED_HELP,
                           on_change=lambda: st.session_state.__setitem__(_CHOSEN, True))
    right.button("Replay", icon=":material/replay:", key="ctl_replay", on_click=_replay, width="stretch",
                 disabled=job is None or not job.run.steps, help="watch this run again from its first step")


# --- the live view ----------------------------------------------------------------------------

def curves_caption(run: Run) -> str:
    """What a loss that learned nothing looks like for this run's task (ln k for k classes)."""
    _, said = chance_loss(run)
    if run.task == "regression":
        return f"A loss stuck near {said} and R² near 0 means the network is not learning yet."
    return f"A loss stuck near {said} and accuracy near {100 / run.n_classes:.0f}% means the network is not learning yet."


def rate_text(sps: float | None) -> str:
    return MISSING if sps is None else f"{sps:,.0f}" if sps >= 10 else f"{sps:.1f}"


def headline_row(job: live.LiveJob, view: Run) -> None:
    """Status, step, epoch, speed, attenuation and accuracy of what the charts show (the playback's view)."""
    run = job.run
    metrics = view.final_metrics()
    orders = view.attenuation_orders()
    cols = st.columns([1.2, 1, 1, 1, 1.05, 1.05])
    cols[0].metric("Status", live.view_status(job, view))
    cols[1].metric(f"Step (of {run.total_steps:,})", f"{view.last_step + 1:,}")
    cols[2].metric(f"Epoch (of {run.epochs_total:,})", f"{len(view.epochs):,}")
    ended = run.done or job.lost
    cols[3].metric(AVERAGE_RATE if ended else "Steps / s", rate_text(job.steps_per_second),
                   help="the whole run's average, by the service's clock" if ended else
                   "steps the service trains per second, over the last few seconds")
    cols[4].metric("Attenuation", orders_short(orders), delta="orders of 10", delta_color="off", delta_arrow="off",
                   help="log10(last layer's ‖dL/dW‖ / first layer's) at the step shown: " + orders_text(orders))
    cols[5].metric("Val. accuracy", pct(metrics["val_accuracy"]), help=f"training accuracy {pct(metrics['accuracy'])}")
    st.progress(view.progress, text=progress_text(job, view))
    st.caption(f"Theory at initialisation: {escape_markdown(config_phase(run.config))}")
    notes = st.container()  # always present, so the charts below keep their place when it is empty
    banner = divergence_banner(run if job.lost else view)
    if banner:
        notes.error(escape_markdown(banner, 800), icon=":material/error:")
    elif job.status == Status.QUEUED and not run.done:
        notes.info(f"Waiting for a free trainer: position {job.queue_position or '?'} in the queue.",
                   icon=":material/hourglass_top:")
    for n in figures.cached("explorer_notices", figures.run_token(job.job_id, view), lambda: notices(view)):
        notes.info(escape_markdown(n.text, 600), icon=":material/info:")
    if job.error:
        notes.warning(f"Lost contact with the training service, retrying: {escape_markdown(job.error)}")


def progress_text(job: live.LiveJob, view: Run) -> str:
    """'step 40 of 90 shown · 90 trained' while the playback is behind, else ''."""
    if view is job.run:
        return "" if job.complete else f"reading the steps the view skipped ({len(job.gaps)} gap)"
    return f"step {view.last_step + 1:,} of {job.run.total_steps:,} shown · {job.available:,} trained"


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
        figures.chart(f"{key}_kernel", figures.Content("no snapshot"), lambda: charts.kernel_gradient(None))
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
    ready = bool(run.steps) and job.complete
    c1, c2, c3 = st.columns([1, 1, 3])
    c1.download_button("Run as JSON", icon=":material/download:", data=run.to_json, file_name=f"{name}.json",
                       mime="application/json", key=f"{key}_json", on_click="ignore", disabled=not ready,
                       width="stretch")
    c2.download_button("Steps as CSV", icon=":material/download:", data=run.to_csv, file_name=f"{name}.csv",
                       mime="text/csv", key=f"{key}_csv", on_click="ignore", disabled=not ready, width="stretch")
    c3.caption("JSON: config, every record and the status (reload it on the Runs page). "
               "CSV: one row per step × layer.")
    if run.done and ready:
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


def run_label(job: live.LiveJob) -> str:
    """A short name for a run: its preset, else its changed settings."""
    changed = ", ".join(f"{k}={v}" for k, v in list(job.config.changed().items())[:3])
    return job.preset or changed or "defaults"


def live_view(job: live.LiveJob | None, key: str = "explorer") -> None:
    """Headline numbers and charts of the page's job, as far as the playback has got (or what to do)."""
    if job is None:
        st.info("No run yet. Pick a preset or change the settings in the sidebar, then press **Train**.")
        return
    speed = st.session_state.get(live.SPEED_KEY) or live.default_speed(job.config)
    run = live.view(job, live.advance(job, speed))
    token = figures.run_token(job.job_id, run)
    if job.run.done and job.complete:
        if not job.ended_before:
            class_view.save_finished(job, class_view.current())
        live.remember(job, run_label(job))
    headline_row(job, run)
    stat = gradient_heatmap(run, key, token)
    left, right = st.columns(2)
    with left:
        shown = network_steps(run)
        figures.chart(f"{key}_network", figures.content_token(job.job_id, run, shown, ("steps", "snapshots")),
                      lambda: network_diagram(run.snapshots, run.layers, run.steps[shown - 1] if shown else None))
        st.caption(CAPTIONS["network"])
    with right:
        figures.chart(f"{key}_flow", (token, stat),
                      lambda: charts.gradient_flow(run.steps[-1] if run.steps else None, run.layers, stat))
        st.caption(CAPTIONS["flow"])
    left, right = st.columns(2)
    with left:
        figures.chart(f"{key}_curves", token, lambda: charts.loss_accuracy(run.epochs, run.steps, height=380))
        st.caption(curves_caption(run))
        figures.chart(f"{key}_health", token, lambda: charts.activation_health(run.steps, run.layers))
        st.caption(CAPTIONS["health"])
    with right:
        boundary_panel(run, key, token)
    if run.confusion is not None and has_boundary(run):
        left, _ = st.columns(2)
        with left:
            confusion_panel(run, key, token)
    theory_panel(run, key, token)
    kernel_panel(run, key, token)
    exports(job, key)


def network_steps(run: Run) -> int:
    """How many step records the network diagram is drawn from: all of them at the end and for short
    runs, else a multiple of NETWORK_EVERY (redrawing that many edges every tick costs too much)."""
    n = len(run.steps)
    return n if run.done or n < NETWORK_EVERY else n - n % NETWORK_EVERY


def has_boundary(run: Run) -> bool:
    """2-feature data: the run draws a decision boundary (from its first epoch on)."""
    return bool(run.boundaries or run.data) or (run.config.family == "mlp" and run.config.n_features == 2)


def boundary_panel(run: Run, key: str, token: tuple) -> None:
    """The decision boundary (an empty chart until its first epoch), else the confusion matrix."""
    if has_boundary(run):
        classes = run.start.classes if run.start is not None else ()
        figures.chart(f"{key}_boundary", token, lambda: charts.decision_boundary(
            run.boundaries[-1] if run.boundaries else None, run.data, classes=classes, task=run.task))
        caption = "boundary_waiting" if not run.boundaries else "boundary" if run.task == "binary" \
            else f"boundary_{run.task}"
        st.caption(CAPTIONS[caption])
    elif run.confusion is not None:
        confusion_panel(run, key, token)
    else:
        st.info("The decision boundary is drawn for 2-feature data (mlp with n_features = 2); a "
                "classification run shows its confusion matrix here when it ends.")


def history_panel(client: BackendClient | None, key: str = "explorer") -> None:
    """The session's last finished runs: one click reopens one (at its end) or saves it."""
    items = live.history()
    if not items:
        return
    job = live.current()
    st.markdown("**Your last runs** (this tab; reopening shows a run at its end)")
    for i, past in enumerate(items):
        shown = job is not None and job.job_id == past.job_id
        c1, c2, c3 = st.columns([4, 1, 1], vertical_alignment="center")
        c1.markdown(f"{escape_markdown(past.label, 80)}: {escape_markdown(past.status)}, {past.steps:,} steps, "
                    f"attenuation {orders_short(past.orders)} orders, val. accuracy {pct(past.val_accuracy)}"
                    + (" · *shown above*" if shown else ""))
        c2.button("Reopen", icon=":material/open_in_browser:", key=f"{key}_hist_open_{i}", width="stretch",
                  on_click=_reopen, args=(client, past), disabled=shown)
        if past.job is not None:
            c3.button("Save", icon=":material/save:", key=f"{key}_hist_save_{i}", width="stretch",
                      on_click=_save_past, args=(past,))
    if st.session_state.get(_HISTORY_NOTE):
        st.caption(escape_markdown(st.session_state[_HISTORY_NOTE], 300))



def _reopen(client: BackendClient | None, past: live.Past) -> None:
    problem = live.reopen(client, past)
    st.session_state[_HISTORY_NOTE] = problem
    job = live.current()
    if not problem and job is not None:
        st.query_params[JOB_PARAM] = job.job_id
        st.session_state[_TRIED] = job.job_id


def _save_past(past: live.Past) -> None:
    if past.job is None:
        return
    name = f"vgrad-{past.label}-{past.job_id[:8]}"[:120]
    try:
        run_id = save_run(past.job.run, name)
    except StoreError as exc:
        st.session_state[_HISTORY_NOTE] = f"Not saved: {exc}"
    else:
        st.session_state[_HISTORY_NOTE] = f"Saved {name} as run #{run_id}; open it on the Runs page."


def confusion_panel(run, key: str, token: tuple) -> None:
    figures.chart(f"{key}_confusion", token, lambda: charts.confusion_matrix(run.confusion))
    st.caption(CAPTIONS["confusion"])


def theory_panel(run, key: str = "explorer", token: tuple = ()) -> None:
    """Theory beside measurement at initialisation: dL/da per layer, and the Jacobian spectrum."""
    from vgrad.charts.theory import spectrum_histogram, theory_flow
    from vgrad.readings import theory_view

    fallback = token[0] if token else str(id(run))
    first = figures.content_token(fallback, run, 1, ("steps", "spectra"))  # theory reads step 0 only
    view = figures.cached(f"{key}_theory_view", first, lambda: theory_view(run))
    st.markdown("**Theory beside measurement** (step 0)" + (f": {escape_markdown(view.reading.text)}"
                                                          if view.reading is not None else ""))
    left, right = st.columns(2)
    with left:
        figures.chart(f"{key}_theory", first, lambda: theory_flow(view, run.layers, height=360))
        st.caption(CAPTIONS["theory"])
    with right:
        spectrum = run.spectra[0] if run.spectra else None
        mean = view.spectrum_mean if view.applies else None
        figures.chart(f"{key}_spectrum", first,
                      lambda: spectrum_histogram(spectrum, mean, view.spectrum_std if view.applies else None,
                                                 height=360))
        st.caption(CAPTIONS["spectrum"])
