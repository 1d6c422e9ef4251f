"""The phone process (`csr-console phone`): one pjsua2 Endpoint, driven by JSON lines on stdin/stdout.

It runs apart from the console so that a fault in native code (pjsua2 aborts the process on misuse)
never takes the console down; console/phone_controller.py starts it, watches it and restarts it.

Threading: poll mode only (``threadCnt = 0``, ``mainThreadOnly = True``). Every pjsua2 callback runs
inside ``libHandleEvents`` on this process's one thread, so no other thread ever touches pjsua2 (an
unregistered thread calling it aborts the process). Commands are read between polls.

Fd 1 is moved to stderr before pjsua2 loads so a stray native print can never corrupt the channel.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import select
import sys
import time
from typing import Any

from .phone_protocol import BadCommand, decode_command, encode, listen_address
from .softphone_audio import Sound, load_sounddevice, make_port_class

POLL_MS = 5  # libHandleEvents' wait: bounds the delay of a command behind a quiet network
REGISTER_PATIENCE_S = 4.0  # after this, "the registrar is not answering" (pjsip keeps its own timer)
_CALL_HEADER = re.compile(r"^(X-CSR-Call-Sid):\s*(\S+)", re.IGNORECASE | re.MULTILINE)
_DIAL_HEADER = re.compile(r"^(X-CSR-Dial):\s*(\S+)", re.IGNORECASE | re.MULTILINE)
NULL_DEVICE = "null audio device"
CODEC_PRIORITY = {"G722/16000/1": 133, "PCMU/8000/1": 132, "PCMA/8000/1": 131}
RING_TONE = (440, 480, 2000, 4000)  # Hz, Hz, ms on, ms off: the North American ring, looped
# Where a CA bundle usually is when no CA file is given (Debian/Ubuntu, Fedora/RHEL, openSUSE, Alpine).
SYSTEM_CA_FILES = (
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
)


def system_ca_file() -> str:
    """The system's CA bundle ("" when this PC has none of the usual ones)."""
    return next((p for p in SYSTEM_CA_FILES if os.path.isfile(p)), "")


def _peek_ref(line: bytes) -> Any:
    """The command's ref, even when the rest of it is wrong (so the error reaches its asker)."""
    try:
        message = json.loads(line)
    except ValueError:
        return None
    return message.get("ref") if isinstance(message, dict) else None


def _rss_mb() -> float:
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return round(pages * os.sysconf("SC_PAGE_SIZE") / 1_048_576, 1)
    except (OSError, ValueError):
        import resource

        return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


