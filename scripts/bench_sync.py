"""``scripts/bench.py sync``: dock store → MQTT → archive blob store, fsynced and ledgered (issue 7).

What is measured, with the same bytes each time:

* **sync**: ``--size`` of segments (``--segment-size`` each) in the dock store, sent by the
  uploader (1 MiB chunks, window 16) through Mosquitto to the archive receiver, which flushes
  every chunk, verifies, moves each blob into its content-addressed store and appends the
  segment to its ledger (``synchronous=FULL``); once with TLS off (loopback listener), once with
  TLS on (TLS + password listener). Both daemons run as their own processes; their peak RSS
  comes from ``wait4``.
* **MQTT ceiling**: raw paho-mqtt, QoS 1, one publisher process → the same broker → one
  subscriber process, the same bytes in 1 MiB messages, at most 16 in flight, no disk writes.
* **disk ceiling**: ``dd bs=1M conv=fsync`` of the same blob files.
* **big file**: one ``--big-size`` segment (default 4 GiB) through the same path, to show the
  daemons' memory does not grow with the file.

The ratio compares sync to the lower of the two ceilings (target ≥ 0.8, issue 18).

**CPU per GiB per role** (issue 18 item 5; on a deployment dock and archive are different
machines, so each side's cost is what decides its speed), user + system CPU of each process from
``wait4``, minus what the process had used when its work began (imports, connecting; each child
writes that mark to ``$BENCH_CPU_MARK``), divided by the GiB moved, in the same run:

* **syncd** against the raw paho publisher above (same files, chunks, QoS 1, window 16);
  target ≤ 1.15× (what the dock adds: per-chunk SHA-256 header, window and state bookkeeping);
* **archive receiver** against the raw paho subscriber + one SHA-256 pass over the bytes
  (``hashlib``, thread CPU) + ``dd bs=1M conv=fsync`` of the same files; target ≤ 1.25×.

The broker's CPU is neither role's. The daemons are run
through small runners that import only syncd / archive (``bodycam`` itself also imports OpenCV
for the dock commands, ~80 MB before doing anything); the ``bodycam`` CLI's own peak RSS is
reported for the TLS-off run too.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
BODYCAM = str(Path(PY).with_name("bodycam"))
MIB = 1 << 20
DOCK = "bench-dock"
T0 = 1_796_000_000 * 1_000_000_000


def parse_size(text: str) -> int:
    text = text.strip().upper().removesuffix("B").removesuffix("I")
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1)
    return int(float(text[:-1] if text[-1:] in "KMG" else text) * mult)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _toml(sections: dict[str, dict]) -> str:
    def val(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int | float):
            return repr(v)
        return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'
    out = []
    for name, values in sections.items():
        out.append(f"[{name}]")
        out += [f"{k} = {val(v)}" for k, v in values.items() if v is not None]
        out.append("")
    return "\n".join(out)


# -- the world ------------------------------------------------------------------------------------


class Broker:
    def __init__(self, root: Path, *, tls13_ciphers: str | None = None, env: dict | None = None):
        from archive.broker.config import BrokerDeployment, Listener, write_deployment
        from archive.broker.pki import init_pki, issue_client

        self.plain_port, self.tls_port = free_port(), free_port()
        self.dep = BrokerDeployment(dir=root / "broker", docks=(DOCK,), archive="archive",
                                    listeners=(Listener(self.tls_port, bind="127.0.0.1", client_certs=False),
                                               Listener(self.plain_port, bind="127.0.0.1", tls=False,
                                                        client_certs=False)),
                                    run_as=os.environ.get("USER") or "root",
                                    # the raw ceiling has no end-to-end flow control: let the
                                    # broker queue whatever the subscriber has not taken yet
                                    max_queued_messages=1 << 20, max_queued_bytes=0,
                                    **({"tls13_ciphers": tls13_ciphers} if tls13_ciphers else {}))
        init_pki(self.dep.pki.dir, ["localhost"])
        for name in self.dep.identities:
            issue_client(self.dep.pki.dir, name)
        write_deployment(self.dep)
        log = (root / "mosquitto.log").open("ab")
        self.proc = subprocess.Popen(["/usr/sbin/mosquitto", "-c", str(self.dep.conf_path)], stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True,
                                     env={**os.environ, **(env or {})})
        for port in (self.plain_port, self.tls_port):
            deadline = time.monotonic() + 10
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError("mosquitto did not start") from None
                    time.sleep(0.05)

    def section(self, name: str, tls: bool) -> dict:
        s = {"host": "localhost" if tls else "127.0.0.1", "port": self.tls_port if tls else self.plain_port,
             "tls": tls, "username": name, "password_file": str(self.dep.password_path(name)), "client_id": name,
             "keepalive_s": 30}
        if tls:
            s["ca_file"] = str(self.dep.pki.ca_cert)
        return s

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def make_dock(root: Path, sizes: list[int], seed: int) -> tuple[Path, list[Path]]:
    """A dock folder whose store holds ``sizes`` segments of pseudo-random bytes, sealed and chained."""
    import numpy as np

    from agent.store import DockStore
    from bodycam.permissions import private_dir
    from ledger.blobs import BLOB_MODE
    from ledger.enroll import create_rooted, enroll, public_of
    from ledger.envelope import seal
    from ledger.keys import Signer, generate_key_file
    from ledger.records import Media, Segment, make_body
    from ledger.store import Ledger

    d = root / "dock"
    private_dir(d / "keys")
    dock_key = generate_key_file(d / "keys" / "dock.key")
    device = Signer.generate()
    store = DockStore(d / "store")
    pool = np.random.default_rng(seed).integers(0, 256, 64 * MIB, dtype=np.uint8).tobytes()
    blobs, envs = [], []
    with Ledger.open(d / "ledger.db") as lg:
        create_rooted(lg, dock_key, DOCK, now_ns=T0)
        prev = enroll(lg, dock_key, "device", "rec-1", public_of(device), now_ns=T0, custodian="officer-1").entry_hash
        for seq, size in enumerate(sizes):
            tmp = store.tmp_dir / f"bench-{seq}.part"
            h = hashlib.sha256()
            with open(tmp, "wb") as f:
                left, i = size, 0
                while left:
                    off = ((seq * 7919 + i * 104729) * 4096) % (63 * MIB)
                    block = pool[off: off + min(MIB, left)]
                    f.write(block)
                    h.update(block)
                    left -= len(block)
                    i += 1
                f.flush()
                os.fsync(f.fileno())
            sha = h.hexdigest()
            path = store.blob_path(sha)
            private_dir(path.parent)
            os.chmod(tmp, BLOB_MODE)
            os.rename(tmp, path)
            blobs.append(path)
            start = T0 + seq * 600 * 10**9
            body = Segment(device_id="rec-1", seq=seq, prev=prev,
                           media=Media(sha256=sha, size=size, container="mp4", codec="h264", width=1920, height=1080,
                                       fps="25", frames=15000, duration_ms=600_000),
                           device_start="2026-11-30 08:00:00", start_ns=start, end_ns=start + 600 * 10**9,
                           officer_id="officer-1", case_id="case-1", source_name=f"VID_{seq:04d}.MP4", decodable=True)
            env = seal(make_body(body), device)
            prev = hashlib.sha256(env.to_bytes()).hexdigest()
            envs.append(env)
        lg.append_many(envs, require_trusted=True)
    return d, blobs


def make_archive(root: Path, dock_dir: Path) -> Path:
    from archive.docks import register_dock
    from bodycam.permissions import private_dir
    from ledger.enroll import create_rooted, enroll, public_of
    from ledger.keys import generate_key_file, load_public_key, write_public_key
    from ledger.store import Ledger

    a = root / "archive"
    if a.exists():
        shutil.rmtree(a)
    private_dir(a / "keys")
    admin = generate_key_file(a / "keys" / "admin.key")
    log_key = generate_key_file(a / "keys" / "log.key")
    write_public_key(a / "keys" / "log.pub", log_key.public_key)
    with Ledger.open(a / "ledger.db") as lg:
        create_rooted(lg, admin, "archive-admin", now_ns=T0)
        enroll(lg, admin, "archive_log", "archive-log", public_of(log_key), now_ns=T0)
        register_dock(lg, admin, DOCK, load_public_key(dock_dir / "keys" / "dock.key"), now_ns=T0)
    return a


def write_configs(root: Path, broker: Broker, dock: Path, archive: Path, tls: bool, chunk: int) -> tuple[Path, Path]:
    (dock / "sync.db").unlink(missing_ok=True)
    dcfg = dock / "bodycam.toml"
    dcfg.write_text(_toml({"agent": {"dock_id": DOCK, "data_dir": str(dock)},
                           "syncd": {"chunk_size": chunk, "window": 16, "ack_timeout_s": 30.0,
                                     "archive_pubkey": str(archive / "keys" / "log.pub")},
                           "syncd.broker": broker.section(DOCK, tls)}))
    acfg = archive / "bodycam.toml"
    acfg.write_text(_toml({"archive": {"data_dir": str(archive), "origin": "bench.bodycam/archive"},
                           "archive.broker": broker.section("archive", tls)}))
    return dcfg, acfg


# -- running and measuring -------------------------------------------------------------------------


def _hwm(pid: int) -> float:
    """VmHWM of a live process in MB (its peak RSS since exec; wait4's ru_maxrss would also count
    the parent's memory inherited at fork)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _daemon_pid(proc: subprocess.Popen) -> int:
    """The daemon itself (under py-spy when profiling, its child)."""
    try:
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
    except OSError:
        return proc.pid
    return int(children[0]) if os.environ.get("BENCH_SYNC_PYSPY") and children else proc.pid


CPU_MARK_ENV = "BENCH_CPU_MARK"


def _mark_cpu() -> None:
    """In a child: write the CPU seconds used so far (start-up) where the parent asked."""
    path = os.environ.get(CPU_MARK_ENV)
    if path:
        ru = resource.getrusage(resource.RUSAGE_SELF)
        Path(path).write_text(f"{ru.ru_utime + ru.ru_stime:.6f}")


def _marked_env(mark: Path) -> dict:
    mark.unlink(missing_ok=True)
    return {**os.environ, CPU_MARK_ENV: str(mark)}


def _work_cpu(cpu: tuple[float, float], mark: Path) -> float:
    """CPU seconds (user + system) a child spent after its mark (all of it without one)."""
    try:
        start = float(mark.read_text())
    except (OSError, ValueError):
        start = 0.0
    return max(0.0, cpu[0] + cpu[1] - start)


def _wait_cpu(proc: subprocess.Popen, timeout: float = 120) -> tuple[float, float]:
    """Reap a child; its CPU seconds (user, system) from wait4."""
    deadline = time.monotonic() + timeout
    while True:
        pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return ru.ru_utime, ru.ru_stime
        if time.monotonic() > deadline:
            raise TimeoutError(f"pid {proc.pid} still running")
        time.sleep(0.02)


def _wait_rss(proc: subprocess.Popen, timeout: float | None = None) -> tuple[int, float, tuple[float, float]]:
    """Exit status, peak RSS (MB, sampled every 50 ms) and CPU seconds (user, system) of a child."""
    deadline = None if timeout is None else time.monotonic() + timeout
    peak = 0.0
    while True:
        peak = max(peak, _hwm(_daemon_pid(proc)))
        pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return proc.returncode, peak, (ru.ru_utime, ru.ru_stime)
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"pid {proc.pid} still running")
        time.sleep(0.05)


