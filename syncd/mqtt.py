"""A small MQTT 5 client over paho-mqtt 2.x for both ends of the transfer.

Why not paho directly: evidence must never be dropped silently. paho's ``publish`` while
disconnected returns an error code that is easy to ignore (and quietly queues QoS 1 messages in
memory); here :meth:`MqttClient.publish` raises :class:`NotConnected` instead, and the returned
:class:`PublishHandle` reports the broker's PUBACK reason code (e.g. 0x87 *not authorized* when
the ACL refuses, 0x95 *packet too large*) as :class:`PublishRefused`. Sessions are persistent
(``clean_start`` False plus a session expiry) so the broker keeps subscriptions and queued QoS 1
messages across disconnects and restarts.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from bodycam.errors import BodycamError, ConfigError
from bodycam.formats import duration
from bodycam.i18n import N_, Message, _, tr
from syncd.config import BrokerConfig

log = logging.getLogger(__name__)

PROPERTY_ALLOWANCE = 512
"""Bytes counted for the fixed header and properties when checking the broker's packet limit."""
RECONNECT_MIN_S, RECONNECT_MAX_S = 1, 30
"""paho reconnects by itself after a lost connection, waiting 1 s, then 2, 4, … up to 30 s."""

_paho_log = logging.getLogger("paho")


def _paho_debug_log(client, userdata, level, message) -> None:
    _paho_log.debug("%s", message)


class MqttError(BodycamError):
    """The broker cannot be reached, refused us, or did not answer in time."""


class BrokerUnreachable(MqttError):
    """No connection to the broker: nothing listens, no answer, TLS failed (the message says which)."""


class NotConnected(MqttError):
    """Publishing while disconnected: the caller must keep the item and retry after reconnecting."""


class PublishRefused(MqttError):
    """The broker answered a QoS 1 publish with a failure reason code (ACL, size, quota)."""

    def __init__(self, topic: str, reason: ReasonCode):
        super().__init__(f"broker refused publish to {topic}: {reason} (0x{reason.value:02x}); "
                         "check the broker ACL and message size limit")
        self.topic = topic
        self.reason = reason


class MessageTooLarge(MqttError):
    """The message exceeds the Maximum Packet Size the broker announced; it was not sent."""


class SubscribeRefused(MqttError):
    def __init__(self, topic_filter: str, reason: ReasonCode):
        super().__init__(Message(N_("broker refused subscription to {topic_filter}: {reason} (0x{code:02x}); "
                                    "check the broker ACL"), topic_filter=topic_filter, reason=str(reason),
                                 code=reason.value))
        self.topic_filter = topic_filter
        self.reason = reason


@dataclass(frozen=True)
class Received:
    """An incoming message, with the MQTT 5 properties the protocol uses."""

    topic: str
    payload: bytes = field(repr=False)
    qos: int
    correlation: bytes | None = None
    user_properties: tuple[tuple[str, str], ...] = ()
    response_topic: str | None = None


M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3


