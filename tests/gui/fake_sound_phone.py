"""A stand-in phone process for the Sound devices tests: it speaks the channel's JSON lines (docs/phone.md)
for what those tests need — ``ready`` then ``devices``, ``listen`` / ``register``, ``list_devices``
(re-read from a JSON file the test rewrites: a headset plugged in), ``set_devices``, ``quit`` — and
writes every command it gets to a log, one JSON line each. No pjsua2, no sound.

    python fake_sound_phone.py STATE.json LOG.jsonl

STATE.json: {"available": bool, "inputs": [...], "outputs": [...], "message": "..."}.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main(state_path: str, log_path: str) -> int:
    state_file, log = Path(state_path), Path(log_path)

    def emit(event: dict) -> None:
        sys.stdout.write(json.dumps({**event, "t": time.time()}) + "\n")
        sys.stdout.flush()

    def devices() -> dict:
        state = json.loads(state_file.read_text())
        return {k: state.get(k, d) for k, d in (("available", False), ("inputs", []), ("outputs", []),
                                                ("message", ""))}  # fmt: skip

    emit({"event": "ready", "pid": 0})
    emit({"event": "devices", **devices()})
    for line in sys.stdin:
        command = json.loads(line)
        with log.open("a") as f:
            f.write(json.dumps(command) + "\n")
        cmd, ref = command.get("cmd"), command.get("ref")
        if cmd == "quit":
            emit({"event": "stopped"})
            return 0
        if cmd == "list_devices":
            emit({"event": "ok", "ref": ref, **devices()})
        elif cmd == "listen":
            emit({"event": "ok", "ref": ref, "uri": command["address"]})
            emit({"event": "registration", "state": "listening", "address": command["address"],
                  "user": command["address"].split(":", 1)[1].split("@")[0]})  # fmt: skip
        elif cmd == "register":
            emit({"event": "ok", "ref": ref})
            emit({"event": "registration", "state": "registered", "user": command.get("user", "")})
        elif cmd == "set_devices":
            emit({"event": "ok", "ref": ref})
            for key, kind in (("input_device", "microphone"), ("output_device", "headset"),
                              ("ring_device", "ring device")):  # fmt: skip
                name = command.get(key) or ""
                if name and name not in devices()["inputs" if key == "input_device" else "outputs"]:
                    emit({"event": "device", "kind": kind, "found": False,
                          "message": f"The {kind} “{name}” is not on this PC; the phone uses the default."})  # fmt: skip
        else:
            emit({"event": "ok", "ref": ref})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