def run_sync(root: Path, broker: Broker, dock: Path, blobs: list[Path], tls: bool, chunk: int,
             cli: bool = False) -> dict:
    archive = make_archive(root, dock)
    dcfg, acfg = write_configs(root, broker, dock, archive, tls, chunk)
    total = sum(b.stat().st_size for b in blobs)
    alog = (root / f"archive-{'tls' if tls else 'plain'}.log").open("ab")
    spy = os.environ.get("BENCH_SYNC_PYSPY")  # a folder: profile both daemons with py-spy (development aid)
    prefix = (lambda name: [str(Path(PY).with_name("py-spy")), "record", "-s", "-r", "200", "-f", "raw",
                            "-o", f"{spy}/{name}-{'tls' if tls else 'plain'}.json", "--"]) if spy else (lambda name: [])
    amark, dmark = root / "cpu-archive.mark", root / "cpu-syncd.mark"
    arch = subprocess.Popen([*prefix("archive"), PY, __file__, "_daemon", "archive", str(acfg)], stdout=alog,
                            stderr=subprocess.STDOUT, env=_marked_env(amark))
    time.sleep(2.0)  # connected and subscribed
    cmd = ([BODYCAM, "--config", str(dcfg), "sync", "run", "--once", "--json"] if cli
           else [*prefix("syncd"), PY, __file__, "_daemon", "syncd", str(dcfg)])
    t0 = time.perf_counter()
    dock_proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=alog, env=_marked_env(dmark))
    import threading

    box: dict = {}
    reader = threading.Thread(target=lambda: box.setdefault("out", dock_proc.stdout.read()), daemon=True)
    reader.start()
    arch_peak = {"mb": 0.0}
    code, dock_rss, dock_cpu = _wait_rss(dock_proc)
    elapsed = time.perf_counter() - t0
    reader.join(10)
    out = box.get("out", b"")
    arch_peak["mb"] = _hwm(_daemon_pid(arch))
    os.kill(_daemon_pid(arch), signal.SIGTERM)  # under py-spy: the daemon, then py-spy writes its profile
    acode, arch_rss, arch_cpu = _wait_rss(arch, 60)
    arch_rss = max(arch_rss, arch_peak["mb"])
    alog.close()
    if code != 0:
        raise RuntimeError(f"sync exited {code}: {out.decode(errors='replace')[-2000:]}")
    text = out.decode()
    result = json.loads(text[text.index("{"):])
    from ledger.store import Ledger

    with Ledger.open(archive / "ledger.db", readonly=True) as lg:
        segs = sum(1 for _ in lg.entries(kind="segment"))
    stored = sorted(p.name for p in (archive / "blobs" / "sha256").rglob("*") if p.is_file())
    ok = segs == len(blobs) and stored == sorted(b.name for b in blobs) and result["rejected"] == []
    return {"tls": tls, "bytes": total, "seconds": round(elapsed, 3), "mb_s": round(total / elapsed / 1e6, 1),
            "syncd_rss_mb": round(dock_rss, 1), "archive_rss_mb": round(arch_rss, 1), "segments": segs,
            "syncd_cpu_user_sys_s": [round(x, 3) for x in dock_cpu],
            "archive_cpu_user_sys_s": [round(x, 3) for x in arch_cpu],
            "syncd_work_cpu_s": round(_work_cpu(dock_cpu, dmark), 3),
            "archive_work_cpu_s": round(_work_cpu(arch_cpu, amark), 3),
            "chunks_sent": result["chunks_sent"], "complete": ok, "runner": "bodycam CLI" if cli else "lean",
            "archive_exit": acode}


