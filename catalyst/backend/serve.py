"""`catalyst serve`: arguments, the safety checks on them, and uvicorn."""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
from pathlib import Path

DEFAULT_DATA_DIR = Path(".catalyst")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default 127.0.0.1; any other address needs "
                        "--auth-token-env)")
    parser.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR,
                        help="where run history is kept (SQLite), created on first start "
                        f"(default {DEFAULT_DATA_DIR})")
    parser.add_argument("--database", metavar="URL",
                        help="keep run history in PostgreSQL instead (postgresql://…; needs "
                        "psycopg)")
    parser.add_argument("--auth-token-env", metavar="NAME",
                        help="require `Authorization: Bearer TOKEN`, TOKEN read from this "
                        "environment variable")
    parser.add_argument("--cors-origin", action="append", default=[], metavar="ORIGIN",
                        help="let a browser page from ORIGIN call the API (repeatable; "
                        "default none)")
    parser.add_argument("--max-body-bytes", type=int, default=2_000_000,
                        help="largest request body (default 2000000; larger: 413)")
    parser.add_argument("--max-nodes", type=int, default=1_000,
                        help="most nodes in a posted workflow (default 1000; more: 413)")
    parser.add_argument("--run-time-limit", type=float, default=60.0, metavar="SECONDS",
                        help="a preview run is stopped after this long (default 60)")
    parser.add_argument("--preview-tokens-per-second", type=int, default=400, metavar="N",
                        help="how fast Catalyst's local provider server streams replies to "
                        "keyless previews (default 400)")
    parser.add_argument("--max-active-runs", type=int, default=4,
                        help="preview runs at the same time (default 4; more: 429)")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from catalyst.backend.app import Settings, create_app
    except ImportError as exc:
        print(f"error: catalyst serve needs {exc.name}; install with: "
              "pip install 'catalyst-workflows[serve]'", file=sys.stderr)
        return 2
    token = None
    if args.auth_token_env:
        token = os.environ.get(args.auth_token_env, "")
        if len(token) < 16:
            print(f"error: {args.auth_token_env} must hold a token of at least 16 characters",
                  file=sys.stderr)
            return 2
    elif not _loopback(args.host):
        print(f"error: refusing to listen on {args.host} without a token: anyone who can "
              "reach it could run workflows; pass --auth-token-env NAME (or bind 127.0.0.1)",
              file=sys.stderr)
        return 2
    if args.database and not args.database.startswith(("postgresql://", "postgres://")):
        print("error: --database takes a postgresql:// URL", file=sys.stderr)
        return 2
    settings = Settings(
        data_dir=args.data_dir, database=args.database, auth_token=token,
        cors_origins=tuple(args.cors_origin), max_body_bytes=args.max_body_bytes,
        max_nodes=args.max_nodes, run_time_limit_s=args.run_time_limit,
        max_active_runs=args.max_active_runs,
        preview_tokens_per_second=args.preview_tokens_per_second,
    )
    app = create_app(settings)
    print(f"catalyst serve: http://{args.host}:{args.port}/docs (runs in "
          f"{'PostgreSQL' if args.database else args.data_dir})", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning",
                proxy_headers=False, server_header=False)
    return 0
