"""How the app is served: `streamlit run` with the repository's own configuration
listens on this machine's loopback address only."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from tests.browser_support import free_port, wait_for_health

ROOT = Path(__file__).resolve().parent.parent


def listening_addresses(port: int) -> list[str]:
    """The local addresses of the sockets listening on `port` (Linux /proc/net)."""
    found = []
    for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, port_hex = local.split(":")
            if state == "0A" and int(port_hex, 16) == port:  # 0A: LISTEN
                raw = bytes.fromhex(address)
                # /proc writes each 32-bit word of the address in host (little-endian) order
                words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
                found.append(socket.inet_ntop(family, words))
    return found


def test_the_app_listens_on_the_loopback_address_only(tmp_path):
    port = free_port()
    log_path = tmp_path / "server.log"
    command = [sys.executable, "-m", "streamlit", "run", "streamlit_app.py"]
    command += ["--server.port", str(port), "--server.fileWatcherType", "none"]
    env = dict(os.environ, CHAT_DB=str(tmp_path / "chat.db"))
    env.pop("STREAMLIT_SERVER_ADDRESS", None)  # the configuration file's choice, not the caller's
    with open(log_path, "wb") as log:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
    try:
        wait_for_health(f"http://127.0.0.1:{port}", server, log_path)
        assert listening_addresses(port) == ["127.0.0.1"]
    finally:
        server.terminate()
        server.wait(15)