def mqtt_ceiling(root: Path, broker: Broker, blobs: list[Path], tls: bool, chunk: int, env: dict | None = None) -> dict:
    total = sum(b.stat().st_size for b in blobs)
    spec = {"broker": broker.section("archive", tls), "total": total}
    smark, pmark = root / "cpu-raw-sub.mark", root / "cpu-raw-pub.mark"
    sub = subprocess.Popen([PY, __file__, "_raw-sub", json.dumps(spec)], stdout=subprocess.PIPE,
                           env={**_marked_env(smark), **(env or {})})
    time.sleep(1.5)
    pspec = {"broker": broker.section(DOCK, tls), "files": [str(b) for b in blobs], "chunk": chunk}
    pub = subprocess.Popen([PY, __file__, "_raw-pub", json.dumps(pspec)], stdout=subprocess.PIPE,
                           env={**_marked_env(pmark), **(env or {})})
    first = pub.stdout.readline().split()
    t_start, cipher = float(first[0]), (first[1].decode() if len(first) > 1 else None)
    end, got = sub.stdout.readline().split()
    pub_cpu = _wait_cpu(pub)
    sub_cpu = _wait_cpu(sub)
    elapsed = float(end) - t_start
    return {"tls": tls, "bytes": int(got), "lost_bytes": total - int(got), "seconds": round(elapsed, 3),
            "mb_s": round(int(got) / elapsed / 1e6, 1),
            "cipher": cipher, "pub_work_cpu_s": round(_work_cpu(pub_cpu, pmark), 3),
            "sub_work_cpu_s": round(_work_cpu(sub_cpu, smark), 3)}


