"""Who may talk to the service: a bearer token on every request but /health, a local Host header,
and no cross-origin browser requests.

    app.add_middleware(Guard, token=settings.token, hosts=allowed_hosts(settings))

- `Authorization: Bearer <token>`: the token is VGRAD_SERVICE_TOKEN, or a random one the launcher
  (or `python -m vgrad.service`, which prints it) made at start. A web page on another origin
  cannot know it, so it can neither read nor change jobs (no CORS headers are ever sent either).
- `Host`: a loopback name (localhost, 127.0.0.1, ::1), the bound address, or a name listed in
  VGRAD_SERVICE_HOSTS. This stops DNS rebinding: a page whose name resolves to 127.0.0.1 sends its
  own name as Host.
- `Origin`: browsers add it to cross-origin requests; one naming a host that is not allowed is refused.

/health answers without the token (the launcher polls it) and says whether the token it got was right.
"""

from __future__ import annotations

import ipaddress
import json
import secrets
from collections.abc import Iterable
from urllib.parse import urlsplit

from vgrad.service.settings import Settings

OPEN_PATHS = frozenset({"/health"})
LOOPBACK_NAMES = frozenset({"localhost", "localhost.", "127.0.0.1", "::1"})


def new_token() -> str:
    """A random token (43 URL-safe characters)."""
    return secrets.token_urlsafe(32)


def allowed_hosts(settings: Settings) -> frozenset[str]:
    """Loopback names, the address the service binds (unless a wildcard) and VGRAD_SERVICE_HOSTS."""
    extra = {h.lower() for h in settings.hosts}
    if settings.host not in ("0.0.0.0", "::", ""):  # noqa: S104 - a wildcard is no name a client sends
        extra.add(settings.host.lower().strip("[]"))
    return LOOPBACK_NAMES | frozenset(extra)


def host_name(value: str) -> str:
    """'Example.org:8502' -> 'example.org', '[::1]:8502' -> '::1'."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:].split("]", 1)[0]
    if value.count(":") == 1:
        return value.split(":", 1)[0]
    return value


def host_allowed(name: str, hosts: Iterable[str]) -> bool:
    if name in hosts:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def token_matches(header: str, token: str) -> bool:
    """True when `header` is `Bearer <token>` (compared in constant time)."""
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and secrets.compare_digest(given.strip().encode(), token.encode())


class Guard:
    """ASGI middleware: Host and Origin checks on every request, the token on all but OPEN_PATHS.

    A request to an open path gets `scope["state"]["authenticated"]` (True when it carried the token).
    """

    def __init__(self, app, token: str, hosts: Iterable[str]):
        if not token:
            raise ValueError("the service needs a token")
        self.app = app
        self.token = token
        self.hosts = frozenset(hosts)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "websocket":  # the service has none
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        host = host_name(headers.get("host", ""))
        if not host_allowed(host, self.hosts):
            await _refuse(send, 400, f"the Host header {host[:60]!r} is not one this service answers to "
                          "(a loopback name, or one listed in VGRAD_SERVICE_HOSTS)")
            return
        origin = headers.get("origin")
        if origin is not None and not host_allowed((urlsplit(origin).hostname or "").lower(), self.hosts):
            await _refuse(send, 403, "requests from web pages of other origins are refused")
            return
        authenticated = token_matches(headers.get("authorization", ""), self.token)
        if scope.get("path") in OPEN_PATHS:
            scope.setdefault("state", {})["authenticated"] = authenticated
        elif not authenticated:
            await _refuse(send, 401, "this request needs the service token: send 'Authorization: Bearer <token>' "
                          "(VGRAD_SERVICE_TOKEN, or the token the service printed when it started)")
            return
        await self.app(scope, receive, send)


async def _refuse(send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
