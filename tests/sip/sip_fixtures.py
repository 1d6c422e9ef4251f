"""Real SIP over loopback: Kamailio as registrar/proxy (tests/sip/kamailio.cfg), phone processes, SIPp.

Every tool these tests need skips the test with the reason when it is missing, and fails it under
CI=true (.ci/run installs kamailio and sip-tester; pjsua2-python comes with the test extras).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def require_tool(name: str) -> str:
    """The path of an external program (or the name of an importable module, for ``py:NAME``);
    skips when it is absent, fails instead under CI=true."""
    if name.startswith("py:"):
        found = name[3:] if importlib.util.find_spec(name[3:]) else None
    else:
        found = shutil.which(name) or next(
            (p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.access(p, os.X_OK)), None
        )
    if found is None:
        problem = f"{name.removeprefix('py:')} is not installed (apt-get install kamailio sip-tester; pip install pjsua2-python)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {problem}")
        pytest.skip(problem)
    return found


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    """A port free for both UDP and TCP on 127.0.0.1."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                try:
                    t.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free port")


@dataclass
class Kamailio:
    port: int
    log: Path

    @property
    def registrar(self) -> str:
        return f"sip:127.0.0.1:{self.port}"

    def seat_uri(self, user: str) -> str:
        return f"sip:{user}@127.0.0.1:{self.port}"

    def count(self, marker: str) -> int:
        """How many times the script logged ``CSRTEST <marker>`` (e.g. "REGISTER 1001")."""
        return self.log.read_text(errors="replace").count(f"CSRTEST {marker}\n")


def _answers_options(port: int) -> bool:
    branch = "z9hG4bK" + uuid.uuid4().hex
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        local = s.getsockname()[1]
        msg = (
            f"OPTIONS sip:probe@127.0.0.1:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{local};branch={branch};rport\r\n"
            "Max-Forwards: 5\r\nFrom: <sip:probe@127.0.0.1>;tag=1\r\nTo: <sip:probe@127.0.0.1>\r\n"
            f"Call-ID: {uuid.uuid4().hex}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        )
        s.sendto(msg.encode(), ("127.0.0.1", port))
        s.settimeout(0.3)
        try:
            return s.recv(4096).startswith(b"SIP/2.0")
        except OSError:
            return False


@pytest.fixture
def kamailio(tmp_path) -> Kamailio:
    """Kamailio on a free loopback port, with a private run folder; stopped after the test."""
    binary = require_tool("kamailio")
    port = free_port()
    run = tmp_path / "kamailio"
    run.mkdir()
    log = run / "kamailio.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [binary, "-f", str(HERE / "kamailio.cfg"), "-DD", "-E", "-l", f"udp:127.0.0.1:{port}",
             "-l", f"tcp:127.0.0.1:{port}", "-Y", str(run), "-w", str(run), "-P", str(run / "pid")],
            stdout=out, stderr=out, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while not _answers_options(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("kamailio did not start:\n" + log.read_text(errors="replace")[-2000:])
        yield Kamailio(port, log)
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def phone_tools() -> None:
    """The phone process needs the pjsua2 wheel."""
    require_tool("py:pjsua2")