class Phone:
    """The seat: endpoint, account, calls; every method runs on the one polling thread."""

    def __init__(
        self, out_fd: int, *, null_audio: bool, bind: str, log_level: int, ca_file: str = ""
    ) -> None:
        import pjsua2 as pj

        self.pj = pj
        self.out_fd = out_fd
        self.null_audio = null_audio
        self.bind = bind
        self.ca_file = ca_file  # --ca-file / CSR_SIP_CA_FILE: checks a TLS registrar's certificate
        self.tls_problem = ""  # why the last TLS connection was refused (told instead of "not answering")
        # Sound (docs/phone.md "Sound"): pjsua2 always runs on its null device; without --null-audio
        # each sound device is bridged by a port of ours and a PortAudio stream (sync/softphone_audio.py).
        self.sound: Sound | None = None
        self.sound_problem = ""  # why there is no sound at all (PortAudio missing), told once per seat
        self.ports: dict[str, Any] = {}  # role → the AudioMediaPort bridging that device
        self.port_class: Any = None
        self.tone: Any = None  # the ToneGenerator while a call rings
        self.tone_sink: Any = None  # where the tone goes (the ring's port, or the null device's slot)
        self.ring_role = ""  # the sound route the ring plays on ("ring" or "headset"), with sound
        self.devices_wanted = ("", "", "")  # the seat's microphone, headset and ring device names
        self.sound_told = False  # "no sound on this PC" said (once a seat)
        self.ringing: str = ""  # the phone's id of the ringing call
        self.ring_where = ""  # the device it rings on (told in the "ring" event)
        self.ring_since: float | None = None  # until the "ring" event is sent (time.monotonic())
        self.calls: dict[str, Any] = {}
        self.account: Any = None
        self.account_info: dict[str, Any] = {}
        self.transports: dict[str, int] = {}
        self.register_sent_at: float | None = None
        self.drop_account_soon = False
        self.next_id = 0
        self.running = True
        self.ep = _make_endpoint_class(pj)(self)
        self.ep.libCreate()
        cfg = pj.EpConfig()
        cfg.uaConfig.threadCnt = 0
        cfg.uaConfig.mainThreadOnly = True
        cfg.uaConfig.userAgent = "CSR Console phone"
        cfg.logConfig.level = log_level
        cfg.logConfig.consoleLevel = log_level
        cfg.medConfig.threadCnt = 0
        self.ep.libInit(cfg)
        # Always the null device: its clock drives the conference bridge, and a build of pjsua2 that
        # has a sound backend of its own must not open the headset under our streams.
        self.ep.audDevManager().setNullDev()
        if not null_audio:
            sd, self.sound_problem = load_sounddevice()
            if sd is not None:
                self.sound = Sound(sd)
                self.port_class = make_port_class(pj)
        self._transport("udp")
        self.ep.libStart()
        # G.722 (wideband) and G.711 before speex, pjsua's own first choice: G.711 is what the phone
        # companies' gateways speak (no transcoding), and speex distorts tones (DTMF in-band, holds).
        for codec, priority in CODEC_PRIORITY.items():
            try:
                self.ep.codecSetPriority(codec, priority)
            except pj.Error:
                pass  # a build without that codec

    # --- the channel -------------------------------------------------------------------------
    def emit(self, event: str, **fields: Any) -> None:
        fields = {"event": event, **fields, "t": time.time()}
        os.write(self.out_fd, encode(fields))

    def handle_line(self, line: bytes) -> None:
        ref = _peek_ref(line)
        try:
            command = decode_command(line)
            result = getattr(self, "cmd_" + command["cmd"])(command)
            self.emit("ok", cmd=command["cmd"], ref=ref, **(result or {}))
        except BadCommand as exc:
            self.emit("error", ref=ref, message=str(exc))
        except self.pj.Error as exc:
            self.emit("error", ref=ref, message=f"The phone could not do that: {exc.reason} ({exc.status}).")

    # --- transports and registration ----------------------------------------------------------
    def _transport(self, kind: str, ca_file: str = "") -> int:
        """The transport of that kind (made once). TLS always verifies the server's certificate against
        ``ca_file`` (a transport per CA file): TLS 1.2, the bundled OpenSSL 1.0.2k's newest."""
        key = f"tls:{ca_file}" if kind == "tls" else kind
        if key not in self.transports:
            pj = self.pj
            tcfg = pj.TransportConfig()
            tcfg.port = 0
            tcfg.boundAddress = self.bind
            ptype = {
                "udp": pj.PJSIP_TRANSPORT_UDP,
                "tcp": pj.PJSIP_TRANSPORT_TCP,
                "tls": pj.PJSIP_TRANSPORT_TLS,
            }[kind]
            if kind == "tls":
                tls = pj.TlsConfig()
                tls.method = pj.PJSIP_TLSV1_2_METHOD
                tls.CaListFile = ca_file  # pjsua2 spells it with a capital C
                tls.verifyServer = True
                tcfg.tlsConfig = tls
            self.transports[key] = self.ep.transportCreate(ptype, tcfg)
        return self.transports[key]

    def _tls_ca_file(self, command: dict[str, Any], user: str) -> str:
        """The CA file a TLS registrar's certificate is checked against: the command's ``ca_file``,
        else --ca-file / CSR_SIP_CA_FILE, else the system's bundle; a clear refusal when none is usable."""
        ca_file = str(command.get("ca_file") or self.ca_file or "")
        problem = ""
        if ca_file and not os.path.isfile(ca_file):
            problem = (
                f"The CA file “{ca_file}” for the TLS registrar is not there: the phone did not sign in."
            )
        elif not ca_file:
            ca_file = system_ca_file()
            if not ca_file:
                problem = (
                    "This PC has no CA certificates to check the TLS registrar against: set "
                    "CSR_SIP_CA_FILE to a CA file (PEM). The phone did not sign in."
                )
        if problem:
            self.emit("registration", state="failed", code=0, user=user, message=problem)
            raise BadCommand(problem)
        return ca_file

    def cmd_register(self, command: dict[str, Any]) -> dict[str, Any]:
        pj = self.pj
        self._drop_account()
        self.drop_account_soon = False
        transport = str(command.get("transport") or "udp").lower()
        registrar = str(command["registrar"])
        user = str(command["user"])
        domain = str(command.get("domain") or registrar.split(":", 1)[1].split(";")[0].split(":")[0])
        ca_file = self._tls_ca_file(command, user) if transport == "tls" else ""
        tid = self._transport(transport, ca_file)
        self.tls_problem = ""
        acfg = pj.AccountConfig()
        acfg.idUri = f"sip:{user}@{domain}"
        acfg.regConfig.registrarUri = registrar + (f";transport={transport}" if transport != "udp" else "")
        acfg.regConfig.timeoutSec = int(command.get("expires") or 300)
        # pjsua retries timeouts and 5xx on its own; a 401/403 is never retried (no storm).
        acfg.regConfig.retryIntervalSec = 60
        acfg.regConfig.firstRetryIntervalSec = 15
        acfg.sipConfig.transportId = tid
        # pjsua's "lock codec" re-INVITE right after a multi-codec answer collides (491) with a hold
        # pressed at once; the seat keeps whatever codecs the answer named.
        acfg.mediaConfig.lockCodecEnabled = False
        acfg.mediaConfig.transportConfig.boundAddress = self.bind
        if command.get("proxy"):
            acfg.sipConfig.proxies.append(str(command["proxy"]) + ";lr")
        acfg.sipConfig.authCreds.append(pj.AuthCredInfo("digest", "*", user, 0, str(command["password"])))
        self.account_info = {"user": user, "registrar": registrar, "uri": acfg.idUri}
        self._choose_devices(
            str(command.get("input_device") or ""),
            str(command.get("output_device") or ""),
            str(command.get("ring_device") or ""),
        )
        account = _make_account_class(pj)(self)
        account.create(acfg)
        self.account = account
        self.register_sent_at = time.monotonic()
        return {"uri": acfg.idUri}

    def cmd_listen(self, command: dict[str, Any]) -> dict[str, Any]:
        """A direct seat, no registrar: an account that never registers, reachable at its own address
        (``sip:dana@127.0.0.1:5062``; port 0: any free one). Callers INVITE that address straight; the
        seat is ready as soon as its UDP transport is up (the demo's seat, docs/phone.md)."""
        pj = self.pj
        user, host, port = listen_address(str(command["address"]))
        self._drop_account()
        self.drop_account_soon = False
        try:
            if port == 0 and host == self.bind:
                tid = self._transport("udp")
            else:
                key = f"udp:{host}:{port}"
                if key not in self.transports:
                    tcfg = pj.TransportConfig()
                    tcfg.port = port
                    tcfg.boundAddress = host
                    self.transports[key] = self.ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg)
                tid = self.transports[key]
            local = str(self.ep.transportGetInfo(tid).localName)  # host:port, the real port for 0
        except pj.Error as exc:
            message = (
                f"The phone could not listen at {host}:{port} ({exc.reason}): another program may hold "
                "that port."
            )
            self.emit("registration", state="failed", code=0, user=user, message=message)
            raise BadCommand(message) from None
        acfg = pj.AccountConfig()
        acfg.idUri = f"sip:{user}@{local}"
        acfg.sipConfig.transportId = tid
        acfg.mediaConfig.lockCodecEnabled = False  # as for a registered seat (pitfall 7)
        acfg.mediaConfig.transportConfig.boundAddress = self.bind
        self.account_info = {"user": user, "registrar": "", "uri": acfg.idUri}
        self._choose_devices(
            str(command.get("input_device") or ""),
            str(command.get("output_device") or ""),
            str(command.get("ring_device") or ""),
        )
        account = _make_account_class(pj)(self)
        account.create(acfg)
        self.account = account
        self.emit("registration", state="listening", code=0, user=user, address=acfg.idUri, message="")
        return {"uri": acfg.idUri}

    def _choose_devices(self, microphone: str, headset: str, ring: str = "") -> None:
        """The seat's microphone, headset and ring device by name (the system's default when "" or not
        found, and the headset for the ring; each name is told found or not). With --null-audio there
        are no devices: the names are not looked up and everything plays on the null device."""
        self.devices_wanted = (microphone, headset, ring)
        if self.null_audio:
            return
        if self.sound is None:
            if microphone or headset or ring or not self.sound_told:
                self.sound_told = True
                self.emit("device", kind="headset", found=False, message=self.sound_problem)
            return
        if self.calls or self.tone is not None:
            self._sound_idle(force=True)  # streams of the old devices go; the call's ports come back
        for event in self.sound.choose(microphone, headset, ring):
            self.emit("device", **event)
        self.ports.clear()  # made again at the new devices' rates on next use
        self._reconnect_calls()

    def output_name(self) -> str:
        """Where call audio plays: the headset's name, the system's default, or the null device."""
        if self.sound is None:
            return NULL_DEVICE
        return self.sound.routes["headset"].label

    def cmd_list_devices(self, command: dict[str, Any]) -> dict[str, Any]:
        return self.device_listing(rescan=True)

    def device_listing(self, *, rescan: bool = False) -> dict[str, Any]:
        """This PC's sound devices by name (for the seat's Sound devices dialog)."""
        if self.null_audio:
            return {"available": False, "inputs": [], "outputs": [],
                    "message": "The phone runs without sound (null audio)."}  # fmt: skip
        if self.sound is None:
            return {"available": False, "inputs": [], "outputs": [], "message": self.sound_problem}
        if rescan:
            self.sound.rescan()
        return self.sound.listing()

    def cmd_set_devices(self, command: dict[str, Any]) -> dict[str, Any]:
        """Other devices for the seat, at once (a call going on moves to them)."""
        names = [str(command.get(k) or "") for k in ("input_device", "output_device", "ring_device")]
        self._choose_devices(*names)
        return {"output": self.output_name()}

    # --- the sound routes -------------------------------------------------------------------------
    def _port(self, role: str) -> Any:
        """The AudioMediaPort bridging ``role``'s device (made on first use), its stream asked to run."""
        assert self.sound is not None
        route = self.sound.routes[role]
        port = self.ports.get(role)
        if port is None:
            pj = self.pj
            port = self.port_class(route)
            fmt = pj.MediaFormatAudio()
            fmt.init(pj.PJMEDIA_FORMAT_PCM, route.rate, 1, 20_000, 16)
            port.createPort(f"csr-{role}", fmt)
            self.ports[role] = port
        self.sound.want(role, True)
        return port

    def call_sink(self) -> Any:
        """Where a call's audio goes: the headset's port, or the null device's slot."""
        if self.sound is None:
            return self.ep.audDevManager().getPlaybackDevMedia()
        return self._port("headset")

    def call_source(self) -> Any:
        """Where a call's outgoing audio comes from: the microphone's port, or the null device."""
        if self.sound is None:
            return self.ep.audDevManager().getCaptureDevMedia()
        return self._port("microphone")

    def _sound_ready(self) -> None:
        """A call is coming or going out: open the headset and the microphone now, so that they run by
        the time it is answered (opening a device can take a while)."""
        if self.sound is not None:
            self.sound.want("headset", True)
            self.sound.want("microphone", True)

    def _sound_idle(self, *, force: bool = False) -> None:
        """No call and no ring: close the streams (the microphone is not listened to between calls)."""
        if self.sound is None or (not force and (self.calls or self.tone is not None)):
            return
        for role in ("headset", "microphone", "ring"):
            self.sound.want(role, False)

    def _reconnect_calls(self) -> None:
        """After a change of devices: a call with audio goes on through the new devices' ports."""
        for call in self.calls.values():
            if call.is_live():
                call.connect_audio()
        if self.tone is not None and self.ringing:
            call_id = self.ringing
            self._stop_ring(quiet=True)
            self._start_ring(call_id)

    def _sound_messages(self) -> None:
        """What the sound worker had to say, told from this thread."""
        if self.sound is None:
            return
        while not self.sound.messages.empty():
            what, info = self.sound.messages.get_nowait()
            if what == "failed":
                kind = {"microphone": "microphone", "ring": "ring device"}.get(info["role"], "headset")
                self.emit(
                    "device",
                    kind=kind,
                    found=False,
                    message=f"The phone could not open the {kind} ({info['label']}): {info['reason']}. "
                    + (
                        "The phone rings on the headset."
                        if kind == "ring device"
                        else "The call goes on without it."
                    ),  # fmt: skip
                )
                if info["role"] == "ring" and self.tone is not None:
                    self._ring_on_headset()

    # --- the ring tone --------------------------------------------------------------------------
    def _start_ring(self, call_id: str) -> None:
        """Loop a ring tone on the ring device (the headset when there is none) while ``call_id`` rings;
        answer or hang-up stops it before the call's audio is connected."""
        pj = self.pj
        if self.tone is not None:
            return
        tone = pj.ToneGenerator()
        sink: Any = None
        try:
            tone.createToneGenerator()
            desc = pj.ToneDesc()
            desc.freq1, desc.freq2, desc.on_msec, desc.off_msec = RING_TONE
            tones = pj.ToneDescVector()
            tones.append(desc)
            tone.play(tones, True)
            if self.sound is None:
                self.ring_role, where = "", NULL_DEVICE if self.null_audio else self.output_name()
                sink = self.ep.audDevManager().getPlaybackDevMedia()
            else:
                self.ring_role = "ring" if self.sound.ring_apart else "headset"
                where = self.sound.routes[self.ring_role].label
                sink = self._port(self.ring_role)
            tone.startTransmit(sink)
        except pj.Error as exc:
            self.tone, self.tone_sink = tone, sink  # stopped and dropped by _stop_ring
            self._stop_ring(quiet=True)
            self.emit(
                "device",
                kind="ring device",
                found=False,
                message=f"The phone could not ring on {self.output_name()} ({exc.reason}); the caller "
                "still hears ringing — F2 answers.",
            )
            return
        self.tone, self.tone_sink, self.ringing, self.ring_where = tone, sink, call_id, where
        self.ring_since = time.monotonic()  # told by tick() once the sound reaches the device

    def _ring_on_headset(self) -> None:
        """The ring device could not be opened: ring on the headset instead."""
        if self.tone is None or self.sound is None or self.ring_role != "ring":
            return
        try:
            self.tone.stopTransmit(self.tone_sink)
            self.tone_sink = self._port("headset")
            self.tone.startTransmit(self.tone_sink)
        except self.pj.Error:
            return
        self.ring_role, self.ring_where = "headset", self.sound.routes["headset"].label

    def _tell_ring(self) -> None:
        """The "ring" event, once the tone is heard: the null device's slot listens to it (the bridge
        applies a connection on its next clock tick), or a sound device has played some of it; or,
        after a while without that, with ``playing`` false."""
        if self.tone is None or self.ring_since is None:
            return
        if self.sound is None:
            info = self.tone.getPortInfo()  # keep it: .listeners points into it
            playing = self.tone_sink.getPortId() in list(info.listeners)
            patience = 1.0
        else:
            playing = self.sound.playing(self.ring_role)
            patience = 3.0  # a sound server can take a second or two to start a stream
        if playing or time.monotonic() - self.ring_since > patience:
            self.ring_since = None
            self.emit("ring", call=self.ringing, ringing=True, device=self.ring_where, playing=playing)

    def _stop_ring(self, *, quiet: bool = False) -> None:
        """Stop the ring tone (before the call's audio starts)."""
        tone, call_id, sink = self.tone, self.ringing, self.tone_sink
        if tone is None:
            return
        self.tone, self.tone_sink, self.ringing, self.ring_since = None, None, "", None
        # Only a created generator is touched: this build has pjlib's asserts on, and a bridge call for
        # port -1 would abort the process rather than raise.
        if tone.getPortId() >= 0:
            if sink is not None:
                try:
                    tone.stopTransmit(sink)
                except self.pj.Error:
                    pass
            try:
                tone.stop()
            except self.pj.Error:
                pass
        del tone, sink
        if self.sound is not None and self.ring_role == "ring":
            self.sound.want("ring", False)
        self.ring_role = ""
        if not quiet:
            self.emit("ring", call=call_id, ringing=False, device=self.output_name())

    def cmd_unregister(self, command: dict[str, Any]) -> None:
        self._drop_account()

    def _drop_account(self) -> None:
        self._stop_ring()
        for call_id in list(self.calls):
            self._hangup(call_id)
        if self.account is not None:
            try:
                self.account.shutdown()
            except self.pj.Error:
                pass
            self.account = None
        self.register_sent_at = None
        self._sound_idle()

    def on_transport_state(self, state: int, last_error: int, tls: Any) -> None:
        """A TLS connection refused because the server's certificate did not check out: keep the reason
        (pjsip's own words) for the registration failure that follows."""
        pj = self.pj
        if tls is None or state != pj.PJSIP_TP_STATE_DISCONNECTED or not int(tls.verifyStatus):
            return
        why = "; ".join(str(m) for m in list(tls.verifyMsgs)) or f"status {int(tls.verifyStatus)}"
        registrar = self.account_info.get("registrar", "")
        self.tls_problem = (
            f"The registrar {registrar} did not prove who it is: its TLS certificate was refused ({why}). "
            "The phone did not sign in; check the CA file (CSR_SIP_CA_FILE) or the registrar's certificate."
        )

    def on_reg_state(self, code: int, reason: str, expiration: int) -> None:
        self.register_sent_at = None
        user = self.account_info.get("user", "")
        if self.tls_problem and not 200 <= code < 300:
            self.emit("registration", state="untrusted", code=code, user=user, message=self.tls_problem)
            return
        if 200 <= code < 300:
            state = "registered" if expiration > 0 else "unregistered"
            self.emit("registration", state=state, code=code, user=user, message="")
            return
        if code in (401, 403, 407):
            message = (
                f"The registrar refused the SIP password for {user} ({code} {reason}). "
                "Check the password in seat settings; the phone will not try again until it changes."
            )
            state = "auth_failed"
            # Drop the account (on the next tick, not inside its own callback) so that nothing ever
            # retries a refused password: a new register command is needed.
            self.drop_account_soon = True
        elif code in (408, 502, 503, 504) or code >= 600 or code == 0:
            message = (
                f"The registrar {self.account_info.get('registrar')} is not answering ({code} {reason}). "
                "The phone keeps trying every minute."
            )
            state = "unreachable"
        else:
            message = f"The registrar turned the seat {user} down ({code} {reason})."
            state = "failed"
        self.emit("registration", state=state, code=code, user=user, message=message)

    def tick(self) -> None:
        """Watchdogs run between polls."""
        self._sound_messages()
        if self.ring_since is not None:
            self._tell_ring()
        if self.drop_account_soon:
            self.drop_account_soon = False
            self._drop_account()
        if self.register_sent_at and time.monotonic() - self.register_sent_at > REGISTER_PATIENCE_S:
            self.register_sent_at = None
            self.emit(
                "registration",
                state="unreachable",
                code=0,
                user=self.account_info.get("user", ""),
                message=f"The registrar {self.account_info.get('registrar')} is not answering. "
                "The phone keeps trying.",
            )

    # --- calls ---------------------------------------------------------------------------------
    def _new_id(self) -> str:
        self.next_id += 1
        return f"c{self.next_id}"

    def _call(self, command: dict[str, Any], key: str = "call") -> Any:
        call = self.calls.get(str(command[key]))
        if call is None:
            raise BadCommand(f"The phone has no call {command[key]} (it may have ended).")
        return call

    def _require_account(self) -> None:
        if self.account is None:
            raise BadCommand("The phone has no seat yet: fill in the seat settings to sign it in.")

    def adopt(self, call: Any) -> str:
        call_id = self._new_id()
        call.phone_id = call_id
        self.calls[call_id] = call
        return call_id

    def on_incoming(self, call_pj_id: int, whole_msg: str) -> None:
        pj = self.pj
        call = _make_call_class(pj)(self, self.account, call_pj_id)
        info = call.getInfo()
        busy = any(c.is_live() for c in self.calls.values())
        prm = pj.CallOpParam()
        call_id = self.adopt(call)
        if busy:
            # A seat already on a call answers Busy Here: the phone company rolls to the next CSR.
            # (Kept in self.calls until DISCONNECTED: a Call collected early hangs up with 603.)
            call.ended = True
            prm.statusCode = 486
            call.hangup(prm)
            self.emit("busy", remote=info.remoteUri, sip_call_id=info.callIdString)
            return
        match = _CALL_HEADER.search(whole_msg or "")
        dial = _DIAL_HEADER.search(whole_msg or "")
        self.emit(
            "incoming",
            call=call_id,
            remote=info.remoteUri,
            sip_call_id=info.callIdString,
            provider_call_id=match.group(2) if match else "",
            dial=dial.group(2) if dial else "",  # a click-to-call placed for this CSR: the customer
        )
        prm.statusCode = 180
        call.answer(prm)
        self._sound_ready()
        self._start_ring(call_id)

    def on_call_ended(self, call: Any) -> None:
        self.calls.pop(getattr(call, "phone_id", ""), None)
        self._sound_idle()

    def on_call_state(self, call_id: str, state: str) -> None:
        if self.ringing == call_id and state in ("connecting", "confirmed", "disconnected"):
            self._stop_ring()

    def cmd_call(self, command: dict[str, Any]) -> dict[str, Any]:
        self._require_account()
        call = _make_call_class(self.pj)(self, self.account)
        call_id = self.adopt(call)
        prm = self.pj.CallOpParam(True)
        for name, value in (command.get("headers") or {}).items():
            header = self.pj.SipHeader()
            header.hName, header.hValue = str(name), str(value)
            prm.txOption.headers.append(header)
        try:
            call.makeCall(str(command["to"]), prm)
        except self.pj.Error:
            self.calls.pop(call_id, None)
            self._sound_idle()
            raise
        self._sound_ready()
        return {"call": call_id}

    def cmd_answer(self, command: dict[str, Any]) -> None:
        prm = self.pj.CallOpParam()
        prm.statusCode = 200
        call = self._call(command)
        if self.ringing == str(command["call"]):
            self._stop_ring()  # the headset back before the call's audio starts
        call.answer(prm)

    def cmd_hangup(self, command: dict[str, Any]) -> None:
        self._call(command)
        self._hangup(str(command["call"]))

    def _hangup(self, call_id: str) -> None:
        call = self.calls.get(call_id)
        if call is None:
            return
        try:
            call.hangup(self.pj.CallOpParam())
        except self.pj.Error:
            self.calls.pop(call_id, None)

    def cmd_hold(self, command: dict[str, Any]) -> None:
        self._call(command).setHold(self.pj.CallOpParam(True))

    def cmd_resume(self, command: dict[str, Any]) -> None:
        prm = self.pj.CallOpParam(True)
        prm.opt.flag = self.pj.PJSUA_CALL_UNHOLD
        self._call(command).reinvite(prm)

    def cmd_mute(self, command: dict[str, Any]) -> None:
        self._call(command).set_muted(True)

    def cmd_unmute(self, command: dict[str, Any]) -> None:
        self._call(command).set_muted(False)

    def cmd_dtmf(self, command: dict[str, Any]) -> None:
        self._call(command).dialDtmf(str(command["digits"]))

    def cmd_transfer(self, command: dict[str, Any]) -> None:
        """Blind transfer: REFER the remote party to ``to``; the call ends when the transfer succeeds."""
        self._call(command).xfer(str(command["to"]), self.pj.CallOpParam(True))

    def cmd_complete_transfer(self, command: dict[str, Any]) -> None:
        """Warm transfer: join the remote party of ``call`` to the consulted ``other`` (REFER/Replaces)."""
        self._call(command).xferReplaces(self._call(command, "other"), self.pj.CallOpParam(True))

    def cmd_stats(self, command: dict[str, Any]) -> dict[str, Any]:
        stats: dict[str, Any] = {"rss_mb": _rss_mb(), "calls": len(self.calls), "pid": os.getpid()}
        if self.sound is not None:
            stats["sound"] = self.sound.stats()
        return stats

    def cmd_quit(self, command: dict[str, Any]) -> None:
        self.running = False

    def shutdown(self) -> None:
        self._drop_account()
        for _ in range(40):  # let the BYEs and the un-REGISTER go out
            self.ep.libHandleEvents(10)
        # A Call alive after libDestroy() aborts the process when collected: drop them all first.
        self.calls.clear()
        self._stop_ring(quiet=True)  # a ToneGenerator must not outlive libDestroy either
        if self.sound is not None:
            self.sound.close()  # the streams stop before their ports go
        self.ports.clear()  # an AudioMediaPort alive after libDestroy() aborts the process too
        gc.collect()
        self.ep.libDestroy()


