"""A SQLite file that cannot be used gives a clear ChatError, and existing data is kept.
(PostgreSQL's failures are in test_postgres_faults.py.)

Everything happens to real files. Tests run as root here, and root ignores permissions,
so a read-only file or folder is made immutable (`chattr +i`) for root and loses its
write bits for anyone else; a full disk is a small tmpfs, and a file system that turns
read-only is a loop-mounted ext4 image told to fail. Tests that need root, or a tool
the machine lacks, are skipped with the reason.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chat_core.errors import (
    DatabaseLockedError,
    DatabaseReadOnlyError,
    DatabaseUnavailableError,
    NotADatabaseError,
)
from chat_core.store import Session, Store, connect
from locales import describe

IS_ROOT = os.geteuid() == 0


def test_a_file_that_is_not_a_database(tmp_path):
    path = tmp_path / "notes.db"
    path.write_text("these are my notes, not a database\n" * 100)
    with pytest.raises(NotADatabaseError) as info:
        connect(path)
    assert "not a valid chat database" in describe("en", info.value)
    assert path.read_text().startswith("these are my notes")


def test_a_path_whose_folder_cannot_be_created(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(DatabaseUnavailableError):
        connect(blocker / "sub" / "chat.db")


def test_a_path_that_is_a_folder(tmp_path):
    with pytest.raises(DatabaseUnavailableError, match="folder"):
        connect(tmp_path)


def test_a_path_with_characters_that_mean_something_in_a_uri(tmp_path):
    path = tmp_path / "my chats?mode=ro#1 100%" / "天 chat.db"
    with connect(path) as store:
        chat(store, "alice", "kept")
    assert sorted(p.name for p in path.parent.iterdir()) == ["天 chat.db"]
    assert contents(path, "alice") == ["kept"]


def test_default_style_path_creates_its_folder(tmp_path):
    path = tmp_path / "data" / "nested" / "chat.db"
    connect(path).close()
    assert path.exists()


# --- helpers --------------------------------------------------------------------------------


def chat(store: Store, owner: str, *texts: str) -> Session:
    session, _ = store.new_session(owner)
    for text in texts:
        store.start_turn(session, text)
    return session


def contents(path: Path, owner: str) -> list[str]:
    """Every message of `owner` in the database at `path`, opened afresh."""
    with connect(path) as store:
        sessions = store.list_sessions(owner)
        return [m.content for s in sessions for m in store.get_messages(s)]


def run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, check=False)


def needs_root_tools(*tools: str) -> None:
    if not IS_ROOT:
        pytest.skip("needs root")
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)}")


@contextlib.contextmanager
def immutable(path: Path) -> Iterator[None]:
    """`path` immutable (`chattr +i`): not even root may write it or, for a folder,
    create files in it. Files already open for writing stay writable, except on ext4."""
    needs_root_tools("chattr")
    if run("chattr", "+i", str(path)).returncode:
        pytest.skip(f"chattr +i does not work on {path}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """`path` read-only for this process: immutable for root, no write bits otherwise."""
    if IS_ROOT:
        with immutable(path):
            yield
        return
    mode = path.stat().st_mode
    path.chmod(mode & ~0o222)
    try:
        yield
    finally:
        path.chmod(mode)


@contextlib.contextmanager
def mounted(source: str, target: Path, *options: str) -> Iterator[Path]:
    """`mount` for the test; unmounted lazily afterwards, even if a store stayed open."""
    target.mkdir()
    result = run("mount", *options, source, str(target))
    if result.returncode:
        pytest.skip(f"cannot mount here: {result.stderr.strip()}")
    try:
        yield target
    finally:
        if run("umount", str(target)).returncode:
            subprocess.run(["umount", "--lazy", str(target)], check=True)


@pytest.fixture
def small_disk(tmp_path) -> Iterator[Path]:
    """A folder on a 4 MB tmpfs."""
    needs_root_tools("mount")
    with mounted("tmpfs", tmp_path / "disk", "-t", "tmpfs", "-o", "size=4m") as folder:
        yield folder


@pytest.fixture
def ext4_disk(tmp_path) -> Iterator[Path]:
    """A folder on an 8 MB ext4 image, mounted to turn read-only on its first error."""
    needs_root_tools("mount", "mkfs.ext4", "findmnt")
    image = tmp_path / "disk.img"
    with image.open("wb") as file:
        file.truncate(8 * 1024 * 1024)
    subprocess.run(["mkfs.ext4", "-q", str(image)], check=True)
    with mounted(str(image), tmp_path / "disk", "-o", "loop,errors=remount-ro") as folder:
        yield folder


def fail_file_system(folder: Path) -> None:
    """Make ext4 under `folder` hit an error, so it turns read-only as a failing disk does."""
    device = run("findmnt", "-n", "-o", "SOURCE", "--target", str(folder)).stdout.strip()
    trigger = Path("/sys/fs/ext4") / Path(device).name / "trigger_fs_error"
    if not trigger.exists():
        pytest.skip(f"this kernel has no {trigger}")
    trigger.write_text("test\n")
    with pytest.raises(OSError):  # EROFS
        (folder / "probe").touch()


def fill(folder: Path) -> Path:
    """Fill the file system of `folder` to the last byte; returns the filler file."""
    filler = folder / "filler"
    block = b"\0" * 65536
    with filler.open("wb", buffering=0) as file:
        with contextlib.suppress(OSError):
            while True:
                file.write(block)
        with contextlib.suppress(OSError):
            while True:
                file.write(b"\0")
    return filler


def wait_until(condition, seconds: float = 10.0) -> bool:
    """Poll `condition` until it holds or `seconds` pass (a wait, not a timing check)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


