"""A class: the teacher's page (runs coming in live, a gallery, pushing a preset) and the student's side.

Teacher (pages/classroom.py):
    open_or_create()             # ?code=CODE&key=KEY opens the class; without them, a form creates one
    class_header(c)              # the code in big letters, the students' link, push a preset
    class_runs(client, c)        # a fragment: the table and the small-multiples gallery, live

Student (the Explorer, with ?class=CODE in its link):
    joined = student_banner()    # the class's name, "your name", and a preset the teacher pushed
    register(job, joined)        # the service's job is shown on the class page while it trains
    save_finished(job, joined)   # its finished run is saved into the class

Who is training right now lives in this Streamlit process (every student of a class opens the same
server); finished runs live in the saved-runs store (vgrad.classroom), so the class survives a restart.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import pandas as pd
import streamlit as st

from vgrad import charts, links
from vgrad.classroom import ClassError, Classroom, ClassStore
from vgrad.presets import PRESETS
from vgrad.records import Status
from vgrad.service.client import BackendClient, BackendError
from vgrad.store import RunStore, StoreError
from vgrad.text import escape_markdown, orders_short, pct
from vgrad.ui import figures, live, turns, url_state

CLASS_KEY = "class"
JOINED = "vgrad.class.joined"
REFRESH_SECONDS = 2.0
GALLERY_MAX = 24


@dataclass
class Training:
    """A student's job the class page shows until its run is saved."""

    job_id: str
    student: str
    label: str
    started: float = field(default_factory=time.time)


@st.cache_resource(show_spinner=False)
def _registry() -> tuple[threading.Lock, dict[str, dict[str, Training]]]:
    return threading.Lock(), {}


def _trainings(code: str) -> list[Training]:
    lock, reg = _registry()
    with lock:
        return list(reg.get(code, {}).values())


def _forget(code: str, job_id: str) -> None:
    lock, reg = _registry()
    with lock:
        reg.get(code, {}).pop(job_id, None)


def _classes() -> ClassStore | None:
    try:
        return ClassStore(RunStore())
    except StoreError as exc:
        st.error(escape_markdown(str(exc)))
        return None


# --- the teacher's page -------------------------------------------------------------------------

def open_or_create() -> Classroom | None:
    classes = _classes()
    if classes is None:
        return None
    code, key = str(st.query_params.get("code", "")), str(st.query_params.get("key", ""))
    if code:
        try:
            return classes.open(code, key)
        except (ClassError, StoreError) as exc:
            st.error(escape_markdown(str(exc)))
            return None
    st.markdown("A class is a name and a short code, no accounts. Students open the link you share, and "
                "every run they train from it appears here as it comes in.")
    with st.form("class.create"):
        name = st.text_input("Class name", max_chars=120, placeholder="e.g. Deep learning, Tuesday group")
        if st.form_submit_button("Open a class", icon=":material/groups:", type="primary"):
            try:
                c = classes.create(name)
            except (ClassError, StoreError) as exc:
                st.error(escape_markdown(str(exc)))
                return None
            st.query_params.from_dict({"code": c.code, "key": c.key})
            st.rerun()
    return None


def class_header(c: Classroom) -> None:
    st.markdown(f"## {escape_markdown(c.name, 120)}")
    left, right = st.columns([1, 2])
    left.metric("Class code", c.code, help="students can type it on the Explorer page too")
    with right:
        st.caption("Share this link with your students: it opens the Explorer in your class (copy button on the right).")
        here = url_state.page_url()  # .../classroom?...: the students' page is the Explorer beside it
        st.code(links.page_url(here.split("?")[0].rsplit("/", 1)[0] + "/explorer" if here else None,
                               {CLASS_KEY: c.code}), language=None, wrap_lines=True)
        st.caption("Keep this page's own link (with key=…) to yourself: it is the only way back to this view.")
    with st.expander("Push a preset to every student's Explorer"):
        choice = st.selectbox("Preset", list(PRESETS), format_func=lambda n: f"{n}: {PRESETS[n].description}",
                              key="class.push.preset")
        if st.button("Push it", key="class.push", icon=":material/campaign:"):
            try:
                ClassStore().push(c.code, c.key, f"preset={choice}")
                st.success(f"Every student's Explorer now loads {choice}.")
            except (ClassError, StoreError) as exc:
                st.error(escape_markdown(str(exc)))
        if c.pushed:
            st.caption(f"Pushed last: {escape_markdown(c.pushed, 200)}")


def class_runs(client: BackendClient | None, c: Classroom) -> None:
    """The class's runs, live: who is training now, then every saved run, as a table and a gallery."""

    @turns.fragment(run_every=REFRESH_SECONDS)
    def _live() -> None:
        rows = []
        for t in _trainings(c.code):
            summary = _summary(client, t.job_id)
            if summary is None or Status(summary.get("status", "failed")).final:
                continue  # its run is saved (below) or it is gone
            rows.append({"student": t.student, "run": t.label, "status": str(summary["status"]),
                         "steps": f"{summary.get('step', 0)}/{summary.get('total_steps', '?')}",
                         "attenuation (orders)": "", "val acc": "", "open": ""})
        try:
            saved = ClassStore().runs(c.code)
        except (ClassError, StoreError) as exc:
            st.error(escape_markdown(str(exc)))
            saved = []
        for r, student in saved:
            s = r.summary
            rows.append({"student": student, "run": ", ".join(f"{k}={v}" for k, v in list(s.get("changed", {})
                                                                                        .items())[:4]) or "defaults",
                         "status": r.status, "steps": str(s.get("steps", "")),
                         "attenuation (orders)": orders_short(s.get("attenuation_orders")),
                         "val acc": pct(s.get("val_accuracy")), "open": f"/runs?run={r.id}"})
        training = sum(1 for row in rows if not row["open"])
        st.markdown(f"**{len(saved)} runs saved, {training} training now** (refreshes every {REFRESH_SECONDS:g} s)")
        if not rows:
            st.info("No runs yet: share the link above; runs appear here as students train them.")
            return
        st.dataframe(pd.DataFrame(rows), hide_index=True, key="class.table",
                     column_config={"open": st.column_config.LinkColumn("open", display_text="open")})
        _gallery(saved)

    _live()