def _make_endpoint_class(pj: Any) -> type:
    class PhoneEndpoint(pj.Endpoint):
        def __init__(self, phone: Phone) -> None:
            super().__init__()
            self.phone = phone

        def onTransportState(self, prm: Any) -> None:  # noqa: N802 (pjsua2's name)
            tls = prm.tlsInfo if str(prm.type).upper().startswith("TLS") else None  # the type's name
            self.phone.on_transport_state(int(prm.state), int(prm.lastError), tls)

    return PhoneEndpoint


def _make_account_class(pj: Any) -> type:
    class SeatAccount(pj.Account):
        def __init__(self, phone: Phone) -> None:
            super().__init__()
            self.phone = phone

        def onRegState(self, prm: Any) -> None:  # noqa: N802 (pjsua2's name)
            self.phone.on_reg_state(int(prm.code), str(prm.reason), int(prm.expiration))

        def onIncomingCall(self, prm: Any) -> None:  # noqa: N802
            self.phone.on_incoming(prm.callId, prm.rdata.wholeMsg)

    return SeatAccount


_CALL_CLASSES: dict[int, type] = {}


def _make_call_class(pj: Any) -> type:
    if id(pj) in _CALL_CLASSES:
        return _CALL_CLASSES[id(pj)]

    class SeatCall(pj.Call):
        def __init__(self, phone: Phone, account: Any, call_id: int = pj.PJSUA_INVALID_ID) -> None:
            super().__init__(account, call_id)
            self.phone = phone
            self.phone_id = ""
            self.muted = False
            self.ended = False

        def is_live(self) -> bool:
            return not self.ended

        def _audio(self) -> list[Any]:
            media = []
            info = self.getInfo()  # keep it: .media points into it (a temporary is freed under us)
            for i, m in enumerate(info.media):
                if m.type == pj.PJMEDIA_TYPE_AUDIO and m.status in (
                    pj.PJSUA_CALL_MEDIA_ACTIVE,
                    pj.PJSUA_CALL_MEDIA_REMOTE_HOLD,
                ):
                    media.append(self.getAudioMedia(i))
            return media

        def set_muted(self, muted: bool) -> None:
            """Mute by cutting the microphone off the call in the bridge (a level of 0 on the call's
            slot was measured to let the voice through on this build)."""
            self.muted = muted
            source = self.phone.call_source()
            for audio in self._audio():
                if muted:
                    source.stopTransmit(audio)
                else:
                    source.startTransmit(audio)
            self.phone.emit("muted", call=self.phone_id, muted=muted)

        def onCallState(self, prm: Any) -> None:  # noqa: N802
            info = self.getInfo()
            state = {
                pj.PJSIP_INV_STATE_CALLING: "calling",
                pj.PJSIP_INV_STATE_INCOMING: "incoming",
                pj.PJSIP_INV_STATE_EARLY: "early",
                pj.PJSIP_INV_STATE_CONNECTING: "connecting",
                pj.PJSIP_INV_STATE_CONFIRMED: "confirmed",
                pj.PJSIP_INV_STATE_DISCONNECTED: "disconnected",
            }.get(info.state, "null")
            self.phone.emit(
                "call",
                call=self.phone_id,
                state=state,
                code=info.lastStatusCode,
                reason=info.lastReason,
                remote=info.remoteUri,
            )
            self.phone.on_call_state(self.phone_id, state)
            if state == "disconnected":
                self.ended = True
                self.phone.on_call_ended(self)

        def onCallMediaState(self, prm: Any) -> None:  # noqa: N802
            hold = self.connect_audio()
            self.phone.emit("media", call=self.phone_id, hold=hold, output=self.phone.output_name())

        def connect_audio(self) -> str:
            """Connect the call's audio to the headset and the microphone (their ports with sound, the
            null device's slot without); the hold state seen in the media."""
            hold = "none"
            info = self.getInfo()  # keep it: .media points into it (a temporary is freed under us)
            for i, m in enumerate(info.media):
                if m.type != pj.PJMEDIA_TYPE_AUDIO:
                    continue
                if m.status == pj.PJSUA_CALL_MEDIA_LOCAL_HOLD:
                    hold = "local"
                elif m.status in (pj.PJSUA_CALL_MEDIA_REMOTE_HOLD, pj.PJSUA_CALL_MEDIA_NONE):
                    hold = "remote"
                if m.status in (pj.PJSUA_CALL_MEDIA_ACTIVE, pj.PJSUA_CALL_MEDIA_REMOTE_HOLD):
                    audio = self.getAudioMedia(i)
                    try:
                        if not self.muted:
                            self.phone.call_source().startTransmit(audio)
                        audio.startTransmit(self.phone.call_sink())
                    except pj.Error as exc:  # no sound device: say so, the call itself goes on
                        self.phone.emit(
                            "device",
                            kind="headset",
                            found=False,
                            message=f"The phone could not open the headset for the call ({exc.reason}).",
                        )
            return hold

        def onDtmfDigit(self, prm: Any) -> None:  # noqa: N802
            self.phone.emit("dtmf", call=self.phone_id, digit=str(prm.digit))

        def onCallTransferRequest(self, prm: Any) -> None:  # noqa: N802
            # The other side asks us to call someone else: follow, tracked like any call.
            new_call = SeatCall(self.phone, self.phone.account)
            prm.newCall = new_call
            new_id = self.phone.adopt(new_call)
            self.phone.emit("transferred", call=self.phone_id, new_call=new_id, to=str(prm.dstUri))

        def onCallReplaced(self, prm: Any) -> None:  # noqa: N802
            # A warm transfer joined someone to us in place of this call (INVITE with Replaces): the
            # new call is tracked like any call; this one ends.
            new_call = SeatCall(self.phone, self.phone.account, prm.newCallId)
            prm.newCall = new_call
            new_id = self.phone.adopt(new_call)
            info = new_call.getInfo()
            self.phone.emit("replaced", call=self.phone_id, new_call=new_id, remote=info.remoteUri)

        def onCallTransferStatus(self, prm: Any) -> None:  # noqa: N802
            code = int(prm.statusCode)
            self.phone.emit("transfer", call=self.phone_id, code=code, final=bool(prm.finalNotify))
            if prm.finalNotify and 200 <= code < 300:
                prm.cont = False
                self.phone._hangup(self.phone_id)

    _CALL_CLASSES[id(pj)] = SeatCall
    return SeatCall


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="csr-console phone", description="The console's SIP softphone process.")
    p.add_argument("--null-audio", action="store_true", help="no sound card: null audio device (CI, servers)")
    p.add_argument("--bind", default="0.0.0.0", help="local address for SIP and media (default: all)")
    p.add_argument(
        "--ca-file",
        default=os.environ.get("CSR_SIP_CA_FILE", ""),
        help="CA certificates (PEM) a TLS registrar's certificate is checked against "
        "(default: $CSR_SIP_CA_FILE, else the system's bundle)",
    )
    p.add_argument(
        "--log-level",
        type=int,
        default=int(os.environ.get("CSR_PHONE_LOG_LEVEL", "0")),
        help="pjsua2 log level to stderr (0–6)",
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    out_fd = os.dup(1)
    os.dup2(2, 1)  # anything native that prints goes to stderr, never into the channel
    try:
        phone = Phone(
            out_fd, null_audio=args.null_audio, bind=args.bind, log_level=args.log_level, ca_file=args.ca_file
        )
    except Exception as exc:  # noqa: BLE001 — the console shows this and the phone stays offline
        os.write(out_fd, encode({"event": "fatal", "message": f"The phone could not start: {exc}"}))
        return 1
    phone.emit("ready", pid=os.getpid(), null_audio=args.null_audio)
    phone.emit("devices", **phone.device_listing())
    stdin = sys.stdin.buffer.fileno()
    os.set_blocking(stdin, False)
    pending = b""
    while phone.running:
        phone.ep.libHandleEvents(POLL_MS)
        readable, _, _ = select.select([stdin], [], [], 0)
        if readable:
            chunk = os.read(stdin, 65536)
            if not chunk:  # the console is gone: leave with it
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                if line.strip():
                    phone.handle_line(line)
        phone.tick()
    phone.shutdown()
    os.write(out_fd, encode({"event": "stopped"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
