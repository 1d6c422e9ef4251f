"""The PyInstaller bundle: build.spec builds a one-folder `csr-console` whose --self-test passes.

Slow (a full PyInstaller build, about a minute on two cores); CI runs it. See docs/packaging.md.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("PyInstaller", reason="PyInstaller is not installed (pip install -e '.[test]')")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "build.spec"
NAME = "csr-console"
BUILD_TIMEOUT_S = 600
SELF_TEST_TIMEOUT_S = 120
# Today about 185 MB on Linux. The budget catches an excluded Qt module (QtWebEngine alone is
# ~200 MB) or a test tool creeping back in, while leaving room for platform differences.
SIZE_BUDGET_MB = 300


def _tail(text: str | bytes | None, lines: int = 60) -> str:
    if isinstance(text, bytes):  # TimeoutExpired keeps raw bytes even with text=True
        text = text.decode(errors="replace")
    return "\n".join((text or "").splitlines()[-lines:])


def _folder_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink()) / 1e6


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the bundle once for this module; returns its folder."""
    out = tmp_path_factory.mktemp("bundle")
    log = out / "build.log"
    cmd = [
        sys.executable,
        "-m",
        "PyInstaller",
        "--noconfirm",
        "--clean",
        "--distpath",
        str(out / "dist"),
        "--workpath",
        str(out / "work"),
        str(SPEC),
    ]
    started = time.monotonic()
    try:
        with log.open("w", encoding="utf-8") as fh:
            proc = subprocess.run(
                cmd, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT, timeout=BUILD_TIMEOUT_S, check=False
            )
    except subprocess.TimeoutExpired:
        pytest.fail(
            f"PyInstaller did not finish in {BUILD_TIMEOUT_S} s. Build log tail:\n"
            f"{_tail(log.read_text(encoding='utf-8', errors='replace'))}"
        )
    elapsed = time.monotonic() - started
    if proc.returncode != 0:
        pytest.fail(
            f"PyInstaller failed (exit {proc.returncode}) after {elapsed:.0f} s: "
            f"{' '.join(cmd)}\nBuild log tail:\n"
            f"{_tail(log.read_text(encoding='utf-8', errors='replace'))}"
        )
    folder = out / "dist" / NAME
    print(f"\nbundle built in {elapsed:.0f} s: {folder} ({_folder_mb(folder):.0f} MB)")
    return folder


def _executable(folder: Path) -> Path:
    return folder / (f"{NAME}.exe" if sys.platform == "win32" else NAME)


def test_self_test_passes_inside_the_bundle(bundle: Path, tmp_path: Path) -> None:
    exe = _executable(bundle)
    assert exe.is_file(), f"no executable at {exe}; bundle holds {sorted(p.name for p in bundle.iterdir())}"
    # Run from outside the checkout, without the dev venv's Python settings, so the bundle can only
    # use what it carries.
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"}}
    env["QT_QPA_PLATFORM"] = "offscreen"
    try:
        proc = subprocess.run(
            [str(exe), "--self-test"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=SELF_TEST_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(
            f"`{exe.name} --self-test` hung for {SELF_TEST_TIMEOUT_S} s.\n"
            f"stdout:\n{_tail(exc.stdout)}\nstderr:\n{_tail(exc.stderr)}"
        )
    report = (
        f"`{exe.name} --self-test` exited {proc.returncode}.\n"
        f"stdout:\n{_tail(proc.stdout)}\nstderr:\n{_tail(proc.stderr)}"
    )
    assert proc.returncode == 0, report
    assert "self-test: OK" in proc.stdout, report


def test_bundle_carries_its_data_and_leaves_unused_modules_out(bundle: Path) -> None:
    internal = bundle / "_internal"
    files = {p.relative_to(internal).as_posix() for p in internal.rglob("*") if p.is_file()}
    # alembic reads these from disk at runtime; the console can't create its cache without them.
    for needed in (
        "models/migrations/env.py",
        "models/migrations/versions/0001_initial.py",
        "resources/themes/console.qss",
        "faker/providers/person/en_US/__init__.py",
    ):
        assert needed in files, f"{needed} is missing from the bundle"
    assert any(f.startswith("csr_console-") and f.endswith(".dist-info/METADATA") for f in files), (
        "the bundle has no csr-console metadata, so the About box would show 'dev'"
    )
    unwanted = sorted(
        f
        for f in files
        if f.split("/")[0] in {"pytest", "_pytest", "psycopg", "tkinter"}
        or any(f"/{m}." in f for m in ("QtNetwork", "QtQml", "QtQuick", "QtWebEngineCore"))
    )
    assert not unwanted, f"excluded modules made it into the bundle: {unwanted[:10]}"
    size = _folder_mb(bundle)
    assert size < SIZE_BUDGET_MB, (
        f"the bundle is {size:.0f} MB, over the {SIZE_BUDGET_MB} MB budget; "
        "check build.spec's excludes against the build log"
    )


def test_the_bundle_has_the_phone(bundle: Path, tmp_path: Path) -> None:
    """`csr-console phone` inside the bundle: pjsua2 and its libraries came along (build.spec), the
    endpoint starts with the null audio device, says ready, and leaves on quit."""
    pytest.importorskip("pjsua2", reason="the pjsua2 wheel is not installed: the build has no phone")
    import json

    internal = bundle / "_internal"
    assert any(p.name.startswith("_pjsua2") for p in (internal / "pjsua2").iterdir())
    assert any((internal / "pjsua2_python.libs").glob("libssl*"))
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"}}

    def phone(*args: str) -> tuple[int, list[dict], str]:
        """The bundle's phone, told to quit at once: its exit code, its events and a report."""
        proc = subprocess.run(
            [str(_executable(bundle)), "phone", *args, "--bind", "127.0.0.1"],
            cwd=tmp_path,
            env=env,
            input='{"cmd": "quit"}\n',
            capture_output=True,
            text=True,
            errors="replace",
            timeout=60,
            check=False,
        )
        lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
        report = f"exit {proc.returncode}\nstdout:\n{_tail(proc.stdout)}\nstderr:\n{_tail(proc.stderr)}"
        return proc.returncode, lines, report

    code, lines, report = phone("--null-audio")
    events = [e["event"] for e in lines]
    assert code == 0 and events[:1] == ["ready"] and "stopped" in events, report

    # With sound: PortAudio's binding came along and finds the system's library (docs/phone.md "Sound").
    code, lines, report = phone()
    devices = next((e for e in lines if e["event"] == "devices"), None)
    assert code == 0 and devices is not None, report
    if importlib.util.find_spec("sounddevice") and _portaudio_installed():
        assert devices["available"] is True, report


def _portaudio_installed() -> bool:
    import ctypes.util

    return ctypes.util.find_library("portaudio") is not None