def _summary(client: BackendClient | None, job_id: str) -> dict | None:
    if client is None:
        return None
    try:
        return client.job(job_id)
    except BackendError:
        return None


def _gallery(saved) -> None:
    """Small multiples: each saved run's heatmap, with who, what and how it ended."""
    if not saved:
        return
    order = st.selectbox("Gallery order", ["newest", "most attenuated", "best validation accuracy"],
                         key="class.order")
    items = list(saved)
    if order == "most attenuated":
        items.sort(key=lambda p: -(p[0].summary.get("attenuation_orders") or -1e9))
    elif order == "best validation accuracy":
        items.sort(key=lambda p: -(p[0].summary.get("val_accuracy") or -1))
    store = RunStore()
    cols = st.columns(4)
    for i, (r, student) in enumerate(items[:GALLERY_MAX]):
        with cols[i % 4]:
            try:
                fig = _small_heatmap(store, r)
            except StoreError:
                continue
            st.plotly_chart(fig, key=f"class.g.{r.id}", config={"displayModeBar": False})
            s = r.summary
            st.caption(f"**{escape_markdown(student, 40)}**: {escape_markdown(r.status)}, attenuation "
                       f"{orders_short(s.get('attenuation_orders'))}, val acc {pct(s.get('val_accuracy'))} "
                       f"([open](/runs?run={r.id}))")


def _small_heatmap(store: RunStore, saved) -> figures.Frozen:
    """A saved run's small heatmap, read and built once per session (a saved run does not change): the
    gallery redraws every REFRESH_SECONDS, and building two dozen of them each time took the GIL from
    every student's page."""

    def build() -> figures.Frozen:
        run = store.load(saved.id)
        return figures.Frozen(charts.gradient_heatmap(run.steps, run.layers, title="", height=220))

    return figures.figure(f"class.g.{saved.id}", (saved.id, saved.created), build)


# --- the student's side --------------------------------------------------------------------------

@dataclass(frozen=True)
class Joined:
    code: str
    name: str  # the class's
    student: str


def student_banner() -> Joined | None:
    """With ?class=CODE: the class's name, the student's name, and a preset the teacher pushed."""
    st.session_state.pop(JOINED, None)
    code = str(st.query_params.get(CLASS_KEY, "")) or st.session_state.get("vgrad.class.code", "")
    if not code:
        return None
    classes = _classes()
    if classes is None:
        return None
    try:
        c = classes.get(code)
    except (ClassError, StoreError) as exc:
        st.warning(f"{escape_markdown(str(exc))}: your runs are not sent to a class.", icon=":material/group_off:")
        return None
    st.session_state["vgrad.class.code"] = c.code
    with st.sidebar:
        st.markdown(f"**Class**: {escape_markdown(c.name, 80)} ({c.code})")
        student = st.text_input("Your name (your teacher sees it)", key="vgrad.class.student", max_chars=60)
    if "vgrad.class.pushed_at" not in st.session_state:  # joining: a link with its own settings wins over
        own = any(k not in (CLASS_KEY, "job") for k in st.query_params)  # an older push
        st.session_state["vgrad.class.pushed_at"] = time.time() if own else 0.0
    if c.pushed and c.pushed_at > st.session_state["vgrad.class.pushed_at"]:
        from vgrad.ui import config_form

        st.session_state["vgrad.class.pushed_at"] = c.pushed_at
        link = links.parse_run(c.pushed)
        config_form.load_into_widgets(link.config, link.preset)
        st.toast(f"Your teacher set the experiment: {escape_markdown(c.pushed, 80)}", icon=":material/campaign:")
    joined = Joined(c.code, c.name, student.strip() or "a student")
    st.session_state[JOINED] = joined
    return joined


def current() -> Joined | None:
    """The class this session trains for (set by student_banner on this rerun)."""
    return st.session_state.get(JOINED)


def register(job: live.LiveJob, joined: Joined | None) -> None:
    """Show this job on the class page while it trains."""
    if joined is None:
        return
    lock, reg = _registry()
    label = job.preset or ", ".join(f"{k}={v}" for k, v in list(job.config.changed().items())[:3]) or "defaults"
    with lock:
        reg.setdefault(joined.code, {})[job.job_id] = Training(job.job_id, joined.student, label)


def save_finished(job: live.LiveJob | None, joined: Joined | None) -> None:
    """Once a class job has ended: save its run into the class (once), and say so."""
    if job is None or joined is None or not job.run.done or not job.run.steps:
        return
    done = st.session_state.setdefault("vgrad.class.saved", {})
    if job.job_id in done:
        return
    try:
        done[job.job_id] = ClassStore().add_run(joined.code, job.run, joined.student)
        st.toast(f"Sent to your class {joined.code}.", icon=":material/groups:")
    except (ClassError, StoreError) as exc:
        done[job.job_id] = None
        st.warning(f"Not sent to the class: {escape_markdown(str(exc))}")
    finally:
        _forget(joined.code, job.job_id)

