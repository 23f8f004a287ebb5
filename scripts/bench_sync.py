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

The ratio compares sync to the lower of the two ceilings (target ≥ 0.7). The daemons are run
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
    def __init__(self, root: Path):
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
                                    max_queued_messages=1 << 20, max_queued_bytes=0)
        init_pki(self.dep.pki.dir, ["localhost"])
        for name in self.dep.identities:
            issue_client(self.dep.pki.dir, name)
        write_deployment(self.dep)
        log = (root / "mosquitto.log").open("ab")
        self.proc = subprocess.Popen(["/usr/sbin/mosquitto", "-c", str(self.dep.conf_path)], stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
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


def _wait_rss(proc: subprocess.Popen, timeout: float | None = None) -> tuple[int, float, tuple[float, float]]:
    """Exit status, peak RSS (MB, sampled every 50 ms) and CPU seconds (user, system) of a child."""
    deadline = None if timeout is None else time.monotonic() + timeout
    peak = 0.0
    while True:
        peak = max(peak, _hwm(_daemon_pid(proc)))
        pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return proc.returncode, peak, (round(ru.ru_utime, 2), round(ru.ru_stime, 2))
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
    arch = subprocess.Popen([*prefix("archive"), PY, __file__, "_daemon", "archive", str(acfg)], stdout=alog,
                            stderr=subprocess.STDOUT)
    time.sleep(2.0)  # connected and subscribed
    cmd = ([BODYCAM, "--config", str(dcfg), "sync", "run", "--once", "--json"] if cli
           else [*prefix("syncd"), PY, __file__, "_daemon", "syncd", str(dcfg)])
    t0 = time.perf_counter()
    dock_proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=alog)
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
            "syncd_cpu_user_sys_s": dock_cpu, "archive_cpu_user_sys_s": arch_cpu,
            "chunks_sent": result["chunks_sent"], "complete": ok, "runner": "bodycam CLI" if cli else "lean",
            "archive_exit": acode}


def mqtt_ceiling(root: Path, broker: Broker, blobs: list[Path], tls: bool, chunk: int) -> dict:
    total = sum(b.stat().st_size for b in blobs)
    spec = {"broker": broker.section("archive", tls), "total": total}
    sub = subprocess.Popen([PY, __file__, "_raw-sub", json.dumps(spec)], stdout=subprocess.PIPE)
    time.sleep(1.5)
    pspec = {"broker": broker.section(DOCK, tls), "files": [str(b) for b in blobs], "chunk": chunk}
    pub = subprocess.Popen([PY, __file__, "_raw-pub", json.dumps(pspec)], stdout=subprocess.PIPE)
    t_start = float(pub.stdout.readline())
    end, got = sub.stdout.readline().split()
    pub.wait(60)
    sub.wait(60)
    elapsed = float(end) - t_start
    return {"tls": tls, "bytes": int(got), "lost_bytes": total - int(got), "seconds": round(elapsed, 3),
            "mb_s": round(int(got) / elapsed / 1e6, 1)}


def dd_ceiling(root: Path, blobs: list[Path]) -> dict:
    out = root / "dd"
    out.mkdir(exist_ok=True)
    total = sum(b.stat().st_size for b in blobs)
    t0 = time.perf_counter()
    for b in blobs:
        subprocess.run(["dd", f"if={b}", f"of={out / b.name}", "bs=1M", "conv=fsync", "status=none"], check=True)
    elapsed = time.perf_counter() - t0
    shutil.rmtree(out)
    return {"bytes": total, "seconds": round(elapsed, 3), "mb_s": round(total / elapsed / 1e6, 1)}


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
        try:
            res = up.run(once=True)
        finally:
            up.close()
        print(json.dumps(res.to_json()))
        return 0 if not res.rejected and not res.queued else 3
    from archive.receiver import load_receiver

    load_receiver(cfg.archive, stop_event=stop).run()
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
    print(time.time(), flush=True)
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


def run(args: argparse.Namespace) -> int:
    sys.path.insert(0, str(ROOT))
    size, seg, chunk = parse_size(args.size), parse_size(args.segment_size), parse_size(args.chunk)
    big = parse_size(args.big_size)
    root = Path(tempfile.mkdtemp(prefix="bench-sync-", dir=args.dir))
    report: dict = {"size": size, "segment_size": seg, "chunk": chunk, "dir": str(root), "runs": [],
                    "cpus": os.cpu_count()}
    broker = Broker(root)
    try:
        sizes = [seg] * (size // seg) + ([size % seg] if size % seg else [])
        t0 = time.perf_counter()
        dock, blobs = make_dock(root, sizes, seed=1)
        print(f"made {len(blobs)} segments, {size / 2**30:.2f} GiB, in {time.perf_counter() - t0:.1f} s", flush=True)
        report["disk"] = dd_ceiling(root, blobs)
        print(f"disk ceiling (dd conv=fsync): {report['disk']['mb_s']} MB/s", flush=True)
        for tls in (False, True):
            ceiling = mqtt_ceiling(root, broker, blobs, tls, chunk)
            print(f"MQTT ceiling (raw paho QoS 1, TLS {'on' if tls else 'off'}): {ceiling['mb_s']} MB/s", flush=True)
            r = run_sync(root, broker, dock, blobs, tls, chunk)
            lower = min(ceiling["mb_s"], report["disk"]["mb_s"])
            r |= {"mqtt_ceiling_mb_s": ceiling["mb_s"], "disk_ceiling_mb_s": report["disk"]["mb_s"],
                  "ratio_to_lower_ceiling": round(r["mb_s"] / lower, 2)}
            report["runs"].append(r)
            print(f"sync TLS {'on' if tls else 'off'}: {r['mb_s']} MB/s = {r['ratio_to_lower_ceiling']}x the lower "
                  f"ceiling; peak RSS syncd {r['syncd_rss_mb']} MB, archive {r['archive_rss_mb']} MB; "
                  f"complete: {r['complete']}", flush=True)
        if args.cli_run:
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
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    report["self_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
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