# --- read-only files and folders, a full or failing disk ------------------------------------


def test_a_read_only_database(tmp_path):
    path = tmp_path / "chat.db"
    with connect(path) as store:
        chat(store, "alice", "keep me")
    with read_only(path), connect(path) as store:
        assert len(store.list_sessions("alice")) == 1  # browsing still works
        with pytest.raises(DatabaseReadOnlyError) as info:
            store.new_session("bob")
    assert info.value.code == "database_file_read_only"
    assert "read-only" in describe("en", info.value)
    assert contents(path, "alice") == ["keep me"]


def test_a_read_only_folder_is_named(tmp_path):
    folder = tmp_path / "data"
    path = folder / "chat.db"
    with connect(path) as store:
        chat(store, "alice", "keep me")
    before = path.read_bytes()
    with read_only(folder), pytest.raises(DatabaseReadOnlyError) as info:
        connect(path)
    assert info.value.code == "database_folder_read_only"
    assert info.value.params["folder"] == str(folder)
    for lang in ("en", "zh"):
        assert str(folder) in describe(lang, info.value)
    assert "folder" in describe("en", info.value)
    assert path.read_bytes() == before
    assert contents(path, "alice") == ["keep me"]


def test_a_folder_made_read_only_mid_session_keeps_working(tmp_path):
    folder = tmp_path / "data"
    path = folder / "chat.db"
    with connect(path) as store:
        session = chat(store, "alice", "before")
        with read_only(folder):
            # SQLite's three files are open already; it needs no new one in the folder.
            store.start_turn(session, "while read-only")
            assert store.count_messages(session) == 2
    assert contents(path, "alice") == ["before", "while read-only"]


def test_a_file_system_turning_read_only_mid_session(ext4_disk):
    path = ext4_disk / "data" / "chat.db"
    store = connect(path)
    try:
        session = chat(store, "alice", "saved before")
        store.backend.checkpoint()
        os.sync()
        fail_file_system(ext4_disk)
        with pytest.raises(DatabaseReadOnlyError) as info:
            store.start_turn(session, "written on a read-only disk")
        assert info.value.code == "database_folder_read_only"
        assert str(path.parent) in describe("en", info.value)
        assert [m.content for m in store.get_messages(session)] == ["saved before"]
    finally:
        store.close()
    assert contents(path, "alice") == ["saved before"]  # read from the read-only disk


def test_the_disk_filling_during_a_write(small_disk):
    path = small_disk / "chat.db"
    with connect(path) as store:
        session = chat(store, "alice", "saved before")
        filler = fill(small_disk)
        with pytest.raises(DatabaseUnavailableError) as info:
            store.start_turn(session, "x" * 90_000)
        assert info.value.code == "database_disk_full"
        assert "full" in describe("en", info.value)
        assert store.count_messages(session) == 1
        filler.unlink()
        store.start_turn(session, "after space was freed")
    assert contents(path, "alice") == ["saved before", "after space was freed"]


def immutable_blocks_open_files(folder: Path) -> bool:
    """Whether writes through a descriptor opened before `chattr +i` fail (ext4: yes)."""
    probe = folder / "probe"
    with probe.open("wb", buffering=0) as file, immutable(probe):
        try:
            file.write(b"x")
        except OSError:
            return True
    return False


def test_a_disk_error_while_writing(tmp_path):
    if not immutable_blocks_open_files(tmp_path):
        pytest.skip("this file system lets open files be written after chattr +i")
    path = tmp_path / "chat.db"
    with connect(path) as store:
        session = chat(store, "alice", "saved before")
        # The next append to SQLite's log fails (EPERM) as on a failing disk.
        with immutable(Path(f"{path}-wal")):
            with pytest.raises(DatabaseUnavailableError) as info:
                store.start_turn(session, "lost to the disk")
            assert [m.content for m in store.get_messages(session)] == ["saved before"]
        assert info.value.code == "database_io_error"
        assert "disk error" in describe("en", info.value)
        store.start_turn(session, "after the disk recovered")
    assert contents(path, "alice") == ["saved before", "after the disk recovered"]


