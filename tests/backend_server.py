"""`catalyst serve` in a child process on a free loopback port, for the backend tests."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Served:
    """One `catalyst serve` process; `stop()` ends it (also at the end of a `with`)."""

    def __init__(self, data_dir: Path, *args: str, env: Mapping[str, str] | None = None,
                 token: str | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        environment = {**os.environ, **(env or {})}
        command = ["catalyst", "serve", "--port", str(self.port),
                   "--data-dir", str(data_dir), *args]
        self.process = subprocess.Popen(command, env=environment, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True)
        headers = {"authorization": f"Bearer {token}"} if token else {}
        self.client = httpx.Client(base_url=self.url, headers=headers, timeout=30)
        deadline = time.monotonic() + 30
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"catalyst serve exited: {self.process.stderr.read()}")
            try:
                self.client.get("/api/health")
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        self.client.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()

    def __enter__(self) -> Served:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def serve_exit(data_dir: Path, args: Sequence[str], env: Mapping[str, str] | None = None
               ) -> subprocess.CompletedProcess[str]:
    """Run `catalyst serve` expecting it to refuse to start."""
    command = ["catalyst", "serve", "--port", str(free_port()),
               "--data-dir", str(data_dir), *args]
    return subprocess.run(command, env={**os.environ, **(env or {})}, capture_output=True,
                          text=True, timeout=60)
