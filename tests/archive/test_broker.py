"""The broker deployment against a real Mosquitto: TLS, credentials, ACL, size limit, persistence.

The broker is the first access-control layer of the custody chain: a dock must not be able to
publish footage as another dock or read another dock's acknowledgements (A2 Art.16: access to
recordings is controlled and traceable).
"""

from __future__ import annotations

import queue
import socket
import ssl
import threading
import time
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from archive.broker.config import PACKET_OVERHEAD, BrokerDeployment, Listener, render_acl, render_conf
from archive.broker.pki import init_pki, issue_client
from bodycam.errors import ConfigError
from syncd import protocol as p
from syncd.mqtt import (
    MessageTooLarge,
    MqttClient,
    MqttError,
    NotConnected,
    PublishRefused,
    Received,
    SubscribeRefused,
    tls_context,
)

FILE_ID = "ab" * 32
OTHER_ID = "cd" * 32


class Inbox:
    def __init__(self) -> None:
        self.q: queue.Queue[Received] = queue.Queue()

    def __call__(self, msg: Received) -> None:
        self.q.put(msg)

    def get(self, timeout: float = 5.0) -> Received:
        return self.q.get(timeout=timeout)

    def until(self, topic: str, timeout: float = 5.0) -> list[Received]:
        """Everything received up to and including the first message on ``topic``."""
        seen = []
        while True:
            msg = self.get(timeout)
            seen.append(msg)
            if msg.topic == topic:
                return seen


def _client(broker, name, auth="cert", inbox=None, **kw) -> MqttClient:
    c = MqttClient(broker.client_config(name, auth=auth), name, on_message=inbox, **kw)
    c.connect()
    return c


@pytest.fixture
def broker(mosquitto):
    return mosquitto(docks=("dock-a", "dock-b"))


def test_tls_with_client_certificate_and_with_password(broker):
    for auth in ("cert", "password"):
        c = _client(broker, "dock-a", auth)
        assert c.connected
        c.close()
    assert "as dock-a (p5, c0, k5, u'dock-a')" in broker.log()


def test_wrong_password_anonymous_and_missing_certificate_are_refused(broker, tmp_path):
    wrong = tmp_path / "wrong.password"
    wrong.write_text("not-the-password\n")
    bad = broker.client_config("dock-a", auth="password", password_file=wrong)
    with pytest.raises(MqttError, match="refused dock-a"):
        MqttClient(bad, "dock-a").connect()
    anon = broker.client_config("dock-a", auth="password", username=None, password_file=None)
    with pytest.raises(MqttError):
        MqttClient(anon, "anon").connect()
    no_cert = broker.client_config("dock-a", auth="cert", cert_file=None, key_file=None)
    with pytest.raises(MqttError):
        MqttClient(no_cert, "dock-a").connect()
    # A certificate from another CA is not a dock of this deployment.
    init_pki(tmp_path / "rogue")
    cert, key = issue_client(tmp_path / "rogue", "dock-a")
    rogue = broker.client_config("dock-a", auth="cert", cert_file=cert, key_file=key)
    with pytest.raises(MqttError):
        MqttClient(rogue, "dock-a").connect()


def test_client_checks_the_broker_certificate(broker, tmp_path):
    other = init_pki(tmp_path / "other")
    cfg = broker.client_config("dock-a", auth="password", ca_file=other.ca_cert)
    with pytest.raises(MqttError, match=r"unreachable \(its TLS certificate does not verify: self-signed"):
        MqttClient(cfg, "dock-a").connect()


def test_dock_publishes_under_its_prefix_and_receives_its_ack(broker):
    archive_in, dock_in = Inbox(), Inbox()
    archive = _client(broker, "archive", inbox=archive_in)
    archive.subscribe(list(p.ARCHIVE_SUBSCRIPTIONS))
    dock = _client(broker, "dock-a", inbox=dock_in)
    dock.subscribe([p.ack_topic("dock-a")])

    env = b'{"payloadType":"x"}'
    init = p.Init(size=5, chunk_size=p.CHUNK_MIN, sha256=p.sha256_hex(b"hello"), envelope=env)
    topic = p.init_topic("dock-a", init.file_id)
    dock.publish(topic, init.to_json(), correlation=init.file_id.encode()).wait(5)
    got = archive_in.get()
    assert got.topic == topic and got.correlation == init.file_id.encode()
    decoded = p.decode_dock_message(got.topic, got.payload, got.user_properties)
    assert decoded.body == init

    header = p.ChunkHeader.for_data(0, b"hello")
    dock.publish(p.seg_topic("dock-a", init.file_id, 0), b"hello", user_properties=header.user_properties()).wait(5)
    got = archive_in.get()
    chunk = p.decode_dock_message(got.topic, got.payload, got.user_properties).body
    p.verify_chunk(init, chunk.header, chunk.data)

    payload, corr = p.encode_ack(p.Stored(p.Subject.xfer, init.file_id, 0))
    archive.publish(p.ack_topic("dock-a"), payload, correlation=corr).wait(5)
    ack = dock_in.get()
    assert p.decode_ack(ack.payload, ack.correlation) == p.Stored(p.Subject.xfer, init.file_id, 0)
    archive.close()
    dock.close()


