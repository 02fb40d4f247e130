"""Two ceilings for the HTTP figures, served exactly as `dps serve` serves the marketplace (uvicorn, one worker):

- the marketplace app with one extra route, GET /bench/ping, answering a constant JSON body without touching the
  database or the search index: the ceiling through the app's own middleware (sessions, current user, CSRF) and
  its edge (the received time, security headers); the same answer at /api/v1/bench/ping, registered as the app
  registers its open API, is the ceiling through the API's stack, which has only the edge;
- a bare Litestar app with only that route (`--bare`): the framework's ceiling on this machine.

The product has no such route (/health reads the database and the search index), and the benchmarks do not add
one to it: the route is registered on the app object here, in the benchmark's own server process.

    .venv/bin/python -m bench.ceiling_app --port 8001 [--bare]
"""

from __future__ import annotations

import argparse

from litestar import Litestar, MediaType, get

from dps.web.auth import public

PING_PATH = "/bench/ping"
# The same answer under /api/v1, where the app has none of what only pages need (sessions, the user, CSRF, the nonce).
API_PING_PATH = "/api/v1/bench/ping"


@get(PING_PATH, media_type=MediaType.JSON, sync_to_thread=False, include_in_schema=False, guards=[public])
def ping() -> dict[str, str]:
    return {"status": "ok"}


@get(API_PING_PATH, media_type=MediaType.JSON, sync_to_thread=False, include_in_schema=False, guards=[public])
def api_ping() -> dict[str, str]:
    return {"status": "ok"}


def create_app() -> Litestar:
    from dps.app import create_app as create_marketplace

    app = create_marketplace()
    app.register(ping)
    app.register_open_api(api_ping)  # as the app registers its own API
    return app


def create_bare_app() -> Litestar:
    return Litestar(route_handlers=[ping])


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--bare", action="store_true", help="serve a bare Litestar app with only the ping route")
    arguments = parser.parse_args()
    factory = "bench.ceiling_app:create_bare_app" if arguments.bare else "bench.ceiling_app:create_app"
    # The same call as `dps serve`.
    uvicorn.run(factory, factory=True, host=arguments.host, port=arguments.port, proxy_headers=True)


if __name__ == "__main__":
    main()
