#!/usr/bin/env bash
# Demo step (A2 Art.11): on a dock whose ledger holds a gap, enroll the officer and a supervisor
# (passphrase-protected keys), draw the witness's handwritten signature, justify the first open gap
# with reason 1 as the officer, approve it as the supervisor, and show the gaps before and after.
# Usage: scripts/demo_justify.sh DOCK_DIR OFFICER_ID [OFFICER_NAME]   (called by scripts/demo.sh)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BC="$ROOT/.venv/bin/bodycam"
PY="$ROOT/.venv/bin/python"
DOCK=$(cd "$1" && pwd)
OFFICER=$2
OFFICER_NAME=${3:-"Officer $OFFICER"}
SUPERVISOR=sup-$OFFICER
export BODYCAM_DEMO_OFFICER_PASS=${BODYCAM_DEMO_OFFICER_PASS:-officer-demo-passphrase}
export BODYCAM_DEMO_SUPERVISOR_PASS=${BODYCAM_DEMO_SUPERVISOR_PASS:-supervisor-demo-passphrase}
cd "$DOCK"
mkdir -p people && chmod 700 people

for who in "$OFFICER:BODYCAM_DEMO_OFFICER_PASS" "$SUPERVISOR:BODYCAM_DEMO_SUPERVISOR_PASS"; do
  id=${who%%:*} var=${who#*:}
  [ -f "people/$id.key" ] || "$BC" keys generate --out "people/$id.key" --passphrase-env "$var" >/dev/null
done
"$BC" person enroll --id "$OFFICER" --name "$OFFICER_NAME" --role officer --pubkey "people/$OFFICER.key.pub"
"$BC" person enroll --id "$SUPERVISOR" --name "Supervisor of $OFFICER" --role supervisor \
  --pubkey "people/$SUPERVISOR.key.pub"

echo "-- gaps found at docking"
"$BC" gaps
GAP=$("$BC" gaps --unjustified --json | "$PY" -c 'import json, sys; g = json.load(sys.stdin); print(g[0]["gap"] if g else "")')
if [ -z "$GAP" ]; then
  echo "demo_justify: no open gap on this dock" >&2
  exit 1
fi

echo "-- the witness signs the stop request on paper; the dock captures the signature image"
"$PY" -c 'import sys; from agent.signature_image import draw_signature_image; draw_signature_image(sys.argv[1], sys.argv[2])' \
  people/witness-signature.png "Zhao Liu"

JUST=$("$BC" justify "$GAP" --reason 1 --officer "$OFFICER" --officer-key "people/$OFFICER.key" \
  --officer-passphrase-env BODYCAM_DEMO_OFFICER_PASS \
  --note "A witness asked not to be filmed while giving a statement; recording resumed afterwards." \
  --requester-name "Zhao Liu" --requester-signature people/witness-signature.png --json \
  | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["justification"])')
echo "justification $JUST (signed by $OFFICER, witness signature image stored in the dock store)"
echo "-- what the supervisor reviews: the note, the reason, the witness's signature image, the command"
"$BC" gaps --unapproved
# The gap has one justification awaiting review: the supervisor may name the gap instead of the record.
"$BC" approve "${GAP:0:12}" --supervisor "$SUPERVISOR" --key "people/$SUPERVISOR.key" \
  --passphrase-env BODYCAM_DEMO_SUPERVISOR_PASS --note "Reason and signature checked."

echo "-- gaps after review"
"$BC" gaps