def dd_ceiling(root: Path, blobs: list[Path]) -> dict:
    out = root / "dd"
    out.mkdir(exist_ok=True)
    total = sum(b.stat().st_size for b in blobs)
    t0 = time.perf_counter()
    cpu = 0.0
    for b in blobs:
        proc = subprocess.Popen(["dd", f"if={b}", f"of={out / b.name}", "bs=1M", "conv=fsync", "status=none"])
        user, system = _wait_cpu(proc, 600)
        if proc.returncode != 0:
            raise RuntimeError(f"dd exited {proc.returncode}")
        cpu += user + system
    elapsed = time.perf_counter() - t0
    shutil.rmtree(out)
    return {"bytes": total, "seconds": round(elapsed, 3), "mb_s": round(total / elapsed / 1e6, 1),
            "cpu_s": round(cpu, 3)}


def sha_pass_cpu(blobs: list[Path]) -> float:
    """Thread CPU seconds of one ``hashlib.sha256`` pass over the files' bytes (1 MiB blocks,
    reads not counted: the archive hashes bytes it already has in memory)."""
    spent = 0.0
    for b in blobs:
        h = hashlib.sha256()
        with open(b, "rb", buffering=0) as f:
            while block := f.read(MIB):
                t = time.thread_time()
                h.update(block)
                spent += time.thread_time() - t
    return round(spent, 3)