# --- the file deleted, moved or replaced while the app runs ---------------------------------


def test_a_database_file_deleted_while_open(tmp_path):
    path = tmp_path / "chat.db"
    with connect(path) as store:
        session = chat(store, "alice", "saved before")
        path.unlink()
        for action in (
            lambda: store.start_turn(session, "lost"),
            lambda: store.list_sessions("alice"),
        ):
            with pytest.raises(DatabaseUnavailableError) as info:
                action()
            assert info.value.code == "database_file_deleted"
            for lang in ("en", "zh"):
                assert str(path) in describe(lang, info.value)
        assert not path.exists()  # not silently re-created empty
    # Opening it again is starting anew on purpose: an empty database, working normally.
    with connect(path) as store:
        assert store.list_sessions("alice") == []
        chat(store, "alice", "a new start")
    assert contents(path, "alice") == ["a new start"]


def test_a_database_file_moved_away_keeps_everything(tmp_path):
    path = tmp_path / "chat.db"
    aside = tmp_path / "moved.db"
    with connect(path) as store:
        session = chat(store, "alice", "one", "two")
        path.rename(aside)
        with pytest.raises(DatabaseUnavailableError, match="database_file_deleted"):
            store.start_turn(session, "lost")
    # What was still in the write-ahead log went into the moved file, not the log left
    # next to the old path.
    assert contents(aside, "alice") == ["one", "two"]


def test_a_database_file_moved_back_works_again(tmp_path):
    path = tmp_path / "chat.db"
    aside = tmp_path / "moved.db"
    with connect(path) as store:
        session = chat(store, "alice", "before")
        path.rename(aside)
        with pytest.raises(DatabaseUnavailableError):
            store.start_turn(session, "while away")
        aside.rename(path)
        store.start_turn(session, "after it came back")
    assert contents(path, "alice") == ["before", "after it came back"]


def swap_in_another_database(path: Path) -> None:
    """Put a database of bob's at `path`, the way a user swaps files: rename over it."""
    other = path.with_name("other.db")
    with connect(other) as store:
        chat(store, "bob", "bob's")
    other.replace(path)


def test_a_database_file_replaced_while_open(tmp_path):
    path = tmp_path / "chat.db"
    with connect(path) as store:
        session = chat(store, "alice", "alice's")
        swap_in_another_database(path)
        for action in (
            lambda: store.start_turn(session, "lost"),
            lambda: store.list_sessions("alice"),
        ):
            with pytest.raises(DatabaseUnavailableError) as info:
                action()
            assert info.value.code == "database_file_replaced"
            for lang in ("en", "zh"):
                assert str(path) in describe(lang, info.value)
    # The old file's log was emptied, so SQLite replays none of alice's pages over bob's.
    assert contents(path, "bob") == ["bob's"]
    assert contents(path, "alice") == []
    with contextlib.closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_a_replaced_file_is_let_go_of_while_idle(tmp_path):
    path = tmp_path / "chat.db"
    wal = Path(f"{path}-wal")
    with connect(path) as old:
        chat(old, "alice", "alice's")
        swap_in_another_database(path)
        # No call reaches the old store: its background thread notices on its own.
        assert wait_until(lambda: wal.stat().st_size == 0)
        with connect(path) as new:  # another app on the new file, the old one still up
            session = new.list_sessions("bob")[0]
            new.start_turn(session, "bob's second")
            assert new.list_sessions("alice") == []
    assert contents(path, "bob") == ["bob's", "bob's second"]


# --- a lock held by another process ---------------------------------------------------------

LOCKER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.readline()  # hold the lock until the test says so
conn.execute("ROLLBACK")
"""


@contextlib.contextmanager
def locked_by_another_process(path) -> Iterator[subprocess.Popen]:
    """The database at `path` locked by another process until the block ends."""
    locker = subprocess.Popen(
        [sys.executable, "-c", LOCKER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert locker.stdout.readline().strip() == "locked"
        yield locker
    finally:
        locker.communicate("release\n", timeout=10)
    assert locker.returncode == 0


def test_a_database_locked_longer_than_the_busy_timeout(tmp_path):
    path = tmp_path / "chat.db"
    with connect(path) as store:
        session = chat(store, "alice", "already saved")
    with locked_by_another_process(path) as locker:
        with connect(path, busy_timeout=0.3) as store, pytest.raises(DatabaseLockedError) as info:
            store.start_turn(session, "written while locked")
        # The store gave up on its own: the locker holds the lock until told to let go.
        assert locker.poll() is None
        assert "try again" in describe("en", info.value)
    with connect(path) as store:
        assert [m.content for m in store.get_messages(session)] == ["already saved"]
        store.start_turn(session, "after the lock")
        assert store.count_messages(session) == 2
