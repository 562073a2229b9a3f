"""Run the training service alone: `python -m vgrad.service [--host H] [--port P]`.

Settings come from environment variables (see vgrad.service.settings and vgrad.limits).
Every request but /health needs `Authorization: Bearer <token>`: the token is VGRAD_SERVICE_TOKEN,
or, when that is not set, a random one printed at start (give it to the app as VGRAD_SERVICE_TOKEN).
`--exit-with-parent` ends the service when the process that started it is gone.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
import time
from dataclasses import replace


def main(argv: list[str] | None = None) -> None:
    from vgrad.service.settings import Settings

    parser = argparse.ArgumentParser(prog="python -m vgrad.service", description=__doc__.splitlines()[0])
    parser.add_argument("--host", help="address to bind (default VGRAD_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default VGRAD_BACKEND_PORT or 8502)")
    parser.add_argument("--exit-with-parent", action="store_true", help="stop when the parent process exits")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        settings = Settings.from_env()
    except ValueError as exc:
        parser.error(str(exc))
    settings = replace(settings, host=args.host or settings.host, port=args.port or settings.port)
    if not settings.token:
        from vgrad.service.security import new_token

        settings = replace(settings, token=new_token())
        print(f"vgrad training service on http://{settings.host}:{settings.port}\n"
              f"token: {settings.token}\n"
              "Send it as 'Authorization: Bearer <token>'; for the app: VGRAD_BACKEND_URL=... "
              "VGRAD_SERVICE_TOKEN=<token>. Set VGRAD_SERVICE_TOKEN here to choose it.", flush=True)
    if args.exit_with_parent:
        _exit_with_parent()

    import uvicorn

    from vgrad.service.app import create_app

    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="warning",
                timeout_graceful_shutdown=3)


def _exit_with_parent() -> None:
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="vgrad-parent-watch", daemon=True).start()


if __name__ == "__main__":
    main()
