"""Kamailio on loopback for the phone tests and `csr-bench phone`: the in-memory registrar/proxy of
tests/sip/kamailio.cfg on a free port with a private run folder (needs a source checkout)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

CONFIG = Path(__file__).resolve().parents[1] / "tests" / "sip" / "kamailio.cfg"


def find_kamailio() -> str | None:
    return shutil.which("kamailio") or next(
        (p for p in ("/usr/sbin/kamailio", "/usr/local/sbin/kamailio") if Path(p).exists()), None
    )


def find_kamailio_tls() -> str | None:
    """Kamailio's TLS module (Debian: kamailio-tls-modules), which the TLS listener needs."""
    dirs = ("/usr/lib/x86_64-linux-gnu/kamailio/modules", "/usr/lib/kamailio/modules", "/usr/local/lib64/kamailio/modules",
            "/usr/local/lib/kamailio/modules", "/usr/lib64/kamailio/modules")  # fmt: skip
    return next((f"{d}/tls.so" for d in dirs if Path(d, "tls.so").exists()), None)


def free_port() -> int:
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


def answers_options(port: int) -> bool:
    """Whether something answers a SIP OPTIONS on 127.0.0.1:port within 0.3 s."""
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


@dataclass
class Kamailio:
    port: int
    log: Path
    proc: subprocess.Popen
    tls_port: int | None = None  # with a TLS listener (start_kamailio's ``tls``)

    @property
    def tls_registrar(self) -> str:
        return f"sip:127.0.0.1:{self.tls_port}"

    @property
    def registrar(self) -> str:
        return f"sip:127.0.0.1:{self.port}"

    def seat_uri(self, user: str) -> str:
        return f"sip:{user}@127.0.0.1:{self.port}"

    def count(self, marker: str) -> int:
        """How many times the script logged ``CSRTEST <marker>`` (e.g. "REGISTER 1001")."""
        return self.log.read_text(errors="replace").count(f"CSRTEST {marker}\n")

    def stop(self) -> None:
        """Stop Kamailio and the workers it forked: they share its own process group (started with
        ``start_new_session``), so the whole group gets SIGTERM, then SIGKILL after 5 s."""
        pgid = self.proc.pid  # its own session: the group id is its pid
        _signal_group(pgid, signal.SIGTERM)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            _signal_group(pgid, signal.SIGKILL)
            self.proc.wait()
        # Workers may outlive the main process for a moment: make sure none is left.
        deadline = time.monotonic() + 5
        while _group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _group_alive(pgid):
            _signal_group(pgid, signal.SIGKILL)


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass  # already gone


def _group_alive(pgid: int) -> bool:
    """Whether a live (not zombie) process of the group remains; /proc when there is one."""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # it ended while we looked
        if int(fields[2]) == pgid and fields[0] != "Z":  # state, ppid, pgrp
            return True
    return False


def start_kamailio(binary: str, run: Path, *, tls: tuple[Path, Path] | None = None) -> Kamailio:
    """Start Kamailio in the foreground (-DD -E) with its run and work folder in ``run``. ``tls``:
    (certificate chain PEM, private key PEM) — also listen for TLS on another free port (the config's
    WITH_TLS variant; needs Debian's kamailio-tls-modules)."""
    run.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = run / "kamailio.log"
    extra: list[str] = []
    tls_port = None
    if tls is not None:
        tls_port = free_port()
        tls_cfg = run / "tls.cfg"
        tls_cfg.write_text(
            "[server:default]\nmethod = TLSv1.2+\nverify_certificate = no\nrequire_certificate = no\n"
            f"certificate = {tls[0]}\nprivate_key = {tls[1]}\n\n"
            "[client:default]\nmethod = TLSv1.2+\nverify_certificate = no\nrequire_certificate = no\n"
        )
        extra = ["-A", "WITH_TLS", "-A", f'TLS_CONFIG="{tls_cfg}"', "-l", f"tls:127.0.0.1:{tls_port}"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [binary, "-f", str(CONFIG), "-DD", "-E", "-l", f"udp:127.0.0.1:{port}",
             "-l", f"tcp:127.0.0.1:{port}", *extra, "-Y", str(run), "-w", str(run), "-P", str(run / "pid")],
            stdout=out, stderr=out, stdin=subprocess.DEVNULL,
            start_new_session=True,  # its forked workers share its group: stop() ends them all
        )  # fmt: skip
    kamailio = Kamailio(port, log, proc, tls_port)
    deadline = time.monotonic() + 10
    while not answers_options(port):
        if proc.poll() is not None or time.monotonic() > deadline:
            kamailio.stop()
            raise RuntimeError("kamailio did not start:\n" + log.read_text(errors="replace")[-2000:])
    return kamailio
