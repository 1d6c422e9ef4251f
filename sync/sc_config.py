"""The ServiceChannel setup of a server (`csr-server run --servicechannel FILE`, docs/servicechannel.md): a
YAML file naming the API, the application's client id, the API user, the subscribers served, the webhook
listener, the trade/category → job type mapping and each client's status names. Secrets (the client
secret, the API user's password) are in files of their own that only the server's user may read — as
for the phone system's auth token — and never in this file or on a command line.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from models.work_order_ingest import ScMapping

from .servicechannel import ScCredentials

STATUS_ACTIONS = ("hold", "release", "cancel", "complete")


class ScConfigError(Exception):
    """The setup cannot be used; the message says what to fix."""


@dataclass
class ScConfig:
    credentials: ScCredentials
    mapping: ScMapping
    webhook_host: str = "127.0.0.1"
    webhook_port: int = 8472
    public_url: str = ""  # the URL the platform posts to (subscribed at start when set)
    poll_seconds: float = 300.0
    rate_limit: int = 20  # calls per rate_window; the platform says 40/min, about 20 succeed in practice
    rate_window: float = 60.0
    lookback_hours: float = 24.0
    outbound_poll_seconds: float = 0.5  # how often the change log is read for what to send
    lease_seconds: float = 60.0  # a send not recorded by then is checked against the platform and retried
    extra: dict[str, Any] = field(default_factory=dict)


def read_secret(path: str | Path, what: str) -> str:
    """A secret from a file only this process's user may read (refused when group or others can)."""
    p = Path(path).expanduser()
    try:
        info = p.stat()
        text = p.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ScConfigError(f"can't read the {what} file {p}: {exc.strerror or exc}") from None
    if os.name == "posix":
        if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ScConfigError(f"the {what} file {p} is readable by other users — chmod 600 {p}")
        if info.st_uid != os.geteuid():
            raise ScConfigError(f"the {what} file {p} belongs to another user — it must be the server's own")
    if not text:
        raise ScConfigError(f"the {what} file {p} is empty")
    return text


def _need(section: dict[str, Any], key: str, where: str = "servicechannel") -> Any:
    value = section.get(key)
    if value in (None, ""):
        raise ScConfigError(f"{where}.{key} is missing")
    return value


def load(path: str | Path) -> ScConfig:
    """Read and check the setup; ScConfigError names the first problem."""
    base = Path(path).expanduser()
    try:
        doc = yaml.safe_load(base.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ScConfigError(f"can't read {base}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ScConfigError(f"{base} is not valid YAML: {exc}") from None
    sc = doc.get("servicechannel") if isinstance(doc, dict) else None
    if not isinstance(sc, dict):
        raise ScConfigError(f"{base} has no 'servicechannel:' section")

    def secret(key: str, what: str) -> str:
        file = Path(str(_need(sc, key)))
        return read_secret(file if file.is_absolute() else base.parent / file, what)

    credentials = ScCredentials(
        api_base=str(sc.get("api_base") or "https://api.servicechannel.com/v3"),
        login_base=str(sc.get("login_base") or "https://login.servicechannel.com"),
        client_id=str(_need(sc, "client_id")),
        client_secret=secret("client_secret_file", "client secret"),
        username=str(_need(sc, "username")),
        password=secret("password_file", "API user's password"),
    )
    job_types: dict[tuple[str, str], str] = {}
    for i, row in enumerate(sc.get("job_types") or []):
        if not isinstance(row, dict) or not row.get("trade") or not row.get("job_type"):
            raise ScConfigError(f"servicechannel.job_types[{i}] needs a trade and a job_type")
        job_types[(str(row["trade"]), str(row.get("category") or "*"))] = str(row["job_type"])
    statuses: dict[int, dict[str, tuple[str, str]]] = {}
    reasons: dict[int, int] = {}
    for subscriber, names in (sc.get("statuses") or {}).items():
        if not isinstance(names, dict):
            raise ScConfigError(
                f"servicechannel.statuses.{subscriber} must map actions to [primary, extended]"
            )
        mapped = {}
        for action, pair in names.items():
            if action == "reschedule_reason":
                try:
                    reasons[int(subscriber)] = int(pair)
                except (TypeError, ValueError):
                    raise ScConfigError(
                        f"servicechannel.statuses.{subscriber}.reschedule_reason must be the reason's "
                        "number (the client's workOrderRescheduleReasons list)"
                    ) from None
                continue
            if action not in STATUS_ACTIONS or not isinstance(pair, list) or len(pair) != 2:
                raise ScConfigError(
                    f"servicechannel.statuses.{subscriber}.{action}: one of hold / release / cancel / "
                    "complete, as [primary, extended]"
                )
            mapped[action] = (str(pair[0]), str(pair[1] or ""))
        statuses[int(subscriber)] = mapped
    try:
        subscribers = frozenset(int(s) for s in sc.get("subscribers") or [])
    except (TypeError, ValueError):
        raise ScConfigError("servicechannel.subscribers must be a list of subscriber ids") from None
    hook = sc.get("webhook") or {}
    rate = sc.get("rate_limit") or {}
    return ScConfig(
        credentials=credentials,
        mapping=ScMapping(
            job_types, statuses, str(sc.get("currency") or "USD").upper(), subscribers, reasons
        ),
        webhook_host=str(hook.get("host") or "127.0.0.1"),
        webhook_port=int(hook.get("port", 8472)),
        public_url=str(hook.get("public_url") or ""),
        poll_seconds=float(sc.get("poll_seconds") or 300),
        rate_limit=int(rate.get("calls") or 20),
        rate_window=float(rate.get("seconds") or 60),
        lookback_hours=float(sc.get("lookback_hours") or 24),
        lease_seconds=float(sc.get("outbound_lease_seconds") or 60),
        outbound_poll_seconds=float(sc.get("outbound_poll_seconds") or 0.5),
    )