def test_dock_cannot_publish_as_another_dock_nor_forge_its_acks(broker):
    archive_in, dock_a_in = Inbox(), Inbox()
    archive = _client(broker, "archive", inbox=archive_in)
    archive.subscribe(list(p.ARCHIVE_SUBSCRIPTIONS) + ["bodycam/v1/+/ack"])
    dock_a = _client(broker, "dock-a", inbox=dock_a_in)
    dock_a.subscribe([p.ack_topic("dock-a")])

    forged = p.init_topic("dock-b", FILE_ID)
    with pytest.raises(PublishRefused) as err:
        dock_a.publish(forged, b"{}").wait(5)
    assert err.value.reason.value == 0x87  # not authorized
    with pytest.raises(PublishRefused):
        dock_a.publish(p.rec_topic("dock-b", FILE_ID), b"{}").wait(5)
    with pytest.raises(PublishRefused):  # a dock cannot acknowledge itself
        dock_a.publish(p.ack_topic("dock-a"), b"{}").wait(5)
    with pytest.raises(PublishRefused):  # nor write outside the protocol's topics
        dock_a.publish("bodycam/v1/dock-a/other", b"{}").wait(5)

    sentinel = p.fin_topic("dock-a", FILE_ID)
    dock_a.publish(sentinel, b"{}").wait(5)
    seen = archive_in.until(sentinel)
    assert [m.topic for m in seen] == [sentinel], "the archive must never see a denied publish"
    assert dock_a_in.q.empty()
    archive.close()
    dock_a.close()


def test_dock_cannot_read_another_docks_ack(broker):
    """Mosquitto 2.0's acl_file does not check SUBSCRIBE (it grants every filter) but checks the
    read ACL on every delivery: what matters is that dock A never receives dock B's acks."""
    archive = _client(broker, "archive")
    dock_a_in = Inbox()
    dock_a = _client(broker, "dock-a", inbox=dock_a_in)
    for topic_filter in (p.ack_topic("dock-b"), "bodycam/v1/+/ack", "bodycam/v1/#", p.ack_topic("dock-a")):
        try:
            dock_a.subscribe([topic_filter])
        except SubscribeRefused as err:
            assert err.reason.value == 0x87
    payload, corr = p.encode_ack(p.Stored(p.Subject.xfer, OTHER_ID, 1))
    archive.publish(p.ack_topic("dock-b"), payload, correlation=corr).wait(5)
    payload, corr = p.encode_ack(p.Stored(p.Subject.xfer, FILE_ID, 2))
    archive.publish(p.ack_topic("dock-a"), payload, correlation=corr).wait(5)
    seen = dock_a_in.until(p.ack_topic("dock-a"))
    assert [m.topic for m in seen] == [p.ack_topic("dock-a")], "dock-a must not see dock-b's ack"
    assert p.decode_ack(seen[0].payload, seen[0].correlation).id == FILE_ID
    archive.close()
    dock_a.close()


def test_oversize_message_is_refused_and_never_delivered(broker):
    archive_in = Inbox()
    archive = _client(broker, "archive", inbox=archive_in)
    archive.subscribe(list(p.ARCHIVE_SUBSCRIPTIONS))
    dock = _client(broker, "dock-a")
    big = p.seg_topic("dock-a", FILE_ID, 0)
    # Our client honours the Maximum Packet Size the broker announces and refuses to send...
    with pytest.raises(MessageTooLarge):
        dock.publish(big, b"\0" * (p.MAX_PAYLOAD_BYTES + PACKET_OVERHEAD))
    # ...and a client that ignores it is disconnected by the broker; nothing is forwarded.
    rogue_cfg = broker.client_config("dock-b", auth="password")
    rogue = paho.Client(CallbackAPIVersion.VERSION2, client_id="dock-b", protocol=paho.MQTTv5,
                        reconnect_on_failure=False)
    rogue.username_pw_set("dock-b", rogue_cfg.password_file.read_text().strip())
    rogue.tls_set_context(tls_context(rogue_cfg))
    dropped = threading.Event()
    rogue.on_disconnect = lambda *a: dropped.set()
    rogue.connect(rogue_cfg.host, rogue_cfg.port)
    rogue.loop_start()
    rogue.publish(p.seg_topic("dock-b", FILE_ID, 0), b"\0" * (p.MAX_PAYLOAD_BYTES + PACKET_OVERHEAD), qos=0)
    assert dropped.wait(10), "the broker must drop a client that sends an oversize packet"
    rogue.loop_stop()

    largest = p.seg_topic("dock-a", FILE_ID, 1)
    dock.publish(largest, b"\1" * p.MAX_PAYLOAD_BYTES,
                 user_properties=p.ChunkHeader.for_data(1, b"").user_properties()).wait(10)
    seen = archive_in.until(largest, timeout=10)
    assert [m.topic for m in seen] == [largest] and len(seen[0].payload) == p.MAX_PAYLOAD_BYTES
    archive.close()
    dock.close()