# -- child processes ------------------------------------------------------------------------------


def _daemon(role: str, config: str) -> int:
    sys.path.insert(0, str(ROOT))
    from bodycam.config import load_config

    cfg, _ = load_config(Path(config))
    stop = __import__("threading").Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    if role == "syncd":
        from syncd.uploader import Uploader

        scfg = cfg.syncd.model_copy(update={"broker": cfg.syncd.broker.resolved(cfg.agent.data_dir)})
        up = Uploader(cfg.agent, scfg, stop_event=stop)
        _mark_cpu()
        try:
            res = up.run(once=True)
        finally:
            up.close()
        print(json.dumps(res.to_json()))
        return 0 if not res.rejected and not res.queued else 3
    from archive.receiver import load_receiver

    receiver = load_receiver(cfg.archive, stop_event=stop)
    _mark_cpu()
    receiver.run()
    return 0


def _client(section: dict, client_id: str, on_message=None):
    import ssl

    from syncd.mqtt import tune_allocator

    tune_allocator()  # the same allocator settings as the daemons: a like-for-like ceiling
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    c = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5)
    c.username_pw_set(section["username"], Path(section["password_file"]).read_text().strip())
    if section["tls"]:
        c.tls_set_context(ssl.create_default_context(cafile=section["ca_file"]))
    c.on_message = on_message
    return c


def _raw_sub(spec_json: str) -> int:
    import threading

    spec = json.loads(spec_json)
    got = {"bytes": 0}
    done = threading.Event()

    def on_message(client, userdata, msg):
        got["bytes"] += len(msg.payload)
        if got["bytes"] >= spec["total"]:
            got["end"] = time.time()
            done.set()

    c = _client(spec["broker"], "archive", on_message)
    c.on_connect = lambda client, *a: client.subscribe("bodycam/v1/+/xfer/#", qos=1)
    c.connect(spec["broker"]["host"], spec["broker"]["port"], clean_start=True)
    c.loop_start()
    _mark_cpu()
    last = -1
    while not done.wait(10):  # nothing for 10 s: messages were lost; report what arrived
        if got["bytes"] == last:
            got["end"] = time.time() - 10
            break
        last = got["bytes"]
    print(got["end"], got["bytes"], flush=True)
    c.loop_stop()
    return 0


def _raw_pub(spec_json: str) -> int:
    import threading

    spec = json.loads(spec_json)
    chunk = spec["chunk"]
    c = _client(spec["broker"], DOCK)
    c.max_inflight_messages_set(16)
    slots = threading.Semaphore(16)
    c.on_publish = lambda *a: slots.release()
    connected = threading.Event()
    c.on_connect = lambda *a: connected.set()
    c.connect(spec["broker"]["host"], spec["broker"]["port"], clean_start=True)
    c.loop_start()
    connected.wait(10)
    _mark_cpu()
    sock = c.socket()
    cipher = sock.cipher()[0] if hasattr(sock, "cipher") else "none"
    print(time.time(), cipher, flush=True)
    n = 0
    for f in spec["files"]:
        fd = os.open(f, os.O_RDONLY)
        size, off = os.fstat(fd).st_size, 0
        while off < size:
            data = os.pread(fd, min(chunk, size - off), off)
            slots.acquire()
            c.publish(f"bodycam/v1/{DOCK}/xfer/{'ab' * 32}/seg/{n % 1000000}", data, qos=1)
            off += len(data)
            n += 1
        os.close(fd)
    for _ in range(16):
        slots.acquire()
    c.loop_stop()
    return 0