def tune_allocator(mmap_threshold: int = 8 << 20, trim_threshold: int = 4 << 20) -> bool:
    """Let glibc keep MiB-sized buffers in its heap instead of mapping and unmapping each one.

    paho copies every received 1 MiB payload several times (``struct.unpack``, slicing); with
    glibc's default, each copy is a fresh ``mmap`` whose pages are faulted in one by one, which
    tripled the receiver's CPU per chunk. Reused heap memory costs no page faults. Bounded: at
    most ``trim_threshold`` of free heap is kept. Process-wide; a no-op off glibc. Returns
    whether it applied."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        ok = libc.mallopt(M_MMAP_THRESHOLD, mmap_threshold) == 1
        return libc.mallopt(M_TRIM_THRESHOLD, trim_threshold) == 1 and ok
    except (OSError, AttributeError):
        return False


def read_password(path) -> str:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(_("{path}: cannot read the broker password: {error}").format(path=path, error=exc)) from None
    if not text:
        raise ConfigError(_("{path}: the broker password file is empty").format(path=path))
    return text


def describe_connect_error(exc: BaseException) -> Message:
    """Why a connection to the broker failed, in a few plain words for people (``connection
    refused``, ``no answer``, ``unknown host name``, ``its certificate does not verify: …``),
    instead of the socket or TLS library's text. English as a string (logs, ``sync.db``), in the
    reader's language through ``bodycam.i18n.tr``; the TLS library's and the system's own words
    stay as they are."""
    if isinstance(exc, ConnectionRefusedError):
        return Message(N_("connection refused: nothing listens there"))
    if isinstance(exc, socket.gaierror):
        return Message(N_("unknown host name"))
    if isinstance(exc, TimeoutError | socket.timeout):
        return Message(N_("no answer"))
    if isinstance(exc, ssl.SSLCertVerificationError):
        return Message(N_("its TLS certificate does not verify: {detail}; check ca_file"),
                       detail=exc.verify_message or exc.reason)
    if isinstance(exc, ssl.SSLError):
        return Message(N_("TLS handshake failed: {detail}"),
                       detail=(exc.reason or str(exc)).replace("_", " ").lower())
    if isinstance(exc, ConnectionResetError | BrokenPipeError | ConnectionAbortedError):
        return Message(N_("the connection was dropped"))
    if isinstance(exc, OSError) and exc.strerror:
        return Message("{detail}", detail=exc.strerror[:1].lower() + exc.strerror[1:])
    return Message("{detail}", detail=str(exc) or type(exc).__name__)


class _Paho(paho.Client):
    """paho's client, remembering why its last connection attempt failed (paho's own reconnect
    loop swallows the exception and calls ``on_connect_fail`` without it)."""

    last_connect_error: OSError | None = None

    def reconnect(self) -> MQTTErrorCode:
        try:
            return super().reconnect()
        except OSError as exc:
            self.last_connect_error = exc
            raise


def tls_context(cfg: BrokerConfig) -> ssl.SSLContext:
    """Verify the broker against the deployment CA (hostname included); present the client
    certificate if one is configured."""
    try:
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH,
                                         cafile=str(cfg.ca_file) if cfg.ca_file else None)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        if cfg.cert_file or cfg.key_file:
            if not (cfg.cert_file and cfg.key_file):
                raise ConfigError(_("broker: cert_file and key_file must be given together"))
            ctx.load_cert_chain(str(cfg.cert_file), str(cfg.key_file))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(_("broker TLS files: {error}; check ca_file, cert_file and key_file").format(error=exc)
                          ) from None
    return ctx


class PublishHandle:
    """Tracks one QoS 1 publish until the broker's PUBACK (one hop only; the archive's own ack
    is what proves delivery)."""

    def __init__(self, client: MqttClient, topic: str, info: paho.MQTTMessageInfo):
        self._client = client
        self.topic = topic
        self.info = info
        self.mid = info.mid

    def done(self) -> bool:
        return self.info.is_published()

    def wait(self, timeout: float) -> ReasonCode:
        """The PUBACK reason; PublishRefused on a failure code, MqttError on timeout."""
        deadline = time.monotonic() + timeout
        with self._client._cond:
            while not self.info.is_published():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise MqttError(f"no PUBACK for {self.topic} within {timeout:g} s; "
                                    "the broker is unreachable or overloaded")
                self._client._cond.wait(min(left, 0.05))
            reason = self._client._pubacks.get(self.mid)
        if reason is None:
            reason = ReasonCode(PacketTypes.PUBACK, identifier=0)
        if reason.is_failure:
            raise PublishRefused(self.topic, reason)
        return reason


class MqttClient:
    """One MQTT 5 connection with a persistent session, QoS 1 and explicit failures.

    ``on_message`` runs on paho's network thread; the PUBACK for a QoS 1 message is sent only
    after it returns, so a handler that stores before returning gives at-least-once delivery.
    A handler that raises is logged and the message counts as delivered for the broker.
    ``on_connect(session_present)`` runs after every successful (re)connect, also on paho's
    thread: the place to re-send ``init`` for unfinished transfers.
    """

    def __init__(self, cfg: BrokerConfig, client_id: str | None = None, *,
                 on_message: Callable[[Received], None] | None = None,
                 on_connect: Callable[[bool], None] | None = None,
                 clean_start: bool = False, session_expiry_s: int | None = None):
        client_id = client_id or cfg.client_id or cfg.username
        if not client_id:
            raise ConfigError(_("broker: set client_id (the dock id, or 'archive') in the [broker] section"))
        self.cfg = cfg
        self.client_id = client_id
        self._on_message = on_message
        self._on_connect = on_connect
        self.generation = 0
        """Successful connections so far: a change tells a loop that a reconnect happened."""
        self._clean_start = clean_start
        self._session_expiry = cfg.session_expiry_s if session_expiry_s is None else session_expiry_s
        self._cond = threading.Condition()
        self._pubacks: dict[int, ReasonCode] = {}
        self._subacks: dict[int, list[ReasonCode]] = {}
        self._connack: ReasonCode | None = None
        self._session_present = False
        self._max_packet: int | None = None
        self._connected = False
        self._disconnect_reason: str | None = None
        self._subscriptions: dict[str, int] = {}
        self._started = False
        self._closing = False

        c = _Paho(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5, reconnect_on_failure=True)
        # paho's own messages ("Client is not connected. Socket: None ...") are for debugging (-vv);
        # people are told what happens in plain sentences by the callbacks below.
        c.on_log = _paho_debug_log
        c.reconnect_delay_set(min_delay=RECONNECT_MIN_S, max_delay=RECONNECT_MAX_S)
        if cfg.username:
            password = read_password(cfg.password_file) if cfg.password_file else None
            c.username_pw_set(cfg.username, password)
        if cfg.tls:
            c.tls_set_context(tls_context(cfg))
        c.on_connect = self._handle_connect
        c.on_connect_fail = self._handle_connect_fail
        c.on_disconnect = self._handle_disconnect
        c.on_publish = self._handle_publish
        c.on_subscribe = self._handle_subscribe
        c.on_message = self._handle_message
        self._paho = c

    # -- paho callbacks (network thread) -------------------------------------------------------

    def _handle_connect(self, client, userdata, flags, reason_code, properties) -> None:
        sock = client.socket()
        if sock is not None:
            # paho leaves Nagle on: a small write (an ack) right after another (a PUBACK) would
            # wait for the broker's delayed ACK, ~40 ms per record round trip.
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._cond:
            self._connack = reason_code
            self._connected = not reason_code.is_failure
            if self._connected:
                self.generation += 1
            self._session_present = bool(getattr(flags, "session_present", False))
            self._max_packet = getattr(properties, "MaximumPacketSize", None) if properties else None
            self._cond.notify_all()
            resubscribe = self._connected and not self._session_present and self._subscriptions
            subs = list(self._subscriptions.items())
        # What `sync run` and `archive serve` say by default (their status lines): in the reader's language.
        if reason_code.is_failure:
            log.warning("%s", _("broker {where} refused {client}: {reason}; check its credentials (password file or "
                                "client certificate) and the ACL").format(where=self.where, client=self.client_id,
                                                                          reason=reason_code))
        elif self.generation > 1:
            log.info("%s", _("connected to broker {where} as {client} again").format(where=self.where,
                                                                                     client=self.client_id))
        else:
            log.info("%s", _("connected to broker {where} as {client}").format(where=self.where, client=self.client_id))
        if not reason_code.is_failure:
            log.debug("session present: %s", self._session_present)
        if resubscribe:
            client.subscribe([(f, paho.SubscribeOptions(qos=q)) for f, q in subs])
        if self._connected and self._on_connect is not None:
            try:
                self._on_connect(self._session_present)
            except Exception:
                log.exception("on_connect handler failed")

    def _handle_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        with self._cond:
            self._connected = False
            self._disconnect_reason = str(reason_code)
            self._cond.notify_all()
            closing = self._closing or not self._started
        if closing:
            log.debug("disconnected %s: %s", self.client_id, reason_code)
            return
        why = _("the connection dropped") if str(reason_code) == "Unspecified error" else str(reason_code).lower()
        log.warning("%s", _("lost the broker {where} ({why}); reconnecting in {wait}").format(
            where=self.where, why=why, wait=duration(self._next_retry_s())))

    def _handle_connect_fail(self, client, userdata) -> None:
        exc = getattr(client, "last_connect_error", None)
        why = tr(describe_connect_error(exc)) if exc is not None else _("no connection")
        log.warning("%s", _("broker {where} unreachable ({why}); retrying in {wait}").format(
            where=self.where, why=why, wait=duration(self._next_retry_s())))

    def _next_retry_s(self) -> int:
        """The pause paho makes before its next attempt (its reconnect delay doubles from
        ``RECONNECT_MIN_S`` to ``RECONNECT_MAX_S`` and starts again after a connection)."""
        current = getattr(self._paho, "_reconnect_delay", None)
        return RECONNECT_MIN_S if current is None else min(int(current) * 2, RECONNECT_MAX_S)

    def _handle_publish(self, client, userdata, mid, reason_code, properties) -> None:
        # Called with paho's message lock held: only record, never call back into paho here.
        with self._cond:
            self._pubacks[mid] = reason_code
            self._cond.notify_all()

    def _handle_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        with self._cond:
            self._subacks[mid] = list(reason_codes)
            self._cond.notify_all()

    def _handle_message(self, client, userdata, msg: paho.MQTTMessage) -> None:
        if self._on_message is None:
            return
        props = msg.properties
        corr = getattr(props, "CorrelationData", None) if props is not None else None
        users = getattr(props, "UserProperty", None) if props is not None else None
        resp = getattr(props, "ResponseTopic", None) if props is not None else None
        received = Received(topic=msg.topic, payload=bytes(msg.payload), qos=msg.qos,
                            correlation=bytes(corr) if corr is not None else None,
                            user_properties=tuple(tuple(u) for u in users or ()), response_topic=resp)
        try:
            self._on_message(received)
        except Exception:
            # An exception escaping into paho would kill its network thread and with it every
            # later delivery. The protocol recovers the item: the archive never acknowledged it,
            # so the dock re-sends it after its next ``init``.
            log.exception("message handler failed for %s; the item will be re-sent", msg.topic)

    # -- public API ----------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def where(self) -> str:
        """``host:port`` of the broker, as messages name it."""
        return f"{self.cfg.host}:{self.cfg.port}"

    @property
    def session_present(self) -> bool:
        return self._session_present

    def connect(self, timeout: float | None = None) -> bool:
        """Connect and wait for the CONNACK; returns whether the broker still had our session.
        After this, paho reconnects by itself; :meth:`wait_connected` waits for it."""
        timeout = self.cfg.connect_timeout_s if timeout is None else timeout
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self._session_expiry
        with self._cond:
            self._connack = None
            self._disconnect_reason = None
            self._closing = False
        try:
            self._paho.connect(self.cfg.host, self.cfg.port, keepalive=self.cfg.keepalive_s,
                               clean_start=self._clean_start, properties=props)
        except (OSError, ssl.SSLError) as exc:
            raise BrokerUnreachable(Message(N_("broker {where} unreachable ({why})"), where=self.where,
                                            why=describe_connect_error(exc))) from None
        if not self._started:
            self._paho.loop_start()
            self._started = True
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._connack is None and self._disconnect_reason is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            connack, dropped = self._connack, self._disconnect_reason
        if connack is not None and not connack.is_failure:
            return self._session_present
        self.close()
        if connack is not None:
            raise MqttError(Message(N_("broker {where} refused {client}: {reason}; check its credentials (password "
                                       "file or client certificate) and the ACL"), where=self.where,
                                    client=self.client_id, reason=str(connack)))
        if dropped is not None:
            raise MqttError(Message(N_("broker {where} closed the connection of {client} ({reason}); check its "
                                       "client certificate and credentials"), where=self.where,
                                    client=self.client_id, reason=dropped))
        raise BrokerUnreachable(Message(N_("broker {where} unreachable (no answer to our connect within "
                                           "{timeout:g} s)"), where=self.where, timeout=timeout))

    def wait_connected(self, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._connected, timeout)

    def subscribe(self, filters: Sequence[str], qos: int = 1, timeout: float = 10.0) -> None:
        """Subscribe and wait for the SUBACK; SubscribeRefused if the broker grants none."""
        if not self._connected:
            raise NotConnected(Message(N_("cannot subscribe to {filters}: not connected to the broker"),
                                       filters=", ".join(filters)))
        result, mid = self._paho.subscribe([(f, paho.SubscribeOptions(qos=qos)) for f in filters])
        if result != MQTTErrorCode.MQTT_ERR_SUCCESS or mid is None:
            raise NotConnected(Message(N_("cannot subscribe: {error}"), error=paho.error_string(result)))
        with self._cond:
            if not self._cond.wait_for(lambda: mid in self._subacks, timeout):
                raise MqttError(Message(N_("no SUBACK for {filters} within {timeout:g} s"), filters=", ".join(filters),
                                        timeout=timeout))
            codes = self._subacks.pop(mid)
            for f, code in zip(filters, codes, strict=False):
                if code.is_failure:
                    raise SubscribeRefused(f, code)
                self._subscriptions[f] = qos

    def publish(self, topic: str, payload: bytes, *, qos: int = 1, correlation: bytes | None = None,
                user_properties: Sequence[tuple[str, str]] = (), response_topic: str | None = None,
                ) -> PublishHandle:
        """Send now or raise: NotConnected while disconnected (nothing is queued behind the
        caller's back). If the link drops during the send, paho keeps the QoS 1 message and
        re-sends it on reconnect; the handle's ``wait`` then reports the PUBACK."""
        if not self._connected:
            raise NotConnected(f"not connected to the broker; {topic} was not sent")
        limit = self._max_packet
        if limit is not None and len(payload) + len(topic.encode()) + PROPERTY_ALLOWANCE > limit:
            raise MessageTooLarge(f"{len(payload)} bytes to {topic} exceed the broker's maximum packet size "
                                  f"({limit}); use smaller chunks")
        props = Properties(PacketTypes.PUBLISH)
        if correlation is not None:
            props.CorrelationData = correlation
        if user_properties:
            props.UserProperty = list(user_properties)
        if response_topic is not None:
            props.ResponseTopic = response_topic
        info = self._paho.publish(topic, payload, qos=qos, properties=props)
        if info.rc == MQTTErrorCode.MQTT_ERR_QUEUE_SIZE:
            raise MqttError(f"client queue full; {topic} was not sent")
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            raise MqttError(f"publish to {topic} failed: {paho.error_string(info.rc)}")
        if info.rc == MQTTErrorCode.MQTT_ERR_NO_CONN:
            log.warning("link dropped while sending %s; paho will re-send it on reconnect", topic)
        return PublishHandle(self, topic, info)

    def close(self) -> None:
        """Disconnect cleanly (the broker keeps the session for ``session_expiry_s``)."""
        with self._cond:
            self._closing = True
        try:
            self._paho.disconnect()
        finally:
            if self._started:
                self._paho.loop_stop()
                self._started = False
            with self._cond:
                self._connected = False

    def __enter__(self) -> MqttClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
