#!/usr/bin/env bash
# The whole system end to end on one machine: set up if needed, then run a bureau archive and
# two docks with emulated recorders of different makes, through every step that exists.
# Prints `DATA <path>` (kept afterwards for inspection); stops everything it started, also on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
bash scripts/setup.sh >&2

BC="$ROOT/.venv/bin/bodycam"
PY="$ROOT/.venv/bin/python"
DATA=${BODYCAM_DEMO_DATA:-$(mktemp -d /tmp/bodycam-demo.XXXXXX)}
mkdir -p "$DATA"
echo "DATA $DATA"

PIDS=()
cleanup() {
  for pid in "${PIDS[@]:-}"; do
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]:-}"; do
    [ -n "$pid" ] && wait "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT
trap 'echo "demo: interrupted" >&2; exit 130' INT TERM

step() { printf '\n== %s\n' "$*"; }

# start_bg NAME WANT_PREFIX CMD...: start CMD in the background (tracked for clean-up); wait for a
# stdout line starting with WANT_PREFIX and put its remainder in $BG_VALUE. Not in $(...): the
# process must be recorded in this shell's PIDS.
start_bg() {
  local name=$1 want=$2; shift 2
  local out="$DATA/logs/$name.out"
  mkdir -p "$DATA/logs"
  "$@" >"$out" 2>"$DATA/logs/$name.err" &
  PIDS+=($!)
  local pid=$!
  for _ in $(seq 1 300); do
    if line=$(grep -m1 "^$want " "$out" 2>/dev/null); then
      BG_VALUE="${line#"$want "}"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || { echo "demo: $name exited early:" >&2; cat "$DATA/logs/$name.err" >&2; return 1; }
    sleep 0.1
  done
  echo "demo: $name did not print $want in time" >&2
  return 1
}

step "1. Deployment folders: the bureau archive and two docks (keys are created 0600)"
[ -f "$DATA/archive/bodycam.toml" ] || "$BC" init --role archive --dir "$DATA/archive"
for d in north south; do
  [ -f "$DATA/dock-$d/bodycam.toml" ] || "$BC" init --role dock --dir "$DATA/dock-$d" --name "dock-$d"
done
ls -l "$DATA/dock-north/keys"

free_port() { "$PY" -c 'import socket,sys; s=socket.socket(socket.AF_INET, getattr(socket, sys.argv[1])); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' "$1"; }

step "1b. The MQTT broker: Mosquitto with TLS, a client certificate per identity, per-dock ACLs"
BROKER="$DATA/broker"
MQTT_PORT=$(free_port SOCK_STREAM)
[ -f "$BROKER/pki/ca.crt" ] || "$BC" pki init --dir "$BROKER/pki" >/dev/null
"$BC" broker render --dir "$BROKER" --port "$MQTT_PORT" --bind 127.0.0.1 >/dev/null
[ -f "$BROKER/pki/clients/archive.crt" ] || "$BC" pki issue --dir "$BROKER/pki" --name archive >/dev/null
mkdir -p "$DATA/logs"
/usr/sbin/mosquitto -c "$BROKER/mosquitto.conf" >"$DATA/logs/mosquitto.log" 2>&1 &
MOSQ=$!
PIDS+=($MOSQ)
for _ in $(seq 1 100); do
  "$PY" -c "import socket; socket.create_connection(('127.0.0.1', $MQTT_PORT), 0.2).close()" 2>/dev/null && break
  sleep 0.1
done
echo "Mosquitto on 127.0.0.1:$MQTT_PORT (TLS, client certificates; CA $BROKER/pki/ca.crt)"
broker_section() {  # broker_section NAME: the [..broker] keys for identity NAME
  cat <<TOML
host = "127.0.0.1"
port = $MQTT_PORT
tls = true
ca_file = "$BROKER/pki/ca.crt"
cert_file = "$BROKER/pki/clients/$1.crt"
key_file = "$BROKER/pki/clients/$1.key"
client_id = "$1"
TOML
}
cat > "$DATA/archive/bodycam.toml" <<TOML
# bodycam.toml for the bureau archive (demo); every key is in config/bodycam.example.toml.
[archive]
data_dir = "."
broker_dir = "$BROKER"

