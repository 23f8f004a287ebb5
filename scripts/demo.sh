#!/usr/bin/env bash
# The whole system end to end on one machine: set up if needed, then run a bureau archive and two
# docks with emulated recorders of different makes through every step that exists, from readiness
# and clock calibration to the court's evidence package, legal review and the disclosure portal.
# Ends with a summary table (step, result, the file worth opening) and `DATA <path>` (kept for
# inspection: archive/, dock-<name>/, export/, portal/, review/). Stops everything it started, also
# on Ctrl-C. BODYCAM_DEMO_DATA=DIR chooses the folder (new or empty).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
bash scripts/setup.sh >&2

BC="$ROOT/.venv/bin/bodycam"
PY="$ROOT/.venv/bin/python"
DATA=${BODYCAM_DEMO_DATA:-$(mktemp -d /tmp/bodycam-demo.XXXXXX)}
mkdir -p "$DATA"
DATA=$(cd "$DATA" && pwd)
if [ -n "$(ls -A "$DATA")" ]; then
  echo "demo: $DATA is not empty; choose a new or empty folder (BODYCAM_DEMO_DATA) or remove it" >&2
  exit 1
fi
mkdir -p "$DATA/logs"
echo "DATA $DATA"
# Every process this run starts inherits this mark: the clean-up finds them all by it, even one
# started in the instant before its pid was recorded.
export BODYCAM_DEMO_RUN="$$-$(date +%s%N)"

PIDS=()
SUMMARY="$DATA/summary.tsv"
: >"$SUMMARY"
CURRENT=""

step() { printf '\n== %s\n' "$*"; }
# begin TITLE: a step of the summary; done_step RESULT [FILE]: it worked, and what to open.
begin() { CURRENT=$1; step "$*"; }
done_step() {
  local file=${2:-}
  printf '%s\t%s\t%s\n' "$CURRENT" "$1" "${file#"$DATA/"}" >>"$SUMMARY"
  CURRENT=""
}

summary() {
  printf '\n%-4s %-44s %-6s %s\n' "" "STEP" "RESULT" "FILE WORTH OPENING (in DATA)"
  local n=0
  while IFS=$'\t' read -r what result file; do
    n=$((n + 1))
    printf '%-4s %-44s %-6s %s\n' "$n." "${what%%:*}" "$result" "${file:--}"
  done <"$SUMMARY"
}

marked_pids() {  # processes (other than this shell) carrying this run's mark
  local p
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    [ "$p" = "$$" ] && continue
    grep -qzx "BODYCAM_DEMO_RUN=$BODYCAM_DEMO_RUN" "/proc/$p/environ" 2>/dev/null && echo "$p"
  done
  return 0
}

