"""A minimal headless Streamlit client: Streamlit's own websocket protocol, no browser.

The load-test driver for N simulated users. Each `StreamlitSession` holds one websocket to
`/_stcore/stream`, sends `BackMsg.rerun_script` as the browser frontend does, and reads the
`ForwardMsg` stream in a background task into a small element tree (delta path -> element), the
widget values the browser would hold, and the page list from the `navigation` message. Fragments
with `run_every` are rerun by the client, as in the browser: `auto_rerun` starts a timer that sends
a fragment rerun every interval until the next full run, a page change or `stop_auto_rerun`.

    import asyncio
    from benchmarks.st_client import StreamlitSession

    async def user() -> None:
        async with await StreamlitSession.open("http://127.0.0.1:8501", "explorer",
                                               "preset=notebook-deep-sigmoid") as s:
            print(s.texts(), s.buttons())
            took = await s.click(r"Train\\s*$")          # seconds until that rerun finished
            await s.wait_for(lambda s: s.metric("Status") == "finished", timeout=120)
            await s.goto("Runs")                          # a sidebar page title or its URL path
            await s.goto("explorer")

    asyncio.run(user())

Not handled: file uploads, chat input, components, forms' deferred submission (a form's widgets
are sent with their current values like any other), and the forward-message cache (the client
reports no cached hashes, so the server always sends whole messages).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.Element_pb2 import Element
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.NumberInput_pb2 import NumberInput
from streamlit.proto.Slider_pb2 import Slider
from streamlit.proto.WidgetStates_pb2 import WidgetState, WidgetStates
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

DEFAULT_TIMEOUT = 60.0
_FULL_RUN_END = (ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_WITH_COMPILE_ERROR)
_RUN_SUCCESS = (ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY)


class ScriptError(RuntimeError):
    """A full run ended with FINISHED_WITH_COMPILE_ERROR (the script could not be compiled)."""


@dataclass
class _Node:
    run_id: str            # the run (full or fragment) that wrote this path last
    fragment_id: str       # the fragment the delta came from, "" outside fragments
    script_hash: str       # metadata.active_script_hash: the main script's or the page's
    element: Element | None  # None for a block (container)
    widget_id: str = ""


def _widget_state(kind: str, w: Any) -> WidgetState | None:
    """The value the browser holds for a widget proto: the server's own (set_value), else its default.

    None when the widget has no value (an empty input) or its type is not modelled here; the server
    then keeps what it had. Wire formats as the frontend sends them (selectbox/radio: the option's
    label, number_input: int_value or double_value by data type).
    """
    s = WidgetState(id=w.id)
    if kind == "checkbox":
        s.bool_value = w.value if w.set_value else w.default
    elif kind == "number_input":
        field = "value" if w.set_value else "default"
        if not w.HasField(field):
            return None
        if w.data_type == NumberInput.INT:
            s.int_value = int(getattr(w, field))
        else:
            s.double_value = getattr(w, field)
    elif kind in ("text_input", "text_area"):
        field = "value" if w.set_value else "default"
        if not w.HasField(field):
            return None
        s.string_value = getattr(w, field)
    elif kind in ("selectbox", "radio"):
        if w.set_value and w.raw_value:
            s.string_value = w.raw_value
        elif not w.set_value and w.HasField("default") and w.default < len(w.options):
            s.string_value = w.options[w.default]
        else:
            return None
    elif kind == "multiselect":
        s.string_array_value.data.extend(w.raw_values if w.set_value else [w.options[i] for i in w.default])
    elif kind == "slider" and w.type == Slider.SELECT_SLIDER:
        s.string_array_value.data.extend(w.raw_value if w.set_value else [w.options[int(i)] for i in w.default])
    elif kind == "slider":
        s.double_array_value.data.extend(w.value if w.set_value else w.default)
    else:
        return None
    return s


class StreamlitSession:
    """One simulated browser tab. Create with `await StreamlitSession.open(...)`; not thread-safe."""

    def __init__(self, ws: ClientConnection, base_url: str, path: str, query: str) -> None:
        self._ws = ws
        self._base_url = base_url   # the browser's address is base_url/path?query
        self._path = path
        self._query = query
        self.session_id = ""                     # from new_session.initialize
        self.script_running = False              # from session_status_changed
        self.page_not_found: str | None = None   # page_not_found of the latest request
        self.pages: list[tuple[str, str, str]] = []  # (title, url path, page_script_hash), nav order
        self._tree: dict[tuple[int, ...], _Node] = {}
        self._widgets: dict[str, WidgetState] = {}  # widget id -> value the browser would send
        self._bound_params: set[str] = set()        # query params bound to widgets (kept on page change)
        self._page_hash = ""                # the page being shown: what later reruns ask for
        self._main_hash = ""
        self._has_navigation = False        # st.navigation apps name the page in `navigation`
        self._run_id = ""
        self._starts = 0                    # runs started (new_session), full and fragment
        self._full_done = 0                 # ordinal (in _starts) of the last full run that ended
        self._frag_done: dict[str, int] = {}  # fragment id -> ordinal of its last finished run
        self._compile_error: str | None = None
        self._auto: dict[str, tuple[float, asyncio.Task[None]]] = {}
        self._waiters: list[tuple[Callable[[], bool], asyncio.Future[float]]] = []
        self._error: BaseException | None = None
        self._reader = asyncio.create_task(self._read())

    # --- public API ---------------------------------------------------------------------------

    @classmethod
    async def open(cls, base_url: str, path: str = "", query: str = "", *,
                   timeout: float = DEFAULT_TIMEOUT) -> StreamlitSession:
        """Connect and run the app as a browser opening `base_url/path?query`; waits for the run."""
        parts = urlsplit(base_url.rstrip("/"))
        scheme = "wss" if parts.scheme == "https" else "ws"
        # No client pings (a browser sends none; the server's pings are answered automatically),
        # so a busy server cannot get this client disconnected for a late pong.
        ws = await connect(f"{scheme}://{parts.netloc}{parts.path}/_stcore/stream",
                           subprotocols=[Subprotocol("streamlit")], max_size=None, ping_interval=None,
                           open_timeout=timeout)
        page = path.strip("/")
        session = cls(ws, base_url.rstrip("/"), page, query)
        try:
            await session._run(page_name=page, timeout=timeout)
            if session.page_not_found is not None:
                raise LookupError(f"page {page!r} not found (the server ran the default page)")
        except BaseException:
            await session.close()
            raise
        return session

    async def rerun(self, widget_states: WidgetStates | None = None, *, timeout: float = DEFAULT_TIMEOUT) -> float:
        """Rerun the whole page (as after a widget change); seconds until that run finished.

        widget_states: values to change, sent over the ones the browser holds (like a user edit).
        """
        return await self._run(changes=widget_states, timeout=timeout)

    async def click(self, label_regex: str, *, timeout: float = DEFAULT_TIMEOUT) -> float:
        """Press the first enabled button whose label matches (re.search); seconds until its run finished.

        A button inside a fragment reruns only that fragment, as in the browser.
        """
        rx = re.compile(label_regex)
        found = [n for n in self._nodes("button") if rx.search(n.element.button.label)]
        enabled = [n for n in found if not n.element.button.disabled]
        if not enabled:
            state = "only disabled ones match" if found else f"buttons on screen: {self.buttons()}"
            raise LookupError(f"no enabled button matches {label_regex!r}; {state}")
        node = enabled[0]
        changes = WidgetStates()
        changes.widgets.add(id=node.widget_id, trigger_value=True)
        return await self._run(changes=changes, fragment_id=node.fragment_id, timeout=timeout)

    async def goto(self, page_title_or_url_path: str, *, timeout: float = DEFAULT_TIMEOUT) -> float:
        """Switch page as the sidebar navigation does; seconds until the new page's run finished."""
        want = page_title_or_url_path.strip("/").casefold()
        found = [(url, h) for title, url, h in self.pages if want in (title.casefold(), url.casefold())]
        if not found:
            raise LookupError(f"no page {page_title_or_url_path!r}; pages: {[p[:2] for p in self.pages]}")
        self._path, page_hash = found[0]
        self._stop_auto_reruns()
        # The browser keeps the values of the main script's widgets (those outside any page) and
        # the query params bound to widgets; everything else belongs to the page being left.
        keep = {n.widget_id for n in self._tree.values() if n.widget_id and n.script_hash == self._main_hash}
        self._query = urlencode([(k, v) for k, v in parse_qsl(self._query, keep_blank_values=True)
                                 if k in self._bound_params])
        return await self._run(page_hash=page_hash, keep_widgets=keep, timeout=timeout)

    def texts(self) -> list[str]:
        """Markdown, captions, headings, alerts, exceptions and metrics ("label: value") in page order."""
        out: list[str] = []
        for node in self._nodes("markdown", "heading", "metric", "alert", "exception"):
            el = node.element
            kind = el.WhichOneof("type")
            if kind == "metric":
                out.append(f"{el.metric.label}: {el.metric.body}")
            elif kind == "exception":
                out.append(f"{el.exception.type}: {el.exception.message}")
            else:
                out.append(getattr(el, kind).body)
        return out

    def buttons(self) -> list[str]:
        """Labels of the buttons on screen, in page order (disabled ones marked " (disabled)")."""
        return [n.element.button.label + (" (disabled)" if n.element.button.disabled else "")
                for n in self._nodes("button")]

    def metric(self, label: str) -> str | None:
        """The value of the first st.metric with this label, or None if there is none on screen."""
        return next((n.element.metric.body for n in self._nodes("metric") if n.element.metric.label == label), None)

    async def wait_for(self, predicate: Callable[[StreamlitSession], bool], timeout: float) -> None:
        """Keep reading messages until predicate(self) is true; TimeoutError after `timeout` seconds."""
        await self._until(lambda: predicate(self), timeout)

    async def close(self) -> None:
        """Stop the auto-rerun timers and the reader, and close the websocket."""
        self._stop_auto_reruns()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
        await self._ws.close()

    async def __aenter__(self) -> StreamlitSession:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    # --- requests -----------------------------------------------------------------------------

    async def _run(self, *, changes: WidgetStates | None = None, fragment_id: str = "", page_name: str = "",
                   page_hash: str | None = None, keep_widgets: set[str] | None = None,
                   timeout: float) -> float:
        """Send one rerun request; wait for its run (the fragment's, or the next full run) to end."""
        self.page_not_found = None
        start_count = self._starts
        sent = time.perf_counter()
        await self._send_rerun(changes=changes, fragment_id=fragment_id, page_name=page_name,
                               page_hash=page_hash, keep_widgets=keep_widgets)
        if fragment_id:
            done = await self._until(lambda: max(self._full_done, self._frag_done.get(fragment_id, 0)) > start_count,
                                     timeout)
        else:
            done = await self._until(lambda: self._full_done > start_count, timeout)
            if self._compile_error is not None:
                raise ScriptError(self._compile_error)
        return done - sent

    async def _send_rerun(self, *, changes: WidgetStates | None = None, fragment_id: str = "", page_name: str = "",
                          page_hash: str | None = None, keep_widgets: set[str] | None = None,
                          is_auto_rerun: bool = False) -> None:
        msg = BackMsg()
        cs = msg.rerun_script
        cs.query_string = self._query
        # The first request names the page by its URL path; later ones by the current page's hash.
        cs.page_script_hash = self._page_hash if page_hash is None else page_hash
        cs.page_name = page_name
        cs.fragment_id = fragment_id
        cs.is_auto_rerun = is_auto_rerun
        states = {wid: s for wid, s in self._widgets.items() if keep_widgets is None or wid in keep_widgets}
        for s in changes.widgets if changes is not None else ():
            states[s.id] = s
            if s.WhichOneof("value") not in ("trigger_value", "string_trigger_value", "json_trigger_value"):
                self._widgets[s.id] = s  # a trigger is sent once; a value is what the browser now holds
        cs.widget_states.widgets.extend(states.values())
        ctx = cs.context_info
        ctx.timezone, ctx.timezone_offset, ctx.locale = "UTC", 0, "en-US"
        ctx.url = f"{self._base_url}/{self._path}" + (f"?{self._query}" if self._query else "")
        ctx.is_embedded, ctx.color_scheme = False, "light"
        await self._ws.send(msg.SerializeToString())

    def _stop_auto_reruns(self, fragment_ids: Iterable[str] | None = None) -> None:
        for fid in list(self._auto) if fragment_ids is None else fragment_ids:
            if fid in self._auto:
                self._auto.pop(fid)[1].cancel()

    async def _auto_rerun(self, fragment_id: str, interval: float) -> None:
        with contextlib.suppress(ConnectionClosed):  # the reader reports the closed connection
            while True:
                await asyncio.sleep(interval)
                await self._send_rerun(fragment_id=fragment_id, is_auto_rerun=True)

    # --- the message stream -------------------------------------------------------------------

    async def _until(self, predicate: Callable[[], bool], timeout: float) -> float:
        """perf_counter() of the message after which predicate() held (checked after every message)."""
        if self._error is not None:
            raise ConnectionError("the websocket is closed") from self._error
        if predicate():
            return time.perf_counter()
        fut: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        waiter = (predicate, fut)
        self._waiters.append(waiter)
        try:
            return await asyncio.wait_for(fut, timeout)
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    async def _read(self) -> None:
        try:
            async for data in self._ws:
                msg = ForwardMsg()
                msg.ParseFromString(data)
                self._handle(msg)
                self._wake()
            self._error = ConnectionError("the server closed the websocket")
        except Exception as exc:  # a dropped connection or a message this client cannot handle
            self._error = exc
        finally:
            self._error = self._error or ConnectionError("the session was closed")
            self._stop_auto_reruns()
            for _, fut in self._waiters:
                if not fut.done():
                    fut.set_exception(ConnectionError(f"session ended: {self._error!r}"))

    def _wake(self) -> None:
        now = time.perf_counter()
        for predicate, fut in list(self._waiters):
            if fut.done():
                continue
            try:
                if predicate():
                    fut.set_result(now)
            except Exception as exc:  # the waiter's own predicate failed: its caller gets the error
                fut.set_exception(exc)

    def _handle(self, msg: ForwardMsg) -> None:
        kind = msg.WhichOneof("type")
        if kind == "delta":
            self._apply_delta(msg)
        elif kind == "new_session":
            self._new_run(msg)
        elif kind == "script_finished":
            self._run_finished(msg)
        elif kind == "session_status_changed":
            self.script_running = msg.session_status_changed.script_is_running
        elif kind == "navigation":
            self._has_navigation = True
            self.pages = [(p.page_name, p.url_pathname, p.page_script_hash) for p in msg.navigation.app_pages]
            self._set_page(msg.navigation.page_script_hash)
        elif kind == "page_info_changed":
            self._query = msg.page_info_changed.query_string
        elif kind == "page_not_found":
            self.page_not_found = msg.page_not_found.page_name
        elif kind == "session_event" and msg.session_event.HasField("script_compilation_exception"):
            exc = msg.session_event.script_compilation_exception
            self._compile_error = f"{exc.type}: {exc.message}"
        elif kind == "auto_rerun":
            fid, interval = msg.auto_rerun.fragment_id, msg.auto_rerun.interval
            if fid and self._auto.get(fid, (None,))[0] != interval:
                self._stop_auto_reruns([fid])
                self._auto[fid] = (interval, asyncio.create_task(self._auto_rerun(fid, interval)))
        elif kind == "stop_auto_rerun":
            self._stop_auto_reruns(msg.stop_auto_rerun.fragment_ids)

    def _new_run(self, msg: ForwardMsg) -> None:
        ns, run = msg.new_session, msg.metadata.run
        self._starts += 1
        self._run_id = run.script_run_id
        if ns.initialize.session_id:
            self.session_id = ns.initialize.session_id
            self.script_running = ns.initialize.session_status.script_is_running
        if run.fragment_ids:
            return
        # A full run: the browser drops the fragments' timers (the run re-registers the ones it keeps).
        self._stop_auto_reruns()
        self._compile_error = None
        self._main_hash = ns.main_script_hash
        if not self._has_navigation:  # a pages/ directory app: new_session names the page
            self.pages = [(p.page_name, p.url_pathname, p.page_script_hash) for p in ns.app_pages]
            self._set_page(ns.page_script_hash)

    def _set_page(self, page_hash: str) -> None:
        """On a page change, drop the old page's elements at once (a finished run would prune them)."""
        if page_hash != self._page_hash:
            self._tree = {p: n for p, n in self._tree.items() if n.script_hash == self._main_hash}
            self._page_hash = page_hash

    def _apply_delta(self, msg: ForwardMsg) -> None:
        delta = msg.delta
        if delta.WhichOneof("type") == "new_element":
            el = delta.new_element
            node = _Node(self._run_id, delta.fragment_id, msg.metadata.active_script_hash, el)
            kind = el.WhichOneof("type")
            proto = getattr(el, kind) if kind else None
            if proto is not None and "id" in proto.DESCRIPTOR.fields_by_name and proto.id:
                node.widget_id = proto.id
                if proto.DESCRIPTOR.fields_by_name.get("set_value") is None or proto.set_value \
                        or proto.id not in self._widgets:
                    state = _widget_state(kind, proto)
                    if state is not None:
                        self._widgets[proto.id] = state
                if "query_param_key" in proto.DESCRIPTOR.fields_by_name and proto.HasField("query_param_key"):
                    self._bound_params.add(proto.query_param_key)
        elif delta.WhichOneof("type") == "add_block":
            node = _Node(self._run_id, delta.fragment_id, msg.metadata.active_script_hash, None)
        else:  # new_transient (toasts and the like): nothing to read back
            return
        self._tree[tuple(msg.metadata.delta_path)] = node

    def _run_finished(self, msg: ForwardMsg) -> None:
        status, run = msg.script_finished, msg.metadata.run
        if status == ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY:
            for fid in run.fragment_ids:
                self._frag_done[fid] = self._starts
        elif status in _FULL_RUN_END:
            self._full_done = self._starts
            if status == ForwardMsg.FINISHED_WITH_COMPILE_ERROR:  # the details follow in a session_event
                self._compile_error = self._compile_error or "the script failed to compile"
        if status in _RUN_SUCCESS and run.script_run_id:
            self._drop_stale(run.script_run_id, set(run.fragment_ids))

    def _drop_stale(self, run_id: str, fragments: set[str]) -> None:
        """The frontend's stale-node rule: what the finished run owned and did not write again goes."""
        if not fragments:
            if run_id != self._run_id:
                return
            stale = [p for p, n in self._tree.items() if n.run_id != run_id]
        else:
            # A fragment run owns its own deltas and whatever lies inside a container it wrote.
            owned = [p for p, n in self._tree.items() if n.element is None and n.fragment_id in fragments]
            stale = [p for p, n in self._tree.items() if n.run_id != run_id and (
                n.fragment_id in fragments or any(p[:len(o)] == o for o in owned))]
        for p in stale:
            del self._tree[p]
        # Like the browser, forget the values of widgets no longer on screen.
        live = {n.widget_id for n in self._tree.values() if n.widget_id}
        for wid in [w for w in self._widgets if w not in live]:
            del self._widgets[wid]

    def _nodes(self, *kinds: str) -> list[_Node]:
        """The elements of these kinds on screen, in page order (main area, then sidebar)."""
        found = [(p, n) for p, n in self._tree.items()
                 if n.element is not None and n.element.WhichOneof("type") in kinds]
        return [n for _, n in sorted(found, key=lambda pn: pn[0])]