[archive.broker]
$(broker_section archive)
TOML

step "1c. The archivist registers both docks (admin-signed enrollment + broker credentials)"
"$BC" --config "$DATA/archive/bodycam.toml" archive log-key --out "$DATA/archive/log.pub" >/dev/null
for d in north south; do
  dock="$DATA/dock-$d"
  "$BC" --config "$dock/bodycam.toml" sync dock-key --out "$dock/keys/dock.pub" >/dev/null
  "$BC" --config "$DATA/archive/bodycam.toml" archive dock add "dock-$d" --pubkey "$dock/keys/dock.pub"
  cp "$DATA/archive/log.pub" "$dock/archive-log.pub"
  cat > "$dock/bodycam.toml" <<TOML
# bodycam.toml for dock-$d (demo); every key is in config/bodycam.example.toml.
[agent]
dock_id = "dock-$d"
data_dir = "."

[syncd]
archive_pubkey = "$dock/archive-log.pub"

[syncd.broker]
$(broker_section "dock-$d")
TOML
done
kill -HUP "$MOSQ"  # the broker reloads the ACL and password file with both docks

step "2. Two emulated recorders of different makes on real pseudo-terminals"
NOW=$(date -u +%s)
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
mkdir -p "$DATA/recorders"
# Recorder A (GA/T 947 ZFY family): clock drifted three minutes slow; two back-to-back segments.
cat > "$DATA/recorders/zfy.toml" <<TOML
serial = "ZF00077"
officer_id = "010203"
officer_name = "张三"
unit_id = "440100000000"
password = "000000"
battery_pct = 96
storage_total_mib = 60872
storage_free_mib = 41000
clock_offset_s = -180.0
clock_drift_ppm = 40

[[recordings]]
start = "$(iso $((NOW - 3600)))"
duration_s = 4
count = 2
width = 320
height = 240
fps = 10
TOML
# Recorder B (JSON lines): accurate clock; a 10-minute pause between two recordings (a gap).
cat > "$DATA/recorders/jsonl.toml" <<TOML
serial = "JL-2231"
officer_id = "010204"
officer_name = "李四"
unit_id = "440100000000"
battery_pct = 88
storage_total_mib = 60000
storage_free_mib = 41000
clock_offset_s = 0.4
clock_drift_ppm = -5

[[recordings]]
start = "$(iso $((NOW - 5400)))"
duration_s = 4
count = 1
gap_after_s = 600
width = 320
height = 240
fps = 10

[[recordings]]
duration_s = 4
width = 320
height = 240
fps = 10
TOML
export BODYCAM_ZFY_PASSWORD=000000
start_bg emu-zfy PORT "$BC" emulate --profile zfy-e12-gat947 --state "$DATA/recorders/zfy.toml" \
  --mount-root "$DATA/dock-north/mnt"
PORT_A=$BG_VALUE
start_bg emu-jsonl PORT "$BC" emulate --profile jsonl-epoch-ms --state "$DATA/recorders/jsonl.toml" \
  --mount-root "$DATA/dock-south/mnt"
PORT_B=$BG_VALUE
echo "recorder A (zfy-e12-gat947) on $PORT_A, recorder B (jsonl-epoch-ms) on $PORT_B"

step "3. Readiness before a shift (A2 Art.12-13): battery, card space, clock"
(cd "$DATA/dock-north" && "$BC" device status --port "$PORT_A" --profile zfy-e12-gat947)
(cd "$DATA/dock-south" && "$BC" device status --port "$PORT_B" --profile jsonl-epoch-ms)
(cd "$DATA/dock-north" && "$BC" fleet status) || echo "(fleet status exit $?: a recorder is not ready yet; a cron mail or a dashboard sees the same)"

