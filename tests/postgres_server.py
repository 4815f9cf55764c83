"""A throwaway PostgreSQL cluster for tests: a real server, never a mock.

    with PostgresServer() as server:        # initdb + start on a free loopback port
        url = server.create_database()      # fresh empty database, C.UTF-8 ctype
        ...                                 # connect with psycopg to `url`
        server.restart()                    # same port, same password
    # stopped and removed

TCP connections from 127.0.0.1 need the superuser's password (scram-sha-256), so tests
can check that a wrong one is refused. Admin work goes over the Unix socket in the
cluster folder, which trusts local users. The cluster lives in /dev/shm when it can and
durability is off (fsync, full_page_writes): nothing here outlives the test session.
"""

from __future__ import annotations

import atexit
import glob
import itertools
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg import sql

SERVER_USER = "postgres"  # the OS user that runs initdb/postgres when we are root
SUPERUSER = "postgres"  # the database role the URLs log in as
DEBIAN_BIN_GLOB = "/usr/lib/postgresql/*/bin/initdb"
# On a busy disk CREATE DATABASE took ~300 ms; on tmpfs it takes ~15 ms.
MEMORY_DIR = Path("/dev/shm")
TEST_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    "full_page_writes": "off",
    "synchronous_commit": "off",
    "max_wal_size": "'128MB'",  # the WAL lives in memory when the cluster does
}


class PostgresUnavailable(RuntimeError):
    """PostgreSQL could not be set up here; `log` holds the server log, if any."""

    def __init__(self, reason: str, log: str = ""):
        super().__init__(reason)
        self.reason = reason
        self.log = log


def find_bin_dir() -> Path:
    """The newest Debian PostgreSQL bin folder, else the one holding `initdb` on PATH."""
    found = [Path(initdb).parent for initdb in glob.glob(DEBIAN_BIN_GLOB)]
    numbered = [p for p in found if p.parent.name.isdigit()]
    if numbered:
        return max(numbered, key=lambda p: int(p.parent.name))
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).resolve().parent
    raise PostgresUnavailable(f"no initdb found ({DEBIAN_BIN_GLOB} or PATH)")


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def default_parent_dir() -> Path:
    """tmpfs when there is one we may write to, else the usual temp folder."""
    if MEMORY_DIR.is_dir() and os.access(MEMORY_DIR, os.W_OK | os.X_OK):
        return MEMORY_DIR
    return Path(tempfile.gettempdir())


def _as_root() -> bool:
    return os.geteuid() == 0


