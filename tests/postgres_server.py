"""A throwaway PostgreSQL server on loopback, for the tests and the benchmark.

`initdb` into a fresh temporary directory, `pg_ctl start` on a free port of
127.0.0.1 with its unix socket in the same directory, stop and delete it all
at the end. Nothing is installed or left behind; the binaries are the machine's
(Debian's postgresql package puts them in /usr/lib/postgresql/<major>/bin).

initdb and postgres refuse to run as root. As root, both run as an
unprivileged user (`postgres` where it exists, else `nobody`) through
subprocess's `user=`/`group=` (no su, sudo or terminal needed, so it works in CI
without stdin), with the data directory owned by that user. As any other user
they simply run as that user.

Authentication: the superuser `postgres` logs in without a password (trust);
the role `catalyst` needs its password (scram-sha-256) over TCP, so tests can
check that a connection string's password never leaks and that a wrong one
fails clearly.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

SUPERUSER = "postgres"
APP_USER = "catalyst"
APP_PASSWORD = "pw-Secret'9%@x"  # quotes, % and @: it must survive URL quoting
APP_DATABASE = "catalyst_test"
_TIMEOUT_S = 60


class PostgresUnavailable(Exception):
    """PostgreSQL cannot be started here; the message says why."""


def find_bindir() -> Path:
    """The directory holding initdb, pg_ctl and postgres."""
    candidates: list[Path] = []
    if os.environ.get("PG_BINDIR"):
        candidates.append(Path(os.environ["PG_BINDIR"]))
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"),
                      key=lambda p: _major(p.parent.name), reverse=True)
    candidates += [*versions, Path("/usr/local/pgsql/bin")]
    for directory in candidates:
        if all((directory / name).is_file() for name in ("initdb", "pg_ctl", "postgres")):
            return directory
    raise PostgresUnavailable(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found on PATH, in "
        "/usr/lib/postgresql/*/bin or $PG_BINDIR; install them, e.g. "
        "`apt-get install postgresql`"
    )


def _major(name: str) -> int:
    return int(name) if name.isdigit() else 0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class _Account:
    """Who runs initdb and the server: ourselves, or an unprivileged user when root."""

    uid: int | None
    gid: int | None
    name: str

    @classmethod
    def choose(cls) -> _Account:
        if os.geteuid() != 0:
            return cls(None, None, pwd.getpwuid(os.geteuid()).pw_name)
        for name in ("postgres", "nobody"):
            with contextlib.suppress(KeyError):
                entry = pwd.getpwnam(name)
                return cls(entry.pw_uid, entry.pw_gid, name)
        raise PostgresUnavailable("running as root and there is no `postgres` or `nobody` "
                                  "user to run PostgreSQL as (initdb refuses root)")

    def run_options(self) -> dict[str, Any]:
        if self.uid is None:
            return {}
        return {"user": self.uid, "group": self.gid, "extra_groups": []}


def _base_directory(account: _Account) -> str:
    """A temporary directory the account can reach (TMPDIR may be root's own)."""
    base = tempfile.gettempdir()
    if account.uid is None:
        return base
    path = Path(base).resolve()
    for part in (path, *path.parents):
        if not part.stat().st_mode & stat.S_IXOTH:
            return "/tmp"
    return base


class PostgresServer:
    """One running server; use it as a context manager (or call stop())."""

    def __init__(self) -> None:
        self.bindir = find_bindir()
        self.account = _Account.choose()
        self.directory = Path(tempfile.mkdtemp(prefix="catalyst-pg-",
                                               dir=_base_directory(self.account)))
        self.data = self.directory / "data"
        self.port = 0
        self._running = False
        try:
            if self.account.uid is not None:
                os.chown(self.directory, self.account.uid, self.account.gid or -1)
            self._initdb()
            self._start()
            self._create_app_role()
        except BaseException:
            self.stop()
            raise

    # -- addresses -------------------------------------------------------------------

    @property
    def socket_dir(self) -> str:
        return str(self.directory)

    def url(self, user: str = APP_USER, password: str | None = APP_PASSWORD,
            database: str = APP_DATABASE, host: str = "127.0.0.1",
            port: int | None = None) -> str:
        """A postgresql:// URL over TCP (the password URL-quoted)."""
        auth = quote(user, safe="")
        if password is not None:
            auth += ":" + quote(password, safe="")
        return f"postgresql://{auth}@{host}:{port or self.port}/{quote(database, safe='')}"

    def admin_conninfo(self, database: str = APP_DATABASE) -> str:
        """The superuser over the unix socket (trust): for setting up tables."""
        return f"host={self.socket_dir} port={self.port} user={SUPERUSER} dbname={database}"

    # -- lifecycle -------------------------------------------------------------------

    def _run(self, *args: str, timeout: float = _TIMEOUT_S) -> subprocess.CompletedProcess[str]:
        environment = {key: value for key, value in os.environ.items()
                       if not key.startswith("PG")}
        environment.update(LC_ALL="C", LANG="C")
        done = subprocess.run(
            [str(self.bindir / args[0]), *args[1:]], capture_output=True, text=True,
            stdin=subprocess.DEVNULL, cwd=self.directory, env=environment, timeout=timeout,
            check=False, **self.account.run_options(),
        )
        if done.returncode != 0:
            output = (done.stderr or done.stdout).strip()
            raise PostgresUnavailable(f"{args[0]} failed (exit {done.returncode}, as user "
                                      f"{self.account.name}): {output[-1500:]}")
        return done

    def _initdb(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, "-A", "trust",
                  "-E", "UTF8", "--no-locale", "--no-sync")
        hba = [
            "local all all trust",
            f"host all {APP_USER} 127.0.0.1/32 scram-sha-256",
            f"host all {APP_USER} ::1/128 scram-sha-256",
            "host all all 127.0.0.1/32 trust",
            "host all all ::1/128 trust",
        ]
        self._write_as_account(self.data / "pg_hba.conf", "\n".join(hba) + "\n")

    def _write_as_account(self, path: Path, text: str) -> None:
        path.write_text(text, encoding="utf-8")
        if self.account.uid is not None:
            os.chown(path, self.account.uid, self.account.gid or -1)

    def _start(self) -> None:
        last: PostgresUnavailable | None = None
        for _ in range(3):  # another process may take the free port first
            self.port = _free_port()
            settings = {
                "listen_addresses": "'127.0.0.1'", "port": str(self.port),
                "unix_socket_directories": f"'{self.socket_dir}'", "max_connections": "60",
                "fsync": "off", "synchronous_commit": "off", "full_page_writes": "off",
                "shared_buffers": "32MB", "log_min_messages": "warning",
            }
            self._write_as_account(self.data / "postgresql.auto.conf", "".join(
                f"{key} = {value}\n" for key, value in settings.items()))
            try:
                self._run("pg_ctl", "start", "-D", str(self.data), "-w", "-t", str(_TIMEOUT_S),
                          "-l", str(self.directory / "server.log"))
            except PostgresUnavailable as exc:
                log = self.directory / "server.log"
                detail = log.read_text(errors="replace")[-1500:] if log.exists() else ""
                last = PostgresUnavailable(f"{exc}\n{detail}")
                continue
            self._running = True
            return
        assert last is not None
        raise last

    def _create_app_role(self) -> None:
        import psycopg

        with psycopg.connect(self.admin_conninfo("postgres"), autocommit=True) as conn:
            conn.execute(f"CREATE ROLE {APP_USER} LOGIN PASSWORD "
                         f"'{APP_PASSWORD.replace(chr(39), chr(39) * 2)}'")
            conn.execute(f"CREATE DATABASE {APP_DATABASE} OWNER {APP_USER}")

    def stop(self) -> None:
        if self._running:
            with contextlib.suppress(PostgresUnavailable, subprocess.TimeoutExpired):
                self._run("pg_ctl", "stop", "-D", str(self.data), "-m", "immediate", "-w")
            self._running = False
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def wait_ready(self, seconds: float = 10) -> None:
        """Block until the server answers (after a restart)."""
        import psycopg

        deadline = time.monotonic() + seconds
        while True:
            try:
                psycopg.connect(self.admin_conninfo(), connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    with PostgresServer() as server:
        yield server