# -- the benchmark --------------------------------------------------------------------------------

GIB = 1 << 30
TARGETS = {"ratio_to_lower_ceiling": 0.8, "syncd_cpu_ratio": 1.15, "archive_cpu_ratio": 1.25}
"""Issue 18 item 5: end to end ≥ 0.8× the lower ceiling; CPU per GiB ≤ 1.15× (dock), ≤ 1.25× (archive)."""


def cpu_per_gib(run: dict, ceiling: dict, disk: dict, sha_s: float) -> dict:
    """CPU seconds per GiB of each role and of its baseline, from one TLS mode's figures."""
    gib = run["bytes"] / GIB
    syncd, pub = run["syncd_work_cpu_s"] / gib, ceiling["pub_work_cpu_s"] / gib
    archive = run["archive_work_cpu_s"] / gib
    base_parts = {"raw_sub": ceiling["sub_work_cpu_s"] / gib, "sha256": sha_s / gib, "dd_fsync": disk["cpu_s"] / gib}
    base = sum(base_parts.values())
    return {"syncd_cpu_s_per_gib": round(syncd, 3), "raw_pub_cpu_s_per_gib": round(pub, 3),
            "syncd_cpu_ratio": round(syncd / pub, 3) if pub else None,
            "archive_cpu_s_per_gib": round(archive, 3), "archive_baseline_cpu_s_per_gib": round(base, 3),
            "archive_baseline_parts_s_per_gib": {k: round(v, 3) for k, v in base_parts.items()},
            "archive_cpu_ratio": round(archive / base, 3) if base else None}


