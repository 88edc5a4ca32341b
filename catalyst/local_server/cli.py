"""`catalyst local-server` (alias `catalyst mock-groq`): serve Groq's, OpenAI's and
Anthropic's APIs in the foreground until Ctrl-C.

The startup line gives each SDK's base URL, e.g.
`GROQ_BASE_URL=http://127.0.0.1:8765 OPENAI_BASE_URL=http://127.0.0.1:8765/v1
ANTHROPIC_BASE_URL=http://127.0.0.1:8765`.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
import threading

from catalyst.local_server.server import LocalServer
from catalyst.local_server.settings import MockSettings

DEFAULT_PORT = 8765
EXIT_USAGE = 2
EXIT_CANNOT_BIND = 1


def _port(text: str) -> int:
    """A TCP port number, or an argparse error naming the range."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port {port} is outside 0-65535")
    return port


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    parser.add_argument(
        "--port", type=_port, default=DEFAULT_PORT, help="port (0 = any free)"
    )
    parser.add_argument(
        "--latency-ms", type=float, default=0.0, help="delay before each answer"
    )
    parser.add_argument(
        "--ttft-ms", type=float, default=0.0, help="extra delay before the first token"
    )
    parser.add_argument(
        "--tokens-per-second",
        type=float,
        default=0.0,
        help="streaming pace (0 = unpaced)",
    )
    parser.add_argument(
        "--reply", default=None, help="fixed reply text (default: echo)"
    )
    parser.add_argument(
        "--rate-limit-every",
        type=int,
        default=0,
        help="answer every Nth chat/embeddings request with 429",
    )
    parser.add_argument(
        "--rate-limit-share",
        type=float,
        default=0.0,
        help="share of chat/embeddings requests given 429",
    )
    parser.add_argument(
        "--retry-after",
        type=float,
        default=1.0,
        help="retry-after seconds on injected 429s",
    )
    parser.add_argument(
        "--server-error-share",
        type=float,
        default=0.0,
        help="share of chat/embeddings requests given 5xx",
    )
    parser.add_argument(
        "--rpm-limit", type=int, default=None, help="requests per minute"
    )
    parser.add_argument("--tpm-limit", type=int, default=None, help="tokens per minute")
    parser.add_argument(
        "--seed", type=int, default=0, help="seed for the injected faults"
    )


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def settings_from_args(args: argparse.Namespace) -> MockSettings:
    return MockSettings(
        latency_ms=args.latency_ms,
        ttft_ms=args.ttft_ms,
        tokens_per_second=args.tokens_per_second,
        reply=args.reply,
        rate_limit_every=args.rate_limit_every,
        rate_limit_share=args.rate_limit_share,
        retry_after_s=args.retry_after,
        server_error_share=args.server_error_share,
        rpm_limit=args.rpm_limit,
        tpm_limit=args.tpm_limit,
        seed=args.seed,
    )


def banner(server: LocalServer) -> str:
    """One line, so a wrapper can read it: the base URL each SDK wants."""
    return (
        f"local server on {server.base_url}: GROQ_BASE_URL={server.groq_base_url} "
        f"OPENAI_BASE_URL={server.openai_base_url} "
        f"ANTHROPIC_BASE_URL={server.anthropic_base_url} "
        f"(Voyage embeddings: {server.voyage_base_url}; any API key works)"
    )


def run(args: argparse.Namespace) -> int:
    host: str = args.host
    name = f"catalyst {getattr(args, 'command', None) or 'local-server'}"
    # The server accepts any key and echoes prompts: it must never face a network.
    if not is_loopback(host):
        print(
            f"{name}: refusing to listen on {host!r}: "
            "only loopback addresses (127.0.0.0/8, ::1, localhost) are allowed",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        settings = settings_from_args(args)
    except ValueError as error:
        print(f"{name}: {error}", file=sys.stderr)
        return EXIT_USAGE
    bind_host = "127.0.0.1" if host.lower() == "localhost" else host.strip("[]")
    server = LocalServer(settings, host=bind_host, port=args.port)
    try:
        server.start()
    except OSError as error:
        print(
            f"{name}: cannot listen on {host}:{args.port}: {error}",
            file=sys.stderr,
        )
        return EXIT_CANNOT_BIND
    print(banner(server), file=sys.stderr, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0
