"""The probe's D8: a 100 KB query string got a bare "Invalid HTTP request received." Streamlit's
uvicorn (h11) gives up on a request still incomplete past 16 KB, before Streamlit sees it: a
browser's request arrives in pieces, so it does (a request that arrives in one read is parsed, and
the page then drops the long value with a warning). Streamlit started the way `python -m vgrad
serve` starts it answers the refused request with a page saying the link is too long."""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time

import pytest
import requests

from tests.conftest import ROOT
from tests.service.helpers import wait_for
from vgrad.service.launcher import free_port, streamlit_command
from vgrad.ui import webserver


@pytest.fixture(scope="module")
def streamlit_url():
    port = free_port()
    env = dict(os.environ, VGRAD_BACKEND_URL="http://127.0.0.1:9", PYTHONPATH=str(ROOT))
    cmd = streamlit_command(ROOT / "app.py", port, "127.0.0.1") + ["--server.fileWatcherType", "none",
                                                                   "--browser.gatherUsageStats", "false"]
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(cmd, cwd=str(ROOT), env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return requests.get(url + "/_stcore/health", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    try:
        wait_for(up, 60, every=0.2, what="Streamlit to start")
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def send_in_pieces(url: str, request: bytes, piece: int = 4096, tries: int = 3) -> tuple[int, str]:
    """Send a raw request a few KB at a time, as it arrives from a browser over a network; (status, body).

    The server answers a request it refuses and closes before the rest has arrived; its kernel then
    resets the connection for the bytes it did not read, and the reset can overtake the answer on its
    way to this socket. That is TCP, not the page: such a try is repeated."""
    host, port = url.removeprefix("http://").split(":")
    for attempt in range(tries):
        answer = b""
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            try:
                for i in range(0, len(request), piece):
                    sock.sendall(request[i:i + piece])
                    time.sleep(0.002)
            except OSError:  # the server answered and closed while the rest was on its way
                pass
            try:
                while chunk := sock.recv(65536):
                    answer += chunk
            except ConnectionResetError:
                if attempt == tries - 1:
                    raise
        if answer:
            break
        time.sleep(0.2)
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), body.decode("utf-8", "replace")


def refused(url: str, request: bytes, tries: int = 5) -> tuple[int, str]:
    """send_in_pieces for a request the server must refuse. A server busy right after its start (it
    imports the pages' modules then) can read all the pieces at once, and a request read in one piece
    is parsed and answered 200: such a try is repeated, after a pause."""
    for _ in range(tries):
        status, body = send_in_pieces(url, request)
        if status != 200:
            break
        time.sleep(1.0)
    return status, body


def get(path: str, headers: str = "") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}Connection: close\r\n\r\n".encode()


@pytest.mark.parametrize("page", ["", "explorer", "compare", "recurrent", "runs"])
def test_a_100_kb_link_gets_a_page_that_says_it_is_too_long(streamlit_url, page):
    status, body = refused(streamlit_url, get(f"/{page}?preset=" + "x" * 100_000))
    assert status == 414
    assert "This link is too long" in body and 'href="/"' in body
    assert "Invalid HTTP request" not in body
    status, _ = send_in_pieces(streamlit_url, get(f"/{page}?preset=notebook-deep-sigmoid"))
    assert status == 200


def test_huge_headers_get_their_own_sentence(streamlit_url):
    status, body = refused(streamlit_url, get("/", "Cookie: a=" + "b" * 30_000 + "\r\n"))
    assert status == 431 and "headers" in body


def test_other_malformed_requests_keep_uvicorns_answer(streamlit_url):
    status, body = send_in_pieces(streamlit_url, b"NOT HTTP AT ALL\r\n\r\n")
    assert status == 400 and "Invalid HTTP request received." in body


def test_install_is_idempotent():
    assert webserver.install() and webserver.install()
    from uvicorn.protocols.http.h11_impl import H11Protocol

    assert H11Protocol.send_400_response.vgrad is True
