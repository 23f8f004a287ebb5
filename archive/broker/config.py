"""Render a Mosquitto 2.0 deployment: ``mosquitto.conf``, the ACL and the password file.

The broker is the first line of the custody chain's access control: it must refuse anonymous
clients, refuse a dock publishing as another dock, refuse oversize messages, and keep queued QoS 1
messages across a restart. Everything it needs is generated here from one description
(:class:`BrokerDeployment`), so tests, the demo and a real deployment run the *same* rules.

Identities: the archive (reads every dock's transfers, writes every ``ack``) and one per dock
(writes ``bodycam/v1/<dock>/xfer/#``, ``rec/+`` and ``ckpt/+``, reads only ``bodycam/v1/<dock>/ack``; it cannot
forge its own acks). A client authenticates either with a client certificate whose CN is its
name (``require_certificate`` + ``use_identity_as_username``) or with a password whose
PBKDF2-SHA512 hash is in the password file (the ``mosquitto_passwd`` ``$7$`` format).

Layout of ``dir``::

    mosquitto.conf  acl  passwd  credentials/<name>.password  data/  pki/ (see archive.broker.pki)
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from archive.broker.pki import PkiPaths, check_name
from bodycam.errors import ConfigError
from bodycam.files import write_secret
from bodycam.i18n import _
from syncd import protocol

log = logging.getLogger(__name__)

PBKDF2_ITERATIONS = 10_000
TLS13_CIPHERS = "TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384"
"""The broker's TLS 1.3 suites, in its order of preference (Mosquitto sets server preference).
ChaCha20-Poly1305 first: a Raspberry Pi 4 dock has no AES instructions, and there AES-GCM costs
several times the CPU per byte; the server, which has them, pays little for ChaCha20 either
way (figures: docs/benchmarks.md, "TLS ciphers on a CPU without AES")."""
TLS12_CIPHERS = ("ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384")
"""The same order for a TLS 1.2 client (the broker's certificate is ECDSA; forward secrecy only)."""
PACKET_OVERHEAD = 4 << 10
"""Room for the fixed header, topic (≤ 256 chars) and properties above the largest payload."""


@dataclass(frozen=True)
class Listener:
    """One port. ``client_certs``: authenticate by certificate CN; otherwise by password."""

    port: int
    bind: str = "0.0.0.0"  # noqa: S104 - a broker listens on the network by design
    tls: bool = True
    client_certs: bool = True

    def __post_init__(self) -> None:
        if not self.tls and self.bind not in ("127.0.0.1", "::1", "localhost"):
            raise ConfigError(_("a plain (non-TLS) listener is for loopback tests and benchmarks only; "
                                "bind it to 127.0.0.1"))
        if not self.tls and self.client_certs:
            raise ConfigError(_("client certificates need a TLS listener"))


@dataclass(frozen=True)
class BrokerDeployment:
    dir: Path
    docks: tuple[str, ...]
    listeners: tuple[Listener, ...] = (Listener(8883),)
    archive: str = "archive"
    pki_dir: Path | None = None
    persistence_dir: Path | None = None
    max_payload_bytes: int = protocol.MAX_PAYLOAD_BYTES
    max_queued_messages: int = 1000
    max_queued_bytes: int = 256 << 20
    """Per offline session. Beyond it the broker drops (the archive's own acks recover them)."""
    autosave_interval_s: int = 60
    run_as: str | None = None
    """``user`` option: the account mosquitto drops to when started as root (it must read the keys)."""
    extra: tuple[str, ...] = field(default=())
    tls13_ciphers: str = TLS13_CIPHERS
    tls12_ciphers: str = TLS12_CIPHERS

    def __post_init__(self) -> None:
        # Mosquitto resolves relative paths against the folder it was started in, not the file's:
        # a configuration with relative paths works only when started from its own folder.
        for attr in ("dir", "pki_dir", "persistence_dir"):
            value = getattr(self, attr)
            if value is not None and not value.is_absolute():
                object.__setattr__(self, attr, Path(os.path.abspath(value)))
        for name in (*self.docks, self.archive):
            check_name(name)
        if self.archive in self.docks:
            raise ConfigError(_("{name!r} is the archive's identity; a dock cannot have that name").format(
                name=self.archive))
        if not self.listeners:
            raise ConfigError(_("the broker needs at least one listener"))
        if len(set(self.docks)) != len(self.docks):
            raise ConfigError(_("a dock is listed twice"))

    @property
    def pki(self) -> PkiPaths:
        return PkiPaths(self.pki_dir or self.dir / "pki")

    @property
    def conf_path(self) -> Path:
        return self.dir / "mosquitto.conf"

    @property
    def acl_path(self) -> Path:
        return self.dir / "acl"

    @property
    def passwd_path(self) -> Path:
        return self.dir / "passwd"

    @property
    def data_dir(self) -> Path:
        return self.persistence_dir or self.dir / "data"

    def password_path(self, name: str) -> Path:
        return self.dir / "credentials" / f"{check_name(name)}.password"

    @property
    def identities(self) -> tuple[str, ...]:
        return (self.archive, *self.docks)


def render_conf(dep: BrokerDeployment) -> str:
    lines = [
        "# Generated by archive.broker.config: edit the deployment, not this file.",
        "per_listener_settings false",
        "allow_anonymous false",
        f"password_file {dep.passwd_path}",
        f"acl_file {dep.acl_path}",
        "",
        "# QoS 1 messages for offline persistent sessions survive a broker restart.",
        "persistence true",
        f"persistence_location {dep.data_dir}/",
        f"autosave_interval {dep.autosave_interval_s}",
        f"max_queued_messages {dep.max_queued_messages}",
        f"max_queued_bytes {dep.max_queued_bytes}",
        "max_inflight_messages 20",
        "",
        "# Nothing legitimate is larger than the largest chunk. Advertised to MQTT 5 clients in",
        "# CONNACK; a client sending more is disconnected (0x95). Not message_size_limit: 2.0.11",
        "# answers it with PUBACK 0x95, which paho treats as malformed and re-sends forever.",
        f"max_packet_size {dep.max_payload_bytes + PACKET_OVERHEAD}",
        "set_tcp_nodelay true",
        "",
        "log_dest stderr",
        "log_type error",
        "log_type warning",
        "log_type notice",
        "log_type information",
        "connection_messages true",
        "log_timestamp_format %Y-%m-%dT%H:%M:%S",
    ]
    if dep.run_as:
        lines.append(f"user {dep.run_as}")
    lines.extend(dep.extra)
    for lst in dep.listeners:
        # The client id is the authenticated name: a dock cannot take over (and so disconnect,
        # or inherit the queued messages of) the archive's or another dock's session.
        lines += ["", f"listener {lst.port} {lst.bind}", "protocol mqtt", "use_username_as_clientid true"]
        if lst.tls:
            lines += [
                f"cafile {dep.pki.ca_cert}",
                f"certfile {dep.pki.broker_cert}",
                f"keyfile {dep.pki.broker_key}",
                "tls_version tlsv1.2",
                f"ciphers_tls1.3 {dep.tls13_ciphers}",
                f"ciphers {dep.tls12_ciphers}",
            ]
            if lst.client_certs:
                lines += ["require_certificate true", "use_identity_as_username true"]
            else:
                lines += ["require_certificate false"]
    return "\n".join(lines) + "\n"


def render_acl(dep: BrokerDeployment) -> str:
    p = protocol.PREFIX
    lines = [
        "# Generated by archive.broker.config. A dock writes only its own transfers and records and",
        "# reads only its own acks; only the archive writes acks.",
        "",
        f"user {dep.archive}",
        f"topic read {p}/+/#",
        f"topic write {p}/+/ack",
    ]
    for dock in dep.docks:
        lines += [
            "",
            f"user {dock}",
            f"topic write {p}/{dock}/xfer/#",
            f"topic write {p}/{dock}/rec/+",
            f"topic write {p}/{dock}/ckpt/+",
            f"topic read {p}/{dock}/ack",
        ]
    return "\n".join(lines) + "\n"


def hash_password(password: str, *, salt: bytes | None = None, iterations: int = PBKDF2_ITERATIONS) -> str:
    """A password-file hash in the ``mosquitto_passwd`` 2.0 format (``$7$``: PBKDF2-SHA512)."""
    salt = salt if salt is not None else secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def ensure_password(dep: BrokerDeployment, name: str) -> Path:
    """The identity's password file (0600), created with a random password if absent. The path
    is what a client's ``password_file`` setting points at."""
    path = dep.password_path(name)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_secret(path, secrets.token_urlsafe(32) + "\n", exclusive=True)  # never another writer's
    return path


def read_password(path: Path) -> str:
    return path.read_text(encoding="utf-8").strip()


@dataclass(frozen=True)
class RenderedFiles:
    conf: Path
    acl: Path
    passwd: Path


def write_deployment(dep: BrokerDeployment) -> RenderedFiles:
    """Write config, ACL and password file (creating missing passwords). Safe to re-run: after a
    dock is added, send the running broker SIGHUP to reload the ACL and password file."""
    dep.dir.mkdir(parents=True, exist_ok=True)
    dep.data_dir.mkdir(parents=True, exist_ok=True)
    entries = []
    for name in dep.identities:
        entries.append(f"{name}:{hash_password(read_password(ensure_password(dep, name)))}")
    write_secret(dep.passwd_path, "\n".join(entries) + "\n")
    write_secret(dep.acl_path, render_acl(dep))
    write_secret(dep.conf_path, render_conf(dep))
    log.info("broker deployment written to %s (%d docks)", dep.dir, len(dep.docks))
    return RenderedFiles(dep.conf_path, dep.acl_path, dep.passwd_path)


def example_deployment() -> BrokerDeployment:
    """The deployment ``config/mosquitto.conf`` and ``config/mosquitto.acl`` are rendered from."""
    return BrokerDeployment(dir=Path("/etc/bodycam/broker"), docks=("dock-1",), listeners=(Listener(8883),),
                            persistence_dir=Path("/var/lib/bodycam/broker"), run_as="mosquitto")