step "4. A reference clock: chrony serving NTP on loopback (it never touches this machine's clock)"
NTP_PORT=$("$PY" -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$DATA/chrony"
cat > "$DATA/chrony/chrony.conf" <<CONF
port $NTP_PORT
bindaddress 127.0.0.1
allow 127.0.0.1
local stratum 8
cmdport 0
bindcmdaddress /
pidfile $DATA/chrony/chronyd.pid
driftfile $DATA/chrony/chrony.drift
CONF
/usr/sbin/chronyd -x -d -u root -f "$DATA/chrony/chrony.conf" >"$DATA/logs/chronyd.log" 2>&1 &
PIDS+=($!)
NTP="127.0.0.1:$NTP_PORT"
for _ in $(seq 1 100); do
  "$PY" -c "import ntplib,sys; ntplib.NTPClient().request('127.0.0.1', port=$NTP_PORT, timeout=0.2)" 2>/dev/null && break
  sleep 0.1
done
echo "NTP reference at $NTP"

step "5. The equipment manager enrolls each recorder on its dock (its own key, its custodian; A2 Art.12), then arms it for a shift: readiness + clock calibration, signed into each dock ledger (A2 Art.13). Docking never enrolls: an unknown recorder is refused"
(cd "$DATA/dock-north" && "$BC" device enroll --port "$PORT_A" --profile zfy-e12-gat947)
(cd "$DATA/dock-south" && "$BC" device enroll --port "$PORT_B" --profile jsonl-epoch-ms)
(cd "$DATA/dock-north" && "$BC" device arm --port "$PORT_A" --profile zfy-e12-gat947 --ntp-server "$NTP")
(cd "$DATA/dock-south" && "$BC" device arm --port "$PORT_B" --profile jsonl-epoch-ms --ntp-server "$NTP")

step "6. End of shift: dock both recorders; every file offloaded, hashed, probed, signed, ledgered"
(cd "$DATA/dock-north" && "$BC" dock --port "$PORT_A" --profile zfy-e12-gat947 --case HB-2026-117 --ntp-server "$NTP" \
  --serial ZF00077)
(cd "$DATA/dock-south" && "$BC" dock --port "$PORT_B" --profile jsonl-epoch-ms --activity patrol --ntp-server "$NTP")
(cd "$DATA/dock-south" && "$BC" segments)

step "7. The pause on recorder B is a gap (A2 Art.8): the officer justifies it, the supervisor approves (A2 Art.11)"
bash "$ROOT/scripts/demo_justify.sh" "$DATA/dock-south" 010204 "李四"

step "8. Sync: each dock pushes its ledger and footage to the archive over MQTT (TLS), acknowledged by the archive"
"$BC" -v --config "$DATA/archive/bodycam.toml" archive serve >"$DATA/logs/archive.out" 2>"$DATA/logs/archive.err" &
ARCHIVE=$!
PIDS+=($ARCHIVE)
for _ in $(seq 1 100); do grep -q "listening" "$DATA/logs/archive.err" 2>/dev/null && break; sleep 0.1; done
for d in north south; do
  "$BC" --config "$DATA/dock-$d/bodycam.toml" sync run --once --connect-timeout 20
  "$BC" --config "$DATA/dock-$d/bodycam.toml" sync status
done
"$BC" --config "$DATA/archive/bodycam.toml" archive dock list

step "9. The archive ledger: a signed checkpoint, an inclusion proof for a segment, full verification"
"$BC" ledger checkpoint "$DATA/archive/ledger.db" --key "$DATA/archive/keys/log.key"
SEG=$("$BC" ledger show "$DATA/archive/ledger.db" --kind segment --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["entries"][0]["idx"])')
"$BC" ledger proof "$DATA/archive/ledger.db" --index "$SEG" --json
"$BC" ledger verify "$DATA/archive/ledger.db"
for d in north south; do "$BC" ledger verify "$DATA/dock-$d/ledger.db"; done
echo "blobs in the archive: $(find "$DATA/archive/blobs" -type f | wc -l)"

step "Done. Everything is in $DATA"