def measure(size: int, seg: int, chunk: int, big: int = 0, *, tls_modes: tuple[bool, ...] = (False, True),
            cli_run: bool = False, where: str | None = None, keep: bool = False) -> dict:
    """The whole benchmark; progress lines on stdout, the report returned."""
    sys.path.insert(0, str(ROOT))
    root = Path(tempfile.mkdtemp(prefix="bench-sync-", dir=where))
    report: dict = {"size": size, "segment_size": seg, "chunk": chunk, "dir": str(root), "runs": [],
                    "cpus": os.cpu_count(), "targets": TARGETS}
    broker = Broker(root)
    try:
        sizes = [seg] * (size // seg) + ([size % seg] if size % seg else [])
        t0 = time.perf_counter()
        dock, blobs = make_dock(root, sizes, seed=1)
        print(f"made {len(blobs)} segments, {size / 2**30:.2f} GiB, in {time.perf_counter() - t0:.1f} s", flush=True)
        report["disk"] = dd_ceiling(root, blobs)
        report["sha256_pass_cpu_s"] = sha_pass_cpu(blobs)
        print(f"disk ceiling (dd conv=fsync): {report['disk']['mb_s']} MB/s", flush=True)
        for tls in tls_modes:
            ceiling = mqtt_ceiling(root, broker, blobs, tls, chunk)
            print(f"MQTT ceiling (raw paho QoS 1, TLS {'on' if tls else 'off'}): {ceiling['mb_s']} MB/s", flush=True)
            r = run_sync(root, broker, dock, blobs, tls, chunk)
            lower = min(ceiling["mb_s"], report["disk"]["mb_s"])
            r |= {"mqtt_ceiling_mb_s": ceiling["mb_s"], "disk_ceiling_mb_s": report["disk"]["mb_s"],
                  "ratio_to_lower_ceiling": round(r["mb_s"] / lower, 2), "raw_mqtt": ceiling}
            r["cpu"] = cpu_per_gib(r, ceiling, report["disk"], report["sha256_pass_cpu_s"])
            report["runs"].append(r)
            c = r["cpu"]
            print(f"sync TLS {'on' if tls else 'off'}: {r['mb_s']} MB/s = {r['ratio_to_lower_ceiling']}x the lower "
                  f"ceiling; peak RSS syncd {r['syncd_rss_mb']} MB, archive {r['archive_rss_mb']} MB; "
                  f"complete: {r['complete']}", flush=True)
            print(f"  CPU s/GiB: syncd {c['syncd_cpu_s_per_gib']} vs raw publisher {c['raw_pub_cpu_s_per_gib']} "
                  f"({c['syncd_cpu_ratio']}x); archive {c['archive_cpu_s_per_gib']} vs raw subscriber + SHA-256 + "
                  f"dd {c['archive_baseline_cpu_s_per_gib']} ({c['archive_cpu_ratio']}x)", flush=True)
        if cli_run:
            r = run_sync(root, broker, dock, blobs, False, chunk, cli=True)
            report["runs"].append(r)
            print(f"sync via `bodycam sync run` (TLS off): {r['mb_s']} MB/s, peak RSS {r['syncd_rss_mb']} MB",
                  flush=True)
        shutil.rmtree(dock)
        shutil.rmtree(root / "archive", ignore_errors=True)
        if big:
            dock, blobs = make_dock(root, [big], seed=2)
            r = run_sync(root, broker, dock, blobs, False, chunk)
            r["file_size"] = big
            report["big_file"] = r
            print(f"one {big / 2**30:.2f} GiB file, TLS off: {r['mb_s']} MB/s; peak RSS syncd {r['syncd_rss_mb']} MB, "
                  f"archive {r['archive_rss_mb']} MB; complete: {r['complete']}", flush=True)
    finally:
        broker.stop()
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
    report["self_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return report


def rows(report: dict) -> list[dict]:
    """The figures ``scripts/bench.py all`` tabulates: (name, value, unit, baseline, target, met)."""
    out = []
    for r in report["runs"]:
        if r.get("runner") != "lean":
            continue
        mode = "TLS on" if r["tls"] else "TLS off"
        lower = min(r["mqtt_ceiling_mb_s"], r["disk_ceiling_mb_s"])
        c = r["cpu"]
        out += [
            {"name": f"sync {mode} (vs lower of MQTT/dd ceilings)", "value": r["mb_s"], "unit": "MB/s",
             "baseline": lower, "target": f">= {TARGETS['ratio_to_lower_ceiling']}x",
             "met": r["complete"] and r["mb_s"] >= TARGETS["ratio_to_lower_ceiling"] * lower},
            {"name": f"syncd CPU {mode} (vs raw paho publisher)", "value": c["syncd_cpu_s_per_gib"],
             "unit": "CPU s/GiB", "baseline": c["raw_pub_cpu_s_per_gib"], "target": f"<= {TARGETS['syncd_cpu_ratio']}x",
             "met": c["syncd_cpu_ratio"] is not None and c["syncd_cpu_ratio"] <= TARGETS["syncd_cpu_ratio"]},
            {"name": f"archive CPU {mode} (vs raw sub + SHA-256 + dd)", "value": c["archive_cpu_s_per_gib"],
             "unit": "CPU s/GiB", "baseline": c["archive_baseline_cpu_s_per_gib"],
             "target": f"<= {TARGETS['archive_cpu_ratio']}x",
             "met": c["archive_cpu_ratio"] is not None and c["archive_cpu_ratio"] <= TARGETS["archive_cpu_ratio"]},
        ]
    return out


NO_AES = {"OPENSSL_ia32cap": "~0x200000200000000"}
"""OpenSSL without AES-NI and PCLMULQDQ: AES-GCM in software, as on a Raspberry Pi 4 (Cortex-A72
without the crypto extensions)."""
SUITES = ("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256")


def cipher_figures(size: int, chunk: int, where: str | None = None, rounds: int = 2) -> dict:
    """Raw paho QoS 1 over TLS 1.3 with the broker offering one suite at a time, with the CPU's
    AES instructions and without them (``OPENSSL_ia32cap`` in the environment of broker and
    clients): MB/s and the publisher's and subscriber's CPU s/GiB, best of ``rounds``."""
    sys.path.insert(0, str(ROOT))
    root = Path(tempfile.mkdtemp(prefix="bench-tls-", dir=where))
    out: dict = {"size": size, "chunk": chunk, "rounds": rounds, "no_aes_env": NO_AES, "runs": []}
    try:
        seg = min(size, 128 * MIB)
        _, blobs = make_dock(root, [seg] * (size // seg), seed=3)
        gib = size / GIB
        for aes in (True, False):
            env = {} if aes else NO_AES
            for suite in SUITES:
                best = None
                for n in range(rounds):
                    broker = Broker(root / f"b-{suite}-{aes}-{n}", tls13_ciphers=suite, env=env)
                    try:
                        c = mqtt_ceiling(root, broker, blobs, True, chunk, env=env)
                    finally:
                        broker.stop()
                    if best is None or c["mb_s"] > best["mb_s"]:
                        best = c
                r = {"suite": suite, "aes_instructions": aes, "negotiated": best["cipher"], "mb_s": best["mb_s"],
                     "pub_cpu_s_per_gib": round(best["pub_work_cpu_s"] / gib, 3),
                     "sub_cpu_s_per_gib": round(best["sub_work_cpu_s"] / gib, 3), "lost_bytes": best["lost_bytes"]}
                out["runs"].append(r)
                print(f"TLS 1.3 {suite:<30} AES instructions {'on ' if aes else 'off'}: {r['mb_s']:7.1f} MB/s; "
                      f"CPU s/GiB publisher {r['pub_cpu_s_per_gib']}, subscriber {r['sub_cpu_s_per_gib']} "
                      f"(negotiated {r['negotiated']})", flush=True)
        # what the broker's configured order gives a default client, without AES instructions
        from archive.broker.config import TLS13_CIPHERS

        broker = Broker(root / "b-default", env=NO_AES)
        try:
            c = mqtt_ceiling(root, broker, blobs, True, chunk, env=NO_AES)
        finally:
            broker.stop()
        out["configured_order"] = {"tls13_ciphers": TLS13_CIPHERS, "negotiated": c["cipher"], "mb_s": c["mb_s"]}
        print(f"broker order {TLS13_CIPHERS}: a default client negotiates {c['cipher']} ({c['mb_s']} MB/s, "
              f"no AES instructions)", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return out


def all_rows(quick: bool, work: Path) -> list[dict]:
    """``scripts/bench.py all``: the defaults, 2 GiB in 256 MiB segments, TLS off and on, without the
    4 GiB memory-check file (quick: 16 MiB in 8 MiB segments)."""
    size, seg = (16 * MIB, 8 * MIB) if quick else (2048 * MIB, 256 * MIB)
    work.mkdir(parents=True, exist_ok=True)
    return rows(measure(size, seg, MIB, 0, where=str(work)))


def run(args: argparse.Namespace) -> int:
    if args.ciphers:
        report = cipher_figures(parse_size(args.size), parse_size(args.chunk), args.dir)
        if args.json:
            print(json.dumps(report, indent=2))
        return 0
    report = measure(parse_size(args.size), parse_size(args.segment_size), parse_size(args.chunk),
                     parse_size(args.big_size), cli_run=args.cli_run, where=args.dir, keep=args.keep)
    if args.json:
        print(json.dumps(report, indent=2))
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser("sync", help="dock → archive over MQTT vs raw MQTT and dd ceilings, peak RSS (issue 7)")
    p.add_argument("--size", default="2G", help="Total bytes of segments (default 2G).")
    p.add_argument("--segment-size", default="256M", help="Size of each segment (default 256M).")
    p.add_argument("--big-size", default="4G", help="One file of this size for the memory check (0: skip).")
    p.add_argument("--chunk", default="1M", help="Chunk size (default 1M).")
    p.add_argument("--dir", default=None, help="Where to put the temporary deployment (default: $TMPDIR).")
    p.add_argument("--cli-run", action="store_true", help="Also time `bodycam sync run` itself (TLS off).")
    p.add_argument("--ciphers", action="store_true",
                   help="Only raw MQTT over TLS 1.3 per cipher suite, with and without AES instructions.")
    p.add_argument("--keep", action="store_true", help="Keep the temporary folder.")
    p.add_argument("--json", action="store_true", help="Print the report as JSON at the end.")
    p.set_defaults(func=run)


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "_daemon":
        raise SystemExit(_daemon(sys.argv[2], sys.argv[3]))
    if cmd == "_raw-sub":
        raise SystemExit(_raw_sub(sys.argv[2]))
    if cmd == "_raw-pub":
        raise SystemExit(_raw_pub(sys.argv[2]))
    raise SystemExit(f"usage: scripts/bench.py sync --help ({cmd!r} is an internal mode)")
