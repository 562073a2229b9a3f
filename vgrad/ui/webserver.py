"""Streamlit's web server with a page for links too long, instead of "Invalid HTTP request received."

Streamlit serves with uvicorn, whose HTTP parser (h11) refuses a request whose request line and
headers pass 16 KB (h11's max_incomplete_event_size) with a bare 400 "Invalid HTTP request
received." That request never reaches Streamlit, so no page of the app can answer it; install()
changes uvicorn's answer instead: 414 and a short page that says the link is too long, with a
link to the app's start (431 when the headers, e.g. cookies, are what is too large).

    python -m vgrad.ui.webserver run app.py --server.port 8501    # `streamlit run`, with it installed

`python -m vgrad serve` starts Streamlit this way. Under a plain `streamlit run app.py` it is
installed when a page first imports vgrad.ui.backend, so a fresh server's very first request gets
uvicorn's own answer. (With httptools installed uvicorn uses that parser, which takes long links.)
"""

from __future__ import annotations

import sys

LIMIT = 16 * 1024  # h11.DEFAULT_MAX_INCOMPLETE_EVENT_SIZE, uvicorn's default
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>vgrad: this link is too long</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 4em auto; line-height: 1.5">
<h1>This link is too long</h1>
<p>{what} is over {kb} KB, more than this server reads. vgrad's own links are a few hundred
characters: this one was probably changed or pasted twice on its way.</p>
<p><a href="/">Open vgrad without it</a>, or ask whoever sent it for the link again.</p>
</body></html>
"""


def install() -> bool:
    """Make uvicorn's h11 server answer an over-long request with PAGE; True when installed."""
    try:
        import h11
        from uvicorn.protocols.http import h11_impl
    except ImportError:
        return False
    protocol = h11_impl.H11Protocol
    if getattr(protocol.send_400_response, "vgrad", False):
        return True
    original = protocol.send_400_response

    def send_400_response(self, msg: str) -> None:
        status = too_large(self.conn)
        if status is None:
            original(self, msg)
            return
        what = "The address (the part after the page's name)" if status == 414 else "The request's headers"
        body = PAGE.format(what=what, kb=LIMIT // 1024).encode("utf-8")
        headers = [(b"content-type", b"text/html; charset=utf-8"), (b"connection", b"close")]
        reason = b"URI Too Long" if status == 414 else b"Request Header Fields Too Large"
        for event in (h11.Response(status_code=status, headers=headers, reason=reason), h11.Data(data=body),
                      h11.EndOfMessage()):
            self.transport.write(self.conn.send(event))
        self.transport.close()

    send_400_response.vgrad = True
    protocol.send_400_response = send_400_response
    return True


def too_large(conn) -> int | None:
    """414 when h11 gave up on a request line over LIMIT, 431 on headers over it, else None."""
    try:
        data, _closed = conn.trailing_data
    except Exception:  # noqa: BLE001 - an h11 without it: leave uvicorn's answer alone
        return None
    if len(data) <= LIMIT:
        return None
    return 431 if b"\r\n" in data[:LIMIT] else 414


def main() -> int:
    """`streamlit ARGS...` with install() done first (and the pages' modules imported once it runs)."""
    install()
    from streamlit.web import cli

    from vgrad.ui import process

    process.warm_in_background()

    sys.argv = ["streamlit", *sys.argv[1:]]
    return cli.main()


if __name__ == "__main__":
    sys.exit(main())