class PostgresServer:
    """One initdb'd cluster in a temp folder, started with `pg_ctl`.

    Attributes: `port`, `password` (the superuser's), `bin_dir`, `log_path`.
    `parent_dir` is where the temp folder goes (default: /dev/shm if usable).
    """

    def __init__(
        self,
        bin_dir: Path | None = None,
        parent_dir: Path | None = None,
        settings: dict[str, str] | None = None,
    ):
        self.bin_dir = bin_dir
        self.parent_dir = parent_dir
        # Benchmarks pass durable settings here; tests keep the fast defaults.
        self.settings = {**TEST_SETTINGS, **(settings or {})}
        self.password = secrets.token_hex(16)
        self.port = 0
        self._root: Path | None = None
        self._names = itertools.count(1)

    # --- lifecycle -------------------------------------------------------------------

    def start(self) -> PostgresServer:
        """Create the cluster on first use, then start the server and wait until it is up.

        Raises `PostgresUnavailable` (with the server log) and cleans up on failure.
        """
        try:
            if self._root is None:
                self._create_cluster()
            self._pg_ctl("start", "-w", "-t", "60", "-l", str(self.log_path))
        except BaseException:
            self.close()
            raise
        return self

    def stop(self, mode: str = "fast") -> None:
        """Stop the server; `mode` is pg_ctl's: fast (clean) or immediate (like a crash)."""
        if self.is_running():
            self._pg_ctl("stop", "-w", "-m", mode)

    def is_running(self) -> bool:
        """Whether a postmaster owns the data folder (also true after a failed start)."""
        return self._root is not None and (self.data_dir / "postmaster.pid").exists()

    def restart(self) -> None:
        """Stop and start again on the same port; open client connections are cut."""
        self.stop("fast")
        self.start()

    def close(self) -> None:
        """Stop at once and delete the cluster folder. Safe to call twice."""
        try:
            self.stop("immediate")
        finally:
            if self._root is not None:
                shutil.rmtree(self._root, ignore_errors=True)
                self._root = None
            atexit.unregister(self.close)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.close()

    # --- connecting ------------------------------------------------------------------

    def url(self, dbname: str = "postgres", password: str | None = None) -> str:
        """A TCP URL for `dbname` as the superuser, with the right password by default."""
        secret = quote(self.password if password is None else password, safe="")
        return f"postgresql://{SUPERUSER}:{secret}@127.0.0.1:{self.port}/{dbname}"

    def admin_connection(self, dbname: str = "postgres") -> psycopg.Connection:
        """An autocommit superuser connection over the Unix socket (no password)."""
        return psycopg.connect(
            host=str(self.socket_dir),
            port=self.port,
            user=SUPERUSER,
            dbname=dbname,
            autocommit=True,
        )

    def create_database(self, name: str | None = None, *, ctype: str | None = "C.UTF-8") -> str:
        """Create an empty database and return its URL (about 20 ms on tmpfs).

        With a `ctype`, it is cloned from template0 with that LC_CTYPE and LC_COLLATE
        (for example "C", where pg_trgm finds no trigrams in CJK text); with None it
        is cloned from template1 and gets the cluster's locale, C.UTF-8.
        """
        name = name or f"test_{next(self._names)}"
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if ctype is not None:
            statement += sql.SQL(
                " TEMPLATE template0 ENCODING 'UTF8' LC_CTYPE {ctype} LC_COLLATE {ctype}"
            ).format(ctype=sql.Literal(ctype))
        with self.admin_connection() as admin:
            if admin.info.server_version >= 150000:
                # Copying files beats WAL-logging every page for a tiny template.
                statement += sql.SQL(" STRATEGY file_copy")
            admin.execute(statement)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop `name` if it exists, cutting any connections a test left open."""
        statement = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
        with self.admin_connection() as admin:
            admin.execute(statement.format(sql.Identifier(name)))

    # --- files and logs --------------------------------------------------------------

    @property
    def cluster_dir(self) -> Path:
        """Owned by the server user: holds the data folder, the socket and the log."""
        if self._root is None:
            raise RuntimeError("the cluster has not been created; call start() first")
        return self._root / "cluster"

    @property
    def data_dir(self) -> Path:
        return self.cluster_dir / "data"

    @property
    def socket_dir(self) -> Path:
        return self.cluster_dir

    @property
    def log_path(self) -> Path:
        return self.cluster_dir / "server.log"

    def read_log(self) -> str:
        """The server log so far, or "" when there is none yet."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except (OSError, RuntimeError):
            return ""

    # --- internals -------------------------------------------------------------------

    def _create_cluster(self) -> None:
        self.bin_dir = self.bin_dir or find_bin_dir()
        self.parent_dir = self.parent_dir or default_parent_dir()
        self._root = Path(tempfile.mkdtemp(prefix="ark-pg-", dir=self.parent_dir))
        atexit.register(self.close)  # in case the owner never reaches close()
        # The server user must be able to pass through the root-owned temp folder.
        self._root.chmod(0o711)
        self.cluster_dir.mkdir(mode=0o700)
        self._give_to_server_user(self.cluster_dir)
        self._initdb()
        self.port = free_port()
        self._write_settings()

    def _initdb(self) -> None:
        # The password goes through a file so it never shows in a process list.
        password_file = self.cluster_dir / "password"
        password_file.write_text(self.password, encoding="utf-8")
        self._give_to_server_user(password_file)
        try:
            self._run(
                "initdb",
                "-D", str(self.data_dir),
                "-U", SUPERUSER,
                "--pwfile", str(password_file),
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            )  # fmt: skip
        finally:
            password_file.unlink()

    def _write_settings(self) -> None:
        # In postgresql.conf rather than on the command line, so restart() keeps them.
        settings = {
            **self.settings,
            "port": str(self.port),
            "unix_socket_directories": f"'{self.socket_dir}'",
        }
        lines = "".join(f"{key} = {value}\n" for key, value in settings.items())
        with (self.data_dir / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write("\n# Ark Chat tests\n" + lines)

    def _give_to_server_user(self, path: Path) -> None:
        if _as_root():
            try:
                account = pwd.getpwnam(SERVER_USER)
            except KeyError:
                raise PostgresUnavailable(f"running as root but no {SERVER_USER!r} user") from None
            os.chown(path, account.pw_uid, account.pw_gid)

    def _pg_ctl(self, action: str, *options: str) -> None:
        self._run("pg_ctl", action, "-D", str(self.data_dir), *options)

    def _run(self, program: str, *args: str) -> None:
        """Run a PostgreSQL program, as the server user when we are root."""
        command = [str(self.bin_dir / program), *args]
        if _as_root():
            command = ["runuser", "-u", SERVER_USER, "--", *command]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as error:
            raise PostgresUnavailable(f"{program}: {error}", self.read_log()) from None
        if done.returncode != 0:
            output = (done.stderr + done.stdout).replace(self.password, "***").strip()
            raise PostgresUnavailable(f"{program} failed: {output}", self.read_log())