def test_persistent_session_gets_queued_messages_after_broker_restart(broker):
    archive_in = Inbox()
    archive = MqttClient(broker.client_config("archive"), "archive", on_message=archive_in)
    assert archive.connect() is False
    archive.subscribe(list(p.ARCHIVE_SUBSCRIPTIONS))
    archive.close()  # offline; the broker keeps its session and queues QoS 1 messages for it

    dock = _client(broker, "dock-a")
    topics = [p.seg_topic("dock-a", FILE_ID, i) for i in range(5)]
    for i, topic in enumerate(topics):
        dock.publish(topic, bytes([i]) * 1000).wait(5)

    broker.stop()  # SIGTERM: mosquitto saves its database
    deadline = time.monotonic() + 5
    while dock.connected and time.monotonic() < deadline:
        time.sleep(0.01)
    with pytest.raises(NotConnected):  # never a silent drop while the broker is away
        dock.publish(topics[0], b"x")
    broker.start()
    assert dock.wait_connected(15), "paho reconnects by itself"

    assert archive.connect() is True, "the broker must have kept the archive's session"
    got = [archive_in.get(10) for _ in topics]
    assert [m.topic for m in got] == topics
    assert [m.payload for m in got] == [bytes([i]) * 1000 for i in range(5)]
    archive.close()
    dock.close()


def test_rendered_conf_and_acl_say_what_the_broker_enforces(tmp_path):
    dep = BrokerDeployment(dir=tmp_path, docks=("dock-a",), listeners=(Listener(8883),))
    conf = render_conf(dep)
    for line in ("allow_anonymous false", "require_certificate true", "use_identity_as_username true",
                 "persistence true", f"max_packet_size {p.MAX_PAYLOAD_BYTES + PACKET_OVERHEAD}"):
        assert line in conf.splitlines()
    acl = render_acl(dep).splitlines()
    assert acl[acl.index("user dock-a") + 1:] == [
        "topic write bodycam/v1/dock-a/xfer/#", "topic write bodycam/v1/dock-a/rec/+",
        "topic write bodycam/v1/dock-a/ckpt/+", "topic read bodycam/v1/dock-a/ack"]
    with pytest.raises(ConfigError):
        Listener(1883, bind="0.0.0.0", tls=False, client_certs=False)
    with pytest.raises(ConfigError):
        BrokerDeployment(dir=tmp_path, docks=("archive",))


def test_a_dock_added_while_running_gets_access_after_reload(broker, tmp_path):
    guess = tmp_path / "guess.password"
    guess.write_text("guessed\n")
    cfg = broker.client_config("dock-c", auth="password", password_file=guess)
    with pytest.raises(MqttError):  # not registered yet: no password entry
        MqttClient(cfg, "dock-c").connect()
    broker.add_dock("dock-c")
    archive_in = Inbox()
    archive = _client(broker, "archive", inbox=archive_in)
    archive.subscribe(list(p.ARCHIVE_SUBSCRIPTIONS))
    for auth in ("cert", "password"):
        dock = _client(broker, "dock-c", auth)
        dock.publish(p.fin_topic("dock-c", FILE_ID), b"{}").wait(5)
        assert archive_in.get().topic == p.fin_topic("dock-c", FILE_ID)
        with pytest.raises(PublishRefused):
            dock.publish(p.fin_topic("dock-a", FILE_ID), b"{}").wait(5)
        dock.close()
    archive.close()


