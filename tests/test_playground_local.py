"""`make run`'s Teams emulators: started as scripts/run-local starts them, they listen on loopback
only (they drive an unauthenticated bot as whoever they sign in), and there is one for each role
in roles.example.toml."""

import os
import shutil
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
START = ROOT / "scripts" / "playground" / "start"
PLAYGROUND = ROOT / "node_modules" / ".bin" / "agentsplayground"
sys.path.insert(0, str(START.parent))
from config import PEOPLE, config  # noqa: E402

LISTEN = "0A"  # TCP_LISTEN in /proc/net/tcp


def _listening(pid: int) -> list[tuple[str, int]]:
    """(address, port) of each TCP socket `pid` listens on, read from /proc."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = []
    for table, width in (("tcp", 8), ("tcp6", 32)):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == LISTEN and fields[9] in inodes:
                address, port = fields[1].split(":")
                found.append((_address(address, width), int(port, 16)))
    return found


def _address(hexed: str, width: int) -> str:
    raw = bytes.fromhex(hexed)
    # /proc prints each 32-bit word in host (little-endian) order.
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    if width == 8:
        return ".".join(str(b) for b in words)
    return words.hex(":", 2)


def _is_loopback(address: str) -> bool:
    return address.startswith("127.") or address in {
        "0000:0000:0000:0000:0000:0000:0000:0001",
        "0000:0000:0000:0000:0000:ffff:7f00:0001",
    }


@pytest.fixture
def node() -> None:
    if shutil.which("node") is None or not PLAYGROUND.exists():
        reason = "the Teams emulator needs node and npm install"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    if not Path("/proc/self/net/tcp").exists():
        pytest.skip("listening sockets are read from Linux's /proc")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_emulator_listens_on_loopback_only(node: None, tmp_path: Path) -> None:
    port = _free_port()
    out = (tmp_path / "out").open("w")
    process = subprocess.Popen(
        [str(START), "keeper", str(port), "http://127.0.0.1:9/api/messages", str(tmp_path / "home")],
        stdin=subprocess.DEVNULL,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not (sockets := _listening(process.pid)) and time.monotonic() < deadline:
            assert process.poll() is None, (tmp_path / "out").read_text()
            time.sleep(0.2)
        time.sleep(1)  # anything else it opens after its page
        sockets = _listening(process.pid)
        assert ("127.0.0.1", port) in sockets, (tmp_path / "out").read_text()
        assert all(_is_loopback(address) for address, _ in sockets), sockets
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_there_is_an_emulator_for_every_role_in_the_example_roles() -> None:
    roles = tomllib.loads((ROOT / "roles.example.toml").read_text())
    named = {m for area in roles["service_areas"].values() for m in area["managers"]}
    named |= {person for people in roles["roles"].values() for person in people}
    emails = {p.email for p in PEOPLE}
    assert named <= emails
    assert any(p.email not in named for p in PEOPLE), "someone to be plain staff"
    for person in PEOPLE:
        made = config(person.who)
        assert f"email: {person.email}" in made.split("users:")[0]
        assert made.count("  - id: 29:") == 5  # the emulator refuses more or fewer


def test_run_local_starts_the_emulators_through_the_loopback_script() -> None:
    script = (ROOT / "scripts" / "run-local").read_text()
    assert "scripts/playground/start" in script and "agentsplayground" not in script.replace(
        "node_modules/.bin/agentsplayground", ""
    )
    assert all(p.who in script for p in PEOPLE if p.who != "panel2")