stop_all() {
  local pid left
  for pid in "${PIDS[@]:-}"; do [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; done
  for pid in $(marked_pids); do kill "$pid" 2>/dev/null || true; done
  for _ in $(seq 1 50); do
    left=$(marked_pids)
    [ -z "$left" ] && break
    sleep 0.1
  done
  for pid in $(marked_pids); do kill -KILL "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]:-}"; do [ -n "$pid" ] && wait "$pid" 2>/dev/null || true; done
}

on_exit() {
  local status=$?
  trap - EXIT INT TERM HUP
  stop_all
  if [ "$status" -ne 0 ]; then
    local result=FAILED
    [ "$status" -eq 130 ] || [ "$status" -eq 129 ] && result=STOPPED
    [ -n "$CURRENT" ] && printf '%s\t%s\t%s\n' "$CURRENT" "$result" "logs/" >>"$SUMMARY"
    summary >&2
    echo "demo: stopped (exit $status); everything it started is stopped; logs in $DATA/logs" >&2
    echo "DATA $DATA" >&2
  fi
  exit "$status"
}
trap on_exit EXIT
trap 'echo "demo: interrupted" >&2; exit 130' INT TERM
trap 'exit 129' HUP  # the terminal closed: stop everything too (Mosquitto would take SIGHUP as "reload")

# start_bg NAME WANT_PREFIX CMD...: start CMD in the background (tracked for clean-up); wait for a
# stdout line starting with WANT_PREFIX and put its remainder in $BG_VALUE. Not in $(...): the
# process must be recorded in this shell's PIDS.
start_bg() {
  local name=$1 want=$2; shift 2
  local out="$DATA/logs/$name.out"
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
# wait_until WHAT CMD...: poll CMD every 0.1 s for up to 10 s; fail, naming WHAT, if it never succeeds.
wait_until() {
  local what=$1; shift
  for _ in $(seq 1 100); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "demo: $what did not come up within 10 s (logs in $DATA/logs)" >&2
  return 1
}
json() {  # json EXPR: evaluate EXPR on the JSON document read from stdin (bound to d)
  "$PY" -c 'import json, sys; d = json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"
}

begin "Deployment folders: the bureau archive and two docks (keys are created 0600)"
"$BC" init --role archive --dir "$DATA/archive"
for d in north south; do
  "$BC" init --role dock --dir "$DATA/dock-$d" --name "dock-$d"
done
ls -l "$DATA/dock-north/keys"
done_step OK "$DATA/archive/bodycam.toml"

free_port() { "$PY" -c 'import socket,sys; s=socket.socket(socket.AF_INET, getattr(socket, sys.argv[1])); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' "$1"; }

begin "MQTT broker with TLS: Mosquitto, a client certificate per identity, per-dock ACLs"
BROKER="$DATA/broker"
MQTT_PORT=$(free_port SOCK_STREAM)
"$BC" pki init --dir "$BROKER/pki" >/dev/null
"$BC" broker render --dir "$BROKER" --port "$MQTT_PORT" --bind 127.0.0.1 >/dev/null
"$BC" pki issue --dir "$BROKER/pki" --name archive >/dev/null
/usr/sbin/mosquitto -c "$BROKER/mosquitto.conf" >"$DATA/logs/mosquitto.log" 2>&1 &
MOSQ=$!
PIDS+=($MOSQ)
wait_until Mosquitto "$PY" -c "import socket; socket.create_connection(('127.0.0.1', $MQTT_PORT), 0.2).close()"
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

# The bureau reads and enters times in its own zone (certificate dates, report days), and its
# documents for court are in it too.
[display]
timezone = "Asia/Shanghai"
TOML

done_step OK "$BROKER/mosquitto.conf"

begin "Docks registered at the archive: admin-signed enrollment + broker credentials"
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
done_step OK "$BROKER/acl"

begin "Recorders emulated: two makes on real pseudo-terminals"
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
done_step OK "$DATA/recorders/zfy.toml"

begin "Readiness before a shift (A2 Art.12-13): battery, card space, clock"
(cd "$DATA/dock-north" && "$BC" device status --port "$PORT_A" --profile zfy-e12-gat947)
(cd "$DATA/dock-south" && "$BC" device status --port "$PORT_B" --profile jsonl-epoch-ms)
(cd "$DATA/dock-north" && "$BC" fleet status) | tee "$DATA/dock-north/fleet.txt" \
  || echo "(fleet status exit $?: a recorder is not ready yet; a cron mail or a dashboard sees the same)"
done_step OK "$DATA/dock-north/fleet.txt"

begin "Reference clock: chrony serving NTP on loopback (it never touches this machine's clock)"
NTP_PORT=$(free_port SOCK_DGRAM)
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
# chronyd starts only as root (-x: it never sets this machine's clock); as another user it runs
# under sudo, like set-up, and drops to that user (-u). sudo relays the clean-up's SIGTERM to it.
if [ "$(id -u)" -eq 0 ]; then
  CHRONYD=(/usr/sbin/chronyd -u root)
else
  CHRONYD=(sudo /usr/sbin/chronyd -u "$(id -un)")
fi
"${CHRONYD[@]}" -x -d -f "$DATA/chrony/chrony.conf" >"$DATA/logs/chronyd.log" 2>&1 &
PIDS+=($!)
NTP="127.0.0.1:$NTP_PORT"
wait_until chronyd "$PY" -c "import ntplib; ntplib.NTPClient().request('127.0.0.1', port=$NTP_PORT, timeout=0.2)"
echo "NTP reference at $NTP"
done_step OK "$DATA/chrony/chrony.conf"

begin "Recorders enrolled and armed: the equipment manager enrolls each recorder on its dock (its own key, its custodian; A2 Art.12), then arms it for a shift: readiness + clock calibration, signed into each dock ledger (A2 Art.13). Docking never enrolls: an unknown recorder is refused"
(cd "$DATA/dock-north" && "$BC" device enroll --port "$PORT_A" --profile zfy-e12-gat947)
(cd "$DATA/dock-south" && "$BC" device enroll --port "$PORT_B" --profile jsonl-epoch-ms)
(cd "$DATA/dock-north" && "$BC" device arm --port "$PORT_A" --profile zfy-e12-gat947 --ntp-server "$NTP") \
  | tee "$DATA/dock-north/arm.txt"
(cd "$DATA/dock-south" && "$BC" device arm --port "$PORT_B" --profile jsonl-epoch-ms --ntp-server "$NTP") \
  | tee "$DATA/dock-south/arm.txt"
done_step OK "$DATA/dock-north/arm.txt"

begin "Docking at end of shift: both recorders; every file offloaded, hashed, probed, signed, ledgered"
(cd "$DATA/dock-north" && "$BC" dock --port "$PORT_A" --profile zfy-e12-gat947 --case HB-2026-117 --ntp-server "$NTP" \
  --serial ZF00077)
(cd "$DATA/dock-south" && "$BC" dock --port "$PORT_B" --profile jsonl-epoch-ms --activity patrol --ntp-server "$NTP")
for d in north south; do (cd "$DATA/dock-$d" && "$BC" segments) | tee "$DATA/dock-$d/segments.txt"; done
done_step OK "$DATA/dock-north/segments.txt"

begin "Gap justified and approved: the pause on recorder B is a gap (A2 Art.8); the officer justifies it, the supervisor approves (A2 Art.11)"
bash "$ROOT/scripts/demo_justify.sh" "$DATA/dock-south" 010204 "李四"
done_step OK "$DATA/dock-south/people/witness-signature.png"

begin "Sync over MQTT: each dock pushes its ledger and footage to the archive over MQTT (TLS), acknowledged by the archive"
# Its log in English whatever the terminal's language, so the demo can wait for its "listening" line.
LC_ALL=C.UTF-8 "$BC" -v --config "$DATA/archive/bodycam.toml" archive serve >"$DATA/logs/archive.out" \
  2>"$DATA/logs/archive.err" &
ARCHIVE=$!
PIDS+=($ARCHIVE)
wait_until "the archive receiver" grep -q listening "$DATA/logs/archive.err"
for d in north south; do
  "$BC" --config "$DATA/dock-$d/bodycam.toml" sync run --once --connect-timeout 20
  "$BC" --config "$DATA/dock-$d/bodycam.toml" sync status
done
"$BC" --config "$DATA/archive/bodycam.toml" archive dock list
"$BC" --config "$DATA/archive/bodycam.toml" archive segments | tee "$DATA/archive/segments.txt"
ARRIVED=$("$BC" --config "$DATA/archive/bodycam.toml" archive segments --json | json 'len(d)')
[ "$ARRIVED" -eq 4 ] || { echo "demo: $ARRIVED of 4 segments reached the archive" >&2; exit 1; }
done_step OK "$DATA/archive/segments.txt"

begin "Archive ledger checked: a signed checkpoint, an inclusion proof for a segment, full verification"
"$BC" ledger checkpoint "$DATA/archive/ledger.db" --key "$DATA/archive/keys/log.key"
SEG=$("$BC" ledger show "$DATA/archive/ledger.db" --kind segment --json | json 'd["entries"][0]["idx"]')
"$BC" ledger proof "$DATA/archive/ledger.db" --index "$SEG" --json | tee "$DATA/archive/proof-segment.json"
"$BC" ledger verify "$DATA/archive/ledger.db"
for d in north south; do "$BC" ledger verify "$DATA/dock-$d/ledger.db"; done
echo "blobs in the archive: $(find "$DATA/archive/blobs" -type f | wc -l)"
done_step OK "$DATA/archive/proof-segment.json"

A="$DATA/archive"
ACONF=(--config "$A/bodycam.toml")
MAJOR=HB-2026-117
MINOR=HB-2026-118
TODAY=$(date -u +%F)
mkdir -p "$DATA/export" "$DATA/review/papers"

# bc_as PERSON ARGS...: a bureau command signed by PERSON with their key.
bc_as() { local who=$1; shift; "$BC" "${ACONF[@]}" "$@" --by "$who" --key "$A/people/$who.key"; }

begin "People enrolled at the archive: officers with certificates, an archivist, the bureau head, a supervisor, a qualified legal reviewer (A2 Art.14, A3 Art.8)"
mkdir -p "$A/people" && chmod 700 "$A/people"
# id|name|role|unit|extra options
while IFS='|' read -r id name role unit extra; do
  "$BC" keys generate --out "$A/people/$id.key" >/dev/null
  # shellcheck disable=SC2086  # $extra is a list of options
  "$BC" "${ACONF[@]}" person enroll --id "$id" --name "$name" --role "$role" --pubkey "$A/people/$id.key.pub" \
    --unit "$unit" $extra
done <<PEOPLE
010203|张三|officer|第一执法大队|--certificate 44010000203 --valid-from 2026-01-01 --valid-until 2030-12-31
010205|王五|officer|第一执法大队|--certificate 44010000205 --valid-from 2026-01-01 --valid-until 2030-12-31
arch-1|赵敏|archivist|档案室|
head-1|陈局长|head|局领导|
sup-1|王强|supervisor|第一执法大队|
rev-1|孙法审|reviewer|法制审核科|--legal-qualification A20261100001
PEOPLE
"$BC" "${ACONF[@]}" person list
done_step OK "$A/people"

begin "Case with an activity and a document: $MAJOR opened, its inspection recorded, the inspection record (PDF/A) attached (A2 Art.2-5, 7)"
"$PY" "$ROOT/scripts/demo_documents.py" "$DATA/review/papers" "$TODAY" >/dev/null
bc_as sup-1 case open "$MAJOR" --title "某化工公司超标排放废水案" --unit 第一执法大队 --type penalty \
  --officers 010203,010205
# The inspection around recorder A's footage (it was recorded an hour before the demo started).
bc_as 010203 activity add --case "$MAJOR" --type inspection --place "某化工公司废水总排放口" \
  --start "$(iso $((NOW - 3700)))" --end "$(iso $((NOW - 3000)))" --party-notified-at "$(iso $((NOW - 3650)))" \
  --officers 010203,010205
bc_as 010203 case attach "$MAJOR" "$DATA/review/papers/inspection-record.pdf" --kind evidence_form
"$BC" "${ACONF[@]}" archive case "$MAJOR" | tee "$A/case-$MAJOR.txt"
done_step OK "$A/case-$MAJOR.txt"

begin "Archive verify: every entry, signature, checkpoint and blob of the archive"
"$BC" "${ACONF[@]}" archive verify | tee "$A/verify.txt"
done_step OK "$A/verify.txt"

begin "Access approved by the head, one view: a court asks (A2 Art.18), the bureau head approves, the archivist copies one segment out; all logged"
REQ=$(bc_as arch-1 access request --case "$MAJOR" --requester "王律师" --org "某区人民法院" \
  --reason "行政诉讼举证" --json | json 'd["request"]')
"$BC" "${ACONF[@]}" access approve "$REQ" --head head-1 --key "$A/people/head-1.key" --note "同意调阅"
SEG0=$("$BC" "${ACONF[@]}" archive segments --case "$MAJOR" --json | json 'd[0]["entry"]')
VIEW="$DATA/export/view-ZF00077-0.mp4"
bc_as arch-1 access view "$SEG0" --request "$REQ" --out "$VIEW"
"$BC" "${ACONF[@]}" access log --case "$MAJOR"
done_step OK "$VIEW"

begin "Evidence package for court: the case's originals, signed manifest, ledger entries with proofs, keys, a standalone verify.py; the supervisor signs off (A2 Art.16-17)"
PKG="$DATA/export/package-$MAJOR"
bc_as arch-1 export create --case "$MAJOR" --request "$REQ" --out "$PKG" \
  --proves "某化工公司废水总排放口超标排放水污染物的事实"
"$BC" "${ACONF[@]}" export sign "$PKG" --person sup-1 --key "$A/people/sup-1.key"
echo "-- the examiner's check: the package's own verify.py, the system Python, no venv, from another folder"
(cd "$DATA/export" && /usr/bin/python3 -I "$PKG/verify.py")
done_step OK "$PKG/custody.pdf"

begin "ISO image of the package: made for burning, its SHA-256 ledgered, checked again from the image"
ISO="$DATA/export/$MAJOR.iso"
bc_as arch-1 export iso "$PKG" --out "$ISO"
"$BC" "${ACONF[@]}" export verify "$ISO"
done_step OK "$ISO"

# Working days (A1 Art.14: 7 for a penalty; A3 Art.10: 7, +3) come from chinese-calendar, whose data ends with 2026, and
# the bureau's holidays file for later years. A demo run when neither covers the coming weeks
# writes a file marked as demo data (weekends only) rather than stop: a real deployment copies
# the State Council's notice instead (config/holidays.example.toml).
if ! "$PY" -c 'import datetime as d, sys; from archive.workdays import WorkCalendar
WorkCalendar().add_workdays(d.datetime.now(d.UTC).date(), 10)' 2>/dev/null; then
  NEXT=$(( $(date -u +%Y) + 1 ))
  printf '[%s]\nnotice = "DEMO DATA ONLY: weekends, no holidays; not the State Council arrangement"\n' \
    "$NEXT" >"$A/holidays.toml"
  [ "$(date -u +%Y)" -le 2026 ] || printf '[%s]\nnotice = "DEMO DATA ONLY: weekends, no holidays"\n' \
    "$(date -u +%Y)" >>"$A/holidays.toml"
  "$PY" - "$A/bodycam.toml" <<'PYEOF'
import sys
path = sys.argv[1]
text = open(path, encoding="utf-8").read()
open(path, "w", encoding="utf-8").write(text.replace("[archive]\n", '[archive]\nholidays_file = "holidays.toml"\n', 1))
PYEOF
  echo "demo: no working-day data for the coming weeks: using $A/holidays.toml (demo data, weekends only)"
fi

begin "Legal review of a major case: classified major (A3 Art.3), submitted complete (Art.7), checklist from the ledger (Art.8), judged, concluded, approved by the head, opinion PDF (Art.11-13)"
P="$DATA/review/papers"
bc_as 010203 review classify "$MAJOR" --measure order_production_halt --fine 300000 \
  --party-kind organisation --record
bc_as 010203 review submit "$MAJOR" --item "draft_decision=$P/draft-decision.pdf" \
  --item "investigation_report=$P/investigation-report.pdf" --item "facts_evidence_basis=$P/evidence-list.pdf"
echo "-- the checklist: the evidence items are checked against the ledger"
"$BC" "${ACONF[@]}" review checklist "$MAJOR" | tee "$DATA/review/checklist-$MAJOR.txt"
for item in 1 2 3 4 6 7; do
  bc_as rev-1 review judge "$MAJOR" --item "$item" --verdict ok >/dev/null
done
bc_as rev-1 review judge "$MAJOR" --item 5 --verdict flawed \
  --note "执法记录仪未在使用前校时；重大案件视频未标记长期保存"
bc_as rev-1 review conclude "$MAJOR" --outcome correct \
  --recommendation "补做执法记录仪校时记录，将本案视频标记为长期保存后重新送审"
bc_as head-1 review approve "$MAJOR" --note "同意审核意见"
OPINION="$DATA/review/opinion-$MAJOR.pdf"
"$BC" "${ACONF[@]}" review opinion "$MAJOR" --out "$OPINION"
"$BC" "${ACONF[@]}" review status "$MAJOR"
done_step OK "$OPINION"

begin "Disclosure portal published: case $MINOR (not major) decided, its texts masked and checked, published on the portal (A1 Art.5, 9-14)"
bc_as sup-1 case open "$MINOR" --title "赵六露天焚烧废旧轮胎案" --unit 第一执法大队 --type penalty \
  --officers 010203,010205
bc_as 010203 review classify "$MINOR" --fine 10000 --party-kind individual --record
DEC=$(bc_as 010203 case decide "$MINOR" --file "$P/decision-$MINOR.toml" --type penalty --json \
  | json 'd["decision"]')
echo "decision $DEC recorded; due on the portal within 7 working days (A1 Art.14)"
cp "$ROOT/config/disclosure.example.toml" "$A/disclosure.toml"
echo "-- the texts as they would be published (names, phone numbers masked), approved by the supervisor"
bc_as sup-1 disclosure review-text "$DEC" --approve
bc_as arch-1 disclosure publish --out "$DATA/portal"
WEB_PORT=$(free_port SOCK_STREAM)
"$BC" disclosure serve --dir "$DATA/portal" --port "$WEB_PORT" >"$DATA/logs/portal.out" 2>&1 &
PIDS+=($!)
URL="http://127.0.0.1:$WEB_PORT/"
wait_until "the portal server" "$PY" -c "import urllib.request; urllib.request.urlopen('$URL', timeout=0.5).read()"
"$PY" -c "import urllib.request, sys; page = urllib.request.urlopen('$URL', timeout=5).read().decode()
sys.exit(0 if '$MINOR' in page or '赵某' in page else 'the portal does not list the decision')"
echo "PORTAL $URL  (served until the demo ends; again: $BC disclosure serve --dir $DATA/portal)"
done_step OK "$DATA/portal/index.html"

begin "Supervision and disclosure reports: A2 Art.20-22 findings per unit and officer, A1 Art.18-19 compliance"
"$BC" "${ACONF[@]}" archive report | tee "$A/supervision-report.txt"
"$BC" "${ACONF[@]}" disclosure report | tee "$A/disclosure-report.txt"
done_step OK "$A/supervision-report.txt"

summary
echo
echo "Portal: $DATA/portal/index.html (serve it: $BC disclosure serve --dir $DATA/portal)"
echo "DATA $DATA"