def test_cut_mid_chunk_paho_resends_the_whole_message_after_reconnect(mosquitto, tcp_relay):
    broker = mosquitto(plain=True)
    relay = tcp_relay(broker.host, broker.plain_port)
    archive_in = Inbox()
    archive = _client(broker, "archive", auth="plain", inbox=archive_in)
    archive.subscribe(list(p.ARCHIVE_SUBSCRIPTIONS))
    connects: list[bool] = []
    dock = MqttClient(broker.client_config("dock-a", auth="plain", port=relay.port), "dock-a",
                      on_connect=connects.append)
    dock.connect()
    chunk = bytes(range(256)) * 4096  # 1 MiB
    header = p.ChunkHeader.for_data(0, chunk)
    relay.cut_after(len(chunk) // 2)
    handle = dock.publish(p.seg_topic("dock-a", FILE_ID, 0), chunk, user_properties=header.user_properties())
    assert handle.wait(15).value == 0
    assert relay.connections == 2, "the client must have reconnected once"
    assert dock.generation == 2 and connects == [False, True], "on_connect runs on every (re)connect"
    got = archive_in.get(10)
    msg = p.decode_dock_message(got.topic, got.payload, got.user_properties)
    assert msg.body.header == header and msg.body.data == chunk
    assert archive_in.q.empty()
    archive.close()
    dock.close()


def test_a_failing_handler_does_not_stop_delivery(broker):
    seen: list[str] = []

    def handler(msg: Received) -> None:
        seen.append(msg.topic)
        if len(seen) == 1:
            raise OSError("disk full")

    archive = _client(broker, "archive", inbox=handler)
    archive.subscribe(list(p.ARCHIVE_SUBSCRIPTIONS))
    dock = _client(broker, "dock-a")
    topics = [p.seg_topic("dock-a", FILE_ID, i) for i in range(3)]
    for t in topics:
        dock.publish(t, b"x").wait(5)
    deadline = time.monotonic() + 5
    while len(seen) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert seen == topics
    archive.close()
    dock.close()


def test_publish_before_connect_raises(broker):
    dock = MqttClient(broker.client_config("dock-a"), "dock-a")
    with pytest.raises(NotConnected):
        dock.publish(p.fin_topic("dock-a", FILE_ID), b"{}")
    with pytest.raises(NotConnected):
        dock.subscribe([p.ack_topic("dock-a")])


def test_a_dock_cannot_take_over_the_archive_session(broker):
    archive_in = Inbox()
    archive = _client(broker, "archive", inbox=archive_in)
    archive.subscribe(list(p.ARCHIVE_SUBSCRIPTIONS))
    # dock-a asks for the archive's client id; the broker names the session after dock-a instead.
    impostor = MqttClient(broker.client_config("dock-a", client_id="archive"), "archive")
    impostor.connect()
    impostor.publish(p.fin_topic("dock-a", FILE_ID), b"{}").wait(5)
    assert archive_in.get().topic == p.fin_topic("dock-a", FILE_ID)
    assert archive.connected
    assert "Client archive already connected" not in broker.log()
    impostor.close()
    archive.close()


def test_render_writes_absolute_paths_so_mosquitto_starts_from_any_folder(tmp_path, monkeypatch):
    """A relative --dir used to give relative paths, which Mosquitto resolves against the folder it
    is started in: the configuration only worked when started from that folder."""
    monkeypatch.chdir(tmp_path)
    dep = BrokerDeployment(dir=Path("broker"), docks=("dock-a",), listeners=(Listener(8883),))
    conf = render_conf(dep)
    paths = [line.split(None, 1)[1] for line in conf.splitlines()
             if line.split(None, 1)[:1] and line.split()[0] in
             ("password_file", "acl_file", "persistence_location", "cafile", "certfile", "keyfile")]
    assert len(paths) == 6, conf
    for path in paths:
        assert Path(path).is_absolute(), path
        assert Path(path).is_relative_to(tmp_path / "broker"), path


def test_broker_prefers_chacha20_for_docks_without_aes_instructions(broker):
    """The broker's cipher order puts ChaCha20-Poly1305 first (issue 18 item 5: a Raspberry Pi 4
    dock has no AES instructions; figures in docs/benchmarks.md): a client offering AES-GCM first
    still gets ChaCha20, over TLS 1.3 and over TLS 1.2; a client offering only AES-GCM gets that."""
    def negotiated(configure) -> str:
        ctx = ssl.create_default_context(cafile=str(broker.ca_file))
        configure(ctx)
        with socket.create_connection(("127.0.0.1", broker.password_port), timeout=5) as raw, \
                ctx.wrap_socket(raw, server_hostname="localhost") as tls:
            return tls.cipher()[0]

    assert negotiated(lambda ctx: None) == "TLS_CHACHA20_POLY1305_SHA256"

    def tls12(ctx):
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers("ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305")

    assert negotiated(tls12) == "ECDHE-ECDSA-CHACHA20-POLY1305"

    def tls12_aes_only(ctx):
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers("ECDHE-ECDSA-AES128-GCM-SHA256")

    assert negotiated(tls12_aes_only) == "ECDHE-ECDSA-AES128-GCM-SHA256"
