"""``bodycam archive …``: receive and ledger what docks send; register docks; export the log key."""

from __future__ import annotations

import threading
from pathlib import Path

import click

from archive.config import ArchiveConfig
from bodycam.cliutil import (
    KeyRef,
    TimeParam,
    app_config,
    echo_json,
    json_option,
    passphrase_option,
    show_status_logs,
    signed_by,
)
from bodycam.formats import local_time, printable, rfc3339
from bodycam.i18n import N_, _, tr


def archive_config(ctx: click.Context) -> ArchiveConfig:

    cfg = app_config(ctx).archive
    return cfg.model_copy(update={"broker": cfg.broker.resolved(cfg.data_dir)})


@click.group("archive")
def archive() -> None:
    """The bureau archive: receive docks' footage and records, register docks."""


@archive.command("serve")
@passphrase_option(N_("the log key"))
@click.pass_context
def serve(ctx: click.Context, passphrase_env: str | None) -> None:
    """Receive, verify, store and ledger what docks send; acknowledge with signed receipts.
    Runs until SIGTERM or Ctrl-C.

    Refuses to start (exit 1) while blobs, parts, ledger or state can be read by other local
    users, naming each path and the chmod that fixes it, or while another `archive serve` uses
    the folder (two would evict each other from the broker)."""
    from archive.receiver import load_receiver
    from bodycam.locks import exclusive_lock
    from bodycam.permissions import require_private
    from bodycam.signals import stop_on_signals

    cfg = archive_config(ctx)
    show_status_logs("archive", "syncd")  # connected, receiving, committed, broker lost, reconnecting in N s
    ctx.with_resource(exclusive_lock(cfg.data_dir, "archive", "bodycam archive serve"))  # held until it returns
    require_private("bodycam archive serve", cfg.data_dir, cfg.private_trees())
    stop = threading.Event()
    stop_on_signals(stop)
    receiver = load_receiver(cfg, passphrase_env, stop_event=stop)
    receiver.run()


@archive.command("log-key")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the archive's log public key (give it to every dock: syncd.archive_pubkey).")
@click.option("--vkey", "show_vkey", is_flag=True,
              help="Print the C2SP verifier key (origin+keyid+key) a standard signed-note verifier trusts.")
@passphrase_option(N_("the log key"))
@json_option
@click.pass_context
def log_key(ctx: click.Context, out: Path | None, show_vkey: bool, passphrase_env: str | None, as_json: bool) -> None:
    """Export the public half of the log key that signs the archive's receipts and checkpoints.

    Checkpoints are signed under one origin, ``[archive] origin``; ``--vkey`` prints the verifier
    key for that name, which is all a C2SP note verifier (e.g. Go's sumdb/note) needs."""
    from ledger.checkpoint import vkey
    from ledger.keys import load_public_key, write_public_key

    if out is None and not show_vkey:
        raise click.UsageError(_("say what to export: --out FILE (the public key) and/or --vkey"))
    cfg = archive_config(ctx)
    pub = load_public_key(cfg.path(cfg.log_key), passphrase_env)
    if out is not None:
        write_public_key(out, pub)
    verifier = vkey(cfg.origin, pub)
    if as_json:
        echo_json({"keyid": pub.keyid, "file": str(out) if out else None, "origin": cfg.origin, "vkey": verifier})
        return
    if out is not None:
        click.echo(_("log key {keyid}… written to {out}; set syncd.archive_pubkey to it on each dock").format(
            keyid=pub.keyid[:16], out=out), err=show_vkey)
    if show_vkey:
        click.echo(verifier)


@archive.group("dock")
def dock() -> None:
    """Docks the archive accepts (A2 Art.16: only registered custodians deliver evidence)."""


@dock.command("add")
@click.argument("name")
@click.option("--pubkey", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="The dock's public key (or its key file: only the public half is read).")
@click.option("--broker-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Broker deployment to issue credentials in (default: archive.broker_dir).")
@passphrase_option(N_("the admin key"))
@json_option
@click.pass_context
def dock_add(ctx: click.Context, name: str, pubkey: Path, broker_dir: Path | None, passphrase_env: str | None,
             as_json: bool) -> None:
    """Register dock NAME: enroll its key in the archive ledger (signed by the admin key) and issue
    its broker credentials (client certificate, password, ACL entry)."""
    from archive.docks import Trust, issue_broker_credentials, register_dock
    from ledger.keys import load_public_key, load_signer
    from ledger.store import Ledger

    cfg = archive_config(ctx)
    admin = load_signer(cfg.path(cfg.admin_key), passphrase_env)
    pub = load_public_key(pubkey)
    with Ledger.open(cfg.path(cfg.ledger), create=False) as lg:
        entry = register_dock(lg, admin, name, pub)
        docks = list(Trust.load(lg).docks())
    out: dict = {"dock": name, "keyid": pub.keyid, "ledger_index": entry.idx, "entry_hash": entry.entry_hash}
    bdir = broker_dir or (cfg.path(cfg.broker_dir) if cfg.broker_dir else None)
    if bdir is not None:
        creds = issue_broker_credentials(bdir, name, docks, cfg.broker.client_id or cfg.broker.username or "archive")
        out["broker"] = {"password_file": str(creds.password_file), "cert": str(creds.cert) if creds.cert else None,
                         "key": str(creds.key) if creds.key else None, "acl": str(creds.acl)}
    if as_json:
        echo_json(out)
        return
    click.echo(_("dock {dock} registered: key {keyid}… at archive ledger index {idx}").format(
        dock=name, keyid=pub.keyid[:16], idx=entry.idx))
    if "broker" in out:
        b = out["broker"]
        if b["cert"]:
            click.echo(_("broker credentials: password {password}, certificate {cert}").format(
                password=b["password_file"], cert=b["cert"]))
        else:
            click.echo(_("broker credentials: password {password}").format(password=b["password_file"]))
        click.echo(_("reload the broker (SIGHUP) so it reads the new ACL and password file"))
    else:
        click.echo(_("no broker deployment given (--broker-dir or archive.broker_dir): issue its credentials with "
                     "`bodycam pki issue --name {dock}` and `bodycam broker render`").format(dock=name))


@dock.command("revoke")
@click.argument("name")
@click.option("--reason", required=True, help="Why: lost, stolen, retired, key compromised (kept in the ledger).")
@click.option("--broker-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Broker deployment to withdraw its credentials from (default: archive.broker_dir).")
@passphrase_option(N_("the admin key"))
@json_option
@click.pass_context
def dock_revoke(ctx: click.Context, name: str, reason: str, broker_dir: Path | None, passphrase_env: str | None,
                as_json: bool) -> None:
    """Revoke dock NAME (lost, stolen, retired): its keys are revoked in the archive ledger (signed
    by the admin key) and its broker credentials withdrawn; what it delivered before stays evidence."""
    from archive.docks import revoke_dock, withdraw_broker_credentials
    from ledger.keys import load_signer
    from ledger.store import Ledger

    cfg = archive_config(ctx)
    admin = load_signer(cfg.path(cfg.admin_key), passphrase_env)
    with Ledger.open(cfg.path(cfg.ledger), create=False) as lg:
        entries = revoke_dock(lg, admin, name, reason)
    out: dict = {"dock": name, "revocations": [{"ledger_index": e.idx, "entry_hash": e.entry_hash,
                                                 "keyid": e.record.keyid} for e in entries]}
    bdir = broker_dir or (cfg.path(cfg.broker_dir) if cfg.broker_dir else None)
    if bdir is not None:
        out["broker_acl"] = str(withdraw_broker_credentials(bdir, name,
                                                            cfg.broker.client_id or cfg.broker.username or "archive"))
    if as_json:
        echo_json(out)
        return
    for e in entries:
        click.echo(_("dock {dock}: key {keyid}… revoked at archive ledger index {idx}").format(
            dock=name, keyid=e.record.keyid[:16], idx=e.idx))
    if bdir is not None:
        click.echo(_("broker credentials withdrawn; reload the broker (SIGHUP) so it reads the new ACL"))
    else:
        click.echo(_("no broker deployment given (--broker-dir or archive.broker_dir): remove the dock with "
                     "`bodycam broker render` and reload the broker"))
    click.echo(_("re-enroll its recorders at another dock: `bodycam archive device transfer DEVICE --to DOCK "
                 "--reason R`"))


@dock.command("list")
@json_option
@click.pass_context
def dock_list(ctx: click.Context, as_json: bool) -> None:
    """Registered docks, the recorders they enrolled, when each was last heard from, and its
    checkpoints: the last one acknowledged, whether the latest was consistent with it (a dock
    ledger only grows), and the entries it covers that have not arrived."""
    from archive.dock_checkpoints import DockCheckpoints
    from archive.docks import Trust
    from archive.transfers import TransferState
    from ledger.store import Ledger

    cfg = archive_config(ctx)
    contacts: dict = {}
    checkpoints: dict = {}
    state_path = cfg.path(cfg.state_db)
    with Ledger.open(cfg.path(cfg.ledger), create=False) as lg:
        trust = Trust.load(lg)
        segments = dict(lg.conn.execute("SELECT device_id, count(*) FROM entries WHERE kind='segment' "
                                        "GROUP BY device_id").fetchall())
        if state_path.exists():
            st = TransferState(state_path)
            try:
                contacts = st.contacts()
            finally:
                st.close()
            dc = DockCheckpoints(state_path)
            try:
                checkpoints = {name: dc.summary(name, lg) for name in trust.docks()}
            finally:
                dc.close()
    rows = []
    acknowledged_ns: dict[str, int | None] = {}  # for people, in the display zone
    for name, keys in sorted(trust.docks().items()):
        recorders = [{"device_id": k.subject_id, "keyid": k.keyid, "custodian": k.custodian,
                      "segments": segments.get(k.subject_id, 0)}
                     for k in trust.keys.values() if k.subject_type == "device" and k.owner == name]
        last = contacts.get(name)
        ck = checkpoints.get(name)
        if ck is not None:
            acknowledged_ns[name] = ck["acknowledged_ns"]
            for key in ("acknowledged_ns", "complete_reported_ns"):
                ns = ck.pop(key)
                ck[key.removesuffix("_ns")] = rfc3339(ns) if ns else None
        rows.append({"dock": name, "keyids": [k.keyid for k in keys], "registered_index": keys[0].idx,
                     "recorders": recorders, "last_contact": rfc3339(last[0]) if last else None,
                     "messages": last[1] if last else 0, "checkpoint": ck})
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo(_("no docks registered; use `bodycam archive dock add NAME --pubkey FILE`"))
    for r in rows:
        last = contacts.get(r["dock"])
        click.echo(_("{dock}: key {keyid}…, last contact {last}, {count} recorder(s)").format(
            dock=r["dock"], keyid=r["keyids"][0][:16], last=local_time(last[0]) if last else _("never"),
            count=len(r["recorders"])))
        ck = r["checkpoint"]
        if ck and ck["size"] is not None:
            state = _("consistent") if ck["consistent"] else _("INCONSISTENT")
            covered = (_("{count} covered entry not arrived") if ck["missing"] == 1 else
                       _("{count} covered entries not arrived")).format(count=ck["missing"])
            click.echo(_("  checkpoint: size {size} acknowledged {at}, {state}, {covered}").format(
                size=ck["size"], at=local_time(acknowledged_ns.get(r["dock"])), state=state, covered=covered))
        elif ck:
            click.echo(_("  checkpoint: none acknowledged") if ck["consistent"] else
                       _("  checkpoint: none acknowledged, INCONSISTENT"))
        if ck and ck["last_problem"]:
            # the reason the archive recorded (English, as kept in its state): quoted as it is
            click.echo(printable(_("  ! {count} inconsistent checkpoint(s); last: {problem}").format(
                count=ck["inconsistent_checkpoints"], problem=ck["last_problem"])))
        for rec in r["recorders"]:
            # ids and custodians come from docks' enrollments: shown, never obeyed by the terminal
            click.echo(printable(_("  {device} (custodian {custodian}): {count} segment(s)").format(
                device=rec["device_id"], custodian=rec["custodian"] or "?", count=rec["segments"])))


@archive.group("device")
def device() -> None:
    """Recorders as the archive knows them."""


@device.command("transfer")
@click.argument("device_id")
@click.option("--to", "to_dock", required=True, help="Registered dock that takes the recorder over.")
@click.option("--reason", required=True, help="Why (e.g. the old dock was lost or stolen).")
@passphrase_option(N_("the admin key"))
@json_option
@click.pass_context
def device_transfer(ctx: click.Context, device_id: str, to_dock: str, reason: str, passphrase_env: str | None,
                    as_json: bool) -> None:
    """Hand a recorder over as an administrator, when the dock that holds it is lost or stolen.

    Its chain at the archive ends at its last archived segment; `to_dock` may then enroll it."""
    from ledger.enroll import hand_over
    from ledger.keys import load_signer
    from ledger.store import Ledger

    cfg = archive_config(ctx)
    admin = load_signer(cfg.path(cfg.admin_key), passphrase_env)
    with Ledger.open(cfg.path(cfg.ledger), create=False) as ledger:
        entry = hand_over(ledger, admin, device_id, to_dock, reason)
    if as_json:
        echo_json({"handover": entry.entry_hash, "idx": entry.idx, "device_id": device_id, "to_dock": to_dock,
                   "last_seq": entry.body["last_seq"]})
    else:
        click.echo(_("{device} handed over to {dock} after seq {seq} (entry {idx})").format(
            device=device_id, dock=to_dock, seq=entry.body["last_seq"], idx=entry.idx))


# -- transfers in progress (issue 11, hole 5) -------------------------------------------------------


def _open_transfers(cfg: ArchiveConfig) -> list:
    from archive.transfers import TransferState

    path = cfg.path(cfg.state_db)
    if not path.exists():
        return []
    st = TransferState(path)
    try:
        return st.open_transfers()
    finally:
        st.close()


@archive.group("transfers", invoke_without_command=True)
@json_option
@click.pass_context
def transfers(ctx: click.Context, as_json: bool) -> None:
    """Transfers docks opened and have not finished: dock, file id, size, chunks stored, idle time.

    Each counts against its dock's ``[archive] max_open_bytes_per_dock`` until it is committed,
    refused, aborted, dropped, or idle for ``transfer_idle_s`` (then the receiver drops it)."""
    import time

    from archive.transfers import idle_expired
    from syncd.protocol import chunk_count

    if ctx.invoked_subcommand is not None:
        return
    cfg = archive_config(ctx)
    now = time.time_ns()
    rows = []
    for t in sorted(_open_transfers(cfg), key=lambda t: (t.dock, t.updated_ns)):
        rows.append({"dock": t.dock, "file_id": t.file_id, "size": t.size, "chunk_size": t.chunk_size,
                     "chunks": chunk_count(t.size, t.chunk_size), "stored_chunks": t.chunks_received,
                     "sha256": t.sha256, "opened": rfc3339(t.created_ns), "last_activity": rfc3339(t.updated_ns),
                     "idle_s": max(0, (now - t.updated_ns) // 1_000_000_000),
                     "expired": idle_expired(t.updated_ns, now, cfg.transfer_idle_s)})
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo(_("no open transfers"))
        return
    from bodycam.formats import duration, human_bytes

    held: dict[str, int] = {}
    for r in rows:
        held[r["dock"]] = held.get(r["dock"], 0) + r["size"]
        line = _("{file}  {dock}  {size}  {stored}/{chunks} chunks  idle {idle}").format(
            file=r["file_id"][:12], dock=r["dock"], size=human_bytes(r["size"]), stored=r["stored_chunks"],
            chunks=r["chunks"], idle=duration(r["idle_s"]))
        click.echo(line + (_("  (expired: dropped at the next sweep)") if r["expired"] else ""))
    for dock_name, n in sorted(held.items()):
        click.echo(_("{dock}: {size} open of its {quota} quota").format(
            dock=dock_name, size=human_bytes(n), quota=human_bytes(cfg.max_open_bytes_per_dock)))


@transfers.command("drop")
@click.argument("transfer_id", metavar="ID")
@json_option
@click.pass_context
def transfers_drop(ctx: click.Context, transfer_id: str, as_json: bool) -> None:
    """Drop the open transfer ID (its file id, or a unique prefix of 6+ hex digits, as
    `archive transfers` shows it): its state rows and part file go, and the bytes no longer count
    against its dock's quota. A running receiver forgets it within seconds; if the dock sends it
    again it starts from the first chunk."""
    import logging
    import re

    from archive.blobs import BlobStore
    from archive.transfers import TransferState, drop_transfer
    from bodycam.errors import BodycamError

    ref = transfer_id.strip().lower()
    if not re.fullmatch(r"[0-9a-f]{6,64}", ref):
        raise BodycamError(_("{id!r} is not a transfer id; use the id `bodycam archive transfers` shows (6+ hex "
                             "digits)").format(id=transfer_id))
    cfg = archive_config(ctx)
    matches = [t for t in _open_transfers(cfg) if t.file_id.startswith(ref)]
    if not matches:
        raise BodycamError(_("no open transfer {id}; list them with `bodycam archive transfers`").format(id=ref))
    if len(matches) > 1:
        raise BodycamError(_("{id} matches {count} open transfers; give more digits").format(id=ref,
                                                                                          count=len(matches)))
    t = matches[0]
    st = TransferState(cfg.path(cfg.state_db))
    try:
        dropped = drop_transfer(st, BlobStore(cfg.path(cfg.blob_dir), cfg.path(cfg.part_dir)), t.dock, t.file_id)
    finally:
        st.close()
    if not dropped:
        raise BodycamError(_("transfer {file} of {dock} finished while being dropped; nothing dropped").format(
            file=t.file_id[:12], dock=t.dock))
    logging.getLogger("archive.transfers").warning(
        "transfer %s from %s dropped by an operator (%d bytes announced, %d chunks stored); part file removed",
        t.file_id, t.dock, t.size, t.chunks_received)
    if as_json:
        echo_json({"dropped": t.file_id, "dock": t.dock, "size": t.size, "stored_chunks": t.chunks_received})
    else:
        click.echo(_("dropped transfer {file} of {dock} ({size} bytes announced, {chunks} chunks stored); its part "
                     "file is removed").format(file=t.file_id[:12], dock=t.dock, size=t.size,
                                               chunks=t.chunks_received))


@archive.command("verify")
@click.option("--jobs", type=click.IntRange(min=1), default=None,
              help="Processes re-hashing blobs and checking signatures (default: one per CPU).")
@json_option
@click.pass_context
def archive_verify(ctx: click.Context, jobs: int | None, as_json: bool) -> None:
    """Recompute everything the archive holds: every blob re-hashed, every signature, every
    device's chain, the Merkle tree against every checkpoint, every attachment present, and the
    permissions of ledger and blobs. Exit 3 lists each problem by entry and blob.

    Blobs no entry names are listed as unreferenced (not a problem: a crash between storing a file
    and ledgering its record leaves one, and the record arrives again); blobs a retention entry
    purged are purged, not missing."""
    import os
    import sys

    from archive.verify import verify_archive
    from bodycam.errors import VerificationError
    from bodycam.formats import human_bytes

    cfg = archive_config(ctx)
    jobs = jobs or os.cpu_count() or 1
    bar = None
    if not as_json and sys.stderr.isatty():
        bar = click.progressbar(length=1, label=_("re-hashing blobs"), file=sys.stderr)

    def progress(done: int, total: int) -> None:
        if bar is not None:
            bar.length = max(total, 1)
            bar.update(done - bar.pos)

    try:
        report = verify_archive(cfg, jobs=jobs, progress=progress)
    finally:
        if bar is not None:
            bar.render_finish()
    if as_json:
        echo_json(report.to_json())
    else:
        lg = report.ledger
        click.echo(_("{verdict}: {entries} entries, {signatures} signatures, {checkpoints} checkpoints, {blobs} blobs "
                     "({size}) at {rate} MB/s with {jobs} job(s), {seconds:.2f} s").format(
            verdict=_("OK") if report.ok else _("FAILED"), entries=lg.entries_checked,
            signatures=lg.signatures_checked, checkpoints=lg.checkpoints_checked, blobs=report.blobs_checked,
            size=human_bytes(report.bytes_hashed), rate=report.mb_per_s or 0, jobs=report.jobs,
            seconds=report.elapsed_s))
        if report.purged:
            click.echo(_("{n} blob(s) purged by retention entries (not missing)").format(n=len(report.purged)))
        if report.unreferenced:
            click.echo(_("{n} blob(s) in the store that no entry names (unreferenced, kept): {blobs}").format(
                n=len(report.unreferenced), blobs=", ".join(s[:16] + "…" for s in report.unreferenced[:10])))
        for p in report.problems:
            where = []
            if p.idx is not None:
                where.append(_("entry {idx} ({hash}…)").format(idx=p.idx, hash=(p.entry_hash or "")[:16])
                             if p.entry_hash else _("entry {idx}").format(idx=p.idx))
            if p.blob:
                where.append(_("blob {blob}").format(blob=p.blob))
            click.echo("  " + _("{where}: {check}: {message}").format(
                where=", ".join(where) or _("archive"), check=p.check, message=printable(tr(p.message))))
    if not report.ok:
        entries = sorted({p.idx for p in report.problems if p.idx is not None})
        blobs = sorted({p.blob for p in report.problems if p.blob})
        raise VerificationError(_("{n} problem(s) in the archive; entries: {entries}; blobs: {blobs}. Do not trust "
                                  "what they concern; compare with a copy and the last signed checkpoint.").format(
            n=len(report.problems), entries=", ".join(map(str, entries[:20])) or "-",
            blobs=", ".join(b[:16] + "…" for b in blobs[:20]) or "-"))


# --- retention and legal holds (A2 Art.9, 10, 16) ------------------------------------------------


@archive.group("hold")
def hold() -> None:
    """Legal holds: keep every segment of a case, whatever its age, until released (A2 Art.16)."""


def _hold(ctx: click.Context, action: str, case_id: str, person_id: str, key, reason: str, as_json: bool) -> None:
    from archive.retention import legal_hold
    from ledger.store import Ledger

    cfg = archive_config(ctx)
    signer = key.load()
    with Ledger.open(cfg.path(cfg.ledger), create=False) as lg:
        entry = legal_hold(lg, case_id, action, person_id, signer, reason)  # type: ignore[arg-type]
    if as_json:
        echo_json({"case_id": case_id, "action": action, "by": person_id, "entry_hash": entry.entry_hash,
                   "idx": entry.idx})
    elif action == "add":
        click.echo(printable(_("legal hold on case {case_id} by {by}: its footage is kept until released "
                               "(entry {idx})").format(case_id=case_id, by=person_id, idx=entry.idx)))
    else:
        click.echo(printable(_("legal hold on case {case_id} released by {by} (entry {idx})").format(
            case_id=case_id, by=person_id, idx=entry.idx)))


@hold.command("add")
@click.argument("case_id")
@signed_by(help="Enrolled person placing the hold (supervisor, head, reviewer or archivist).",
           what=N_("the person placing or releasing the hold"))
@click.option("--reason", required=True, help="Why the footage must be kept (litigation, complaint...).")
@json_option
@click.pass_context
def hold_add(ctx: click.Context, case_id: str, person_id: str, key: KeyRef, reason: str, as_json: bool) -> None:
    """Place a legal hold on case CASE_ID: none of its footage is purged while the hold is in force."""
    _hold(ctx, "add", case_id, person_id, key, reason, as_json)


@hold.command("release")
@click.argument("case_id")
@signed_by(help="Enrolled person releasing the hold.", what=N_("the person placing or releasing the hold"))
@click.option("--reason", required=True, help="Why the hold ends.")
@json_option
@click.pass_context
def hold_release(ctx: click.Context, case_id: str, person_id: str, key: KeyRef, reason: str, as_json: bool) -> None:
    """Release a legal hold on case CASE_ID (refused when none is in force)."""
    _hold(ctx, "release", case_id, person_id, key, reason, as_json)


@archive.group("retention")
def retention() -> None:
    """Retention of footage: ordinary footage at least 12 months, long-term cases for ever (A2 Art.10, 16)."""


def _parse_now(value: str | None) -> int | None:
    from datetime import UTC, datetime

    if value is None:
        return None
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(_("not a time: {value!r}; use RFC 3339, e.g. 2028-12-01T00:00:00Z").format(
            value=value), param_hint="--now") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return int(t.timestamp()) * 10**9 + t.microsecond * 1000


@retention.command("run")
@click.option("--dry-run", is_flag=True, help="Say what would be purged; purge nothing, write nothing.")
@click.option("--now", "now", default=None, metavar="T", help="Decide as if it were time T (RFC 3339).")
@passphrase_option(N_("the log key"))
@json_option
@click.pass_context
def retention_run_cmd(ctx: click.Context, dry_run: bool, now: str | None, passphrase_env: str | None,
                      as_json: bool) -> None:
    """Purge footage whose retention has expired: for each blob, append a signed `retention` entry
    (its hash stays in the ledger), then remove the bytes. Long-term cases (A2 Art.10), legal holds,
    open access requests and reviews keep footage whatever its age; low disk only raises an alert.
    Running it again purges nothing new."""
    from archive.blobs import BlobStore
    from archive.retention import Policy, retention_run
    from ledger.keys import load_signer
    from ledger.store import Ledger

    cfg = archive_config(ctx)
    policy = Policy(cfg.retention_days)
    now_ns = _parse_now(now)
    signer = None if dry_run else load_signer(cfg.path(cfg.log_key), passphrase_env)
    store = BlobStore(cfg.path(cfg.blob_dir), cfg.path(cfg.part_dir))
    with Ledger.open(cfg.path(cfg.ledger), create=False) as lg:
        report = retention_run(lg, store.blob_path, signer, policy=policy, now_ns=now_ns, dry_run=dry_run,
                               disk=cfg.path(cfg.blob_dir), low_disk_pct=cfg.low_disk_pct)
    if report.alert is not None:
        click.echo(_("ALERT: {alert}").format(alert=report.alert.translated()), err=True)
    if as_json:
        echo_json(report.to_json())
        return
    for facts, _decision, _h in report.purged:
        line = (_("would purge {sha256}… (case {case}): expired") if dry_run else
                _("purged {sha256}… (case {case}): expired; its hash stays in the ledger"))
        click.echo(printable(line.format(sha256=facts.sha256[:16], case=", ".join(facts.case_ids) or "-")))
    for facts, decision in report.kept:
        if "not_expired" in decision.reasons and len(decision.reasons) == 1 or "already_purged" in decision.reasons:
            continue
        click.echo(printable(_("kept {sha256}… (case {case}): {reasons}").format(
            sha256=facts.sha256[:16], case=", ".join(facts.case_ids) or "-",
            reasons=_("; ").join(m.translated() for m in decision.texts()))))
    kept = sum(1 for _f, d in report.kept if "already_purged" not in d.reasons)
    summary = (_("dry run: {purged} blob(s) would be purged, {kept} kept") if dry_run else
               _("{purged} blob(s) purged, {kept} kept"))
    click.echo(summary.format(purged=len(report.purged), kept=kept))


@archive.command("report")
@click.option("--day", "day", default=None, metavar="D", help="Report as of the end of day D (YYYY-MM-DD, UTC).")
@click.option("--undocked-days", type=click.IntRange(min=0), default=None,
              help="Days after which a recorder not docked is reported (default 2).")
@click.option("--gap-days", type=click.IntRange(min=0), default=None,
              help="Days after which an unjustified or unapproved gap is reported (default 7).")
@click.option("--close-days", type=click.IntRange(min=0), default=None,
              help="Days after a case closed by which its activities' footage must be at the archive (default 3).")
@click.option("--time-tolerance-ms", type=click.IntRange(min=0), default=None,
              help="Time correction or uncertainty beyond which footage is reported (default 1000 ms).")
@json_option
@click.pass_context
def report_cmd(ctx: click.Context, day: str | None, undocked_days: int | None, gap_days: int | None,
               close_days: int | None, time_tolerance_ms: int | None, as_json: bool) -> None:
    """Supervision report (A2 Art.20–22): per unit and officer, recorders not docked, footage not
    handed in after a case closed, gaps unjustified or unapproved after N days, footage bound to
    nothing, footage recorded without a prior calibration, footage that cannot be decoded or whose
    time was corrected beyond tolerance, refused accesses; each finding names the A2 Art.22 fault
    it may indicate and the ledger entries behind it. Then the accesses to each unit's and
    officer's footage, by outcome and purpose. Exit 0: it is a report."""
    import time
    from datetime import UTC, date, datetime, timedelta

    from archive.report import (
        CLOSE_DAYS,
        GAP_DAYS,
        TIME_TOLERANCE_MS,
        UNDOCKED_DAYS,
        access_summary,
        supervision_report,
    )
    from bodycam.tables import table
    from ledger.store import Ledger

    if day is None:
        now_ns = time.time_ns()
    else:
        try:
            d = date.fromisoformat(day)
        except ValueError:
            raise click.BadParameter(_("not a day: {value!r}; use YYYY-MM-DD").format(value=day),
                                     param_hint="--day") from None
        now_ns = int(datetime.combine(d + timedelta(days=1), datetime.min.time(), UTC).timestamp()) * 10**9 - 1
    cfg = archive_config(ctx)
    with Ledger.open(cfg.path(cfg.ledger), create=False) as lg:
        findings = supervision_report(
            lg, now_ns, undocked_days=UNDOCKED_DAYS if undocked_days is None else undocked_days,
            gap_days=GAP_DAYS if gap_days is None else gap_days,
            close_days=CLOSE_DAYS if close_days is None else close_days,
            time_tolerance_ms=TIME_TOLERANCE_MS if time_tolerance_ms is None else time_tolerance_ms)
        accesses = access_summary(lg, now_ns)
    if as_json:
        echo_json({"as_of": rfc3339(now_ns), "findings": [f.to_json() for f in findings],
                   "accesses": [a.to_json() for a in accesses]})
        return
    if not findings:
        click.echo(_("no findings as of {time}").format(time=local_time(now_ns)))
    else:
        rows = [(f.unit, f.officer, f.device, f.message.translated(), f.fault.translated(),
                 " ".join(h[:12] for h in f.entries)) for f in findings]
        # ids and refusal reasons come from signed records, some written outside: shown, never obeyed
        for line in table([_("UNIT"), _("OFFICER"), _("DEVICE"), _("FINDING"), _("MAY INDICATE"), _("ENTRIES")],
                          rows):
            click.echo(printable(line))
        click.echo(_("{n} finding(s) as of {time}").format(n=len(findings), time=local_time(now_ns)))
    if accesses:
        outcome = {"viewed": _("viewed"), "refused": _("refused")}
        purpose = {"copy": _("copy"), "contact_sheet": _("contact sheet"), "export": _("export")}
        click.echo("")
        for line in table([_("UNIT"), _("OFFICER"), _("ACCESS"), _("AS"), _("COUNT")],
                          [(a.unit or "-", a.officer or "-", outcome.get(a.outcome, a.outcome),
                            purpose.get(a.purpose, a.purpose), a.count) for a in accesses]):
            click.echo(printable(line))


@archive.command("segments")
@click.option("--case", "case_id", default=None, metavar="C", help="Only footage of case C.")
@click.option("--unit", default=None, metavar="U", help="Only footage of unit U's officers or of the cases it handles.")
@click.option("--officer", default=None, metavar="ID", help="Only footage recorded by officer ID.")
@click.option("--device", default=None, metavar="ID", help="Only footage of recorder ID.")
@click.option("--from", "start_ns", type=TimeParam(), default=None, help="Only footage recorded at or after this time.")
@click.option("--to", "end_ns", type=TimeParam(end_of_day=True), default=None,
              help="Only footage recorded at or before this time.")
@json_option
@click.pass_context
def segments_cmd(ctx: click.Context, case_id: str | None, unit: str | None, officer: str | None,
                 device: str | None, start_ns: int | None, end_ns: int | None, as_json: bool) -> None:
    """Find footage (A2 Art.15) by case, handling unit, officer, recorder and time of use, with its
    corrected times. Finding footage is not viewing it."""
    from archive.catalog import find_segments
    from bodycam.tables import table
    from ledger.store import Ledger

    cfg = archive_config(ctx)
    with Ledger.open(cfg.path(cfg.ledger), create=False) as lg:
        found = [(e, e.record) for e in find_segments(lg, case=case_id, unit=unit, officer=officer, device=device,
                                                        start_ns=start_ns, end_ns=end_ns)]
    if as_json:
        echo_json([{"entry": e.entry_hash, "index": e.idx, "device_id": r.device_id, "seq": r.seq,
                    "officer_id": r.officer_id, "case_id": r.case_id, "activity": r.activity, "unit": r.unit,
                    "start": rfc3339(r.start_ns), "end": rfc3339(r.end_ns), "sha256": r.media.sha256,
                    "size": r.media.size, "source_name": r.source_name, "flags": list(r.flags)}
                   for e, r in found])
        return
    if not found:
        click.echo(_("no footage matches"))
        return
    rows = [(r.device_id, r.seq, r.officer_id, r.case_id or "-", local_time(r.start_ns), local_time(r.end_ns),
             r.media.sha256[:16]) for _e, r in found]
    # ids come from docks' records: shown, never obeyed by the terminal
    for line in table([_("DEVICE"), _("SEQ"), _("OFFICER"), _("CASE"), _("START"), _("END"), _("SHA-256")], rows):
        click.echo(printable(line))
    click.echo(_("{n} segment(s)").format(n=len(found)))


@archive.command("case")
@click.argument("case_id", metavar="C")
@json_option
@click.pass_context
def case_cmd(ctx: click.Context, case_id: str, as_json: bool) -> None:
    """A case's timeline (A2 Art.15): its activities, segments with corrected times, gaps with their
    justification and approval state, calibrations of the recorders used, attachments and who
    viewed its footage."""
    from archive.catalog import case_timeline
    from bodycam.tables import table
    from ledger.store import Ledger

    cfg = archive_config(ctx)
    with Ledger.open(cfg.path(cfg.ledger), create=False) as lg:
        items = case_timeline(lg, case_id)
    if as_json:
        echo_json([{"at": rfc3339(i["at_ns"]) if i["at_ns"] is not None else None,
                    **{k: (rfc3339(v) if k.endswith("_ns") and v is not None else v) for k, v in i.items()
                       if k != "at_ns"}} for i in items])
        return
    if not items:
        click.echo(printable(_("nothing recorded for case {case}").format(case=case_id)))
        return
    rows = []
    for i in items:
        facts = {k: v for k, v in i.items() if k not in ("at_ns", "kind", "entry", "idx", "end_ns") and v is not None}
        until = local_time(i["end_ns"]) if i.get("end_ns") is not None else ""
        rows.append((local_time(i["at_ns"]) if i["at_ns"] is not None else "?", until, i["kind"],
                     " ".join(f"{k}={v}" for k, v in facts.items()), i["entry"][:12]))
    # facts come from signed records, some written outside: shown, never obeyed by the terminal
    for line in table([_("TIME"), _("UNTIL"), _("WHAT"), _("FACTS"), _("ENTRY")], rows):
        click.echo(printable(line))
    click.echo(_("{n} item(s) in case {case}").format(n=len(items), case=case_id))


@archive.command("contact-sheet")
@click.argument("segment", metavar="SEG")
@click.option("--request", required=True, help="The approved access request (its entry hash).")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The PNG to write (a new file, mode 0600).")
@click.option("--cols", type=click.IntRange(1, 12), default=4, show_default=True, help="Frames per row.")
@click.option("--frames", type=click.IntRange(1, 100), default=12, show_default=True,
              help="Frames sampled evenly from the first to the last.")
@signed_by(help="Archivist making the sheet.", what=N_("the archivist"))
@click.option("--now", "now_ns", type=TimeParam(), default=None, hidden=True)
@json_option
@click.pass_context
def contact_sheet_cmd(ctx: click.Context, segment: str, request: str, out: Path, cols: int, frames: int,
                      person_id: str, key: KeyRef, now_ns: int | None, as_json: bool) -> None:
    """A grid of frames of segment SEG, each labelled with its corrected time (A2 Art.15).

    Showing frames is an access: it needs an approved, unexpired request covering the segment and
    is logged like a copy (A2 Art.18); otherwise exit 3 and the refused attempt is logged. Footage
    whose hash differs or that cannot be decoded is refused; nothing is written.
    """
    from archive.access import AccessRefused
    from archive.contact_sheet import contact_sheet
    from ledger.blobs import BlobStore
    from ledger.store import Ledger

    signer = key.load()
    cfg = archive_config(ctx)
    with Ledger.open(cfg.path(cfg.ledger), create=False) as lg:
        try:
            sheet = contact_sheet(lg, BlobStore(cfg.path(cfg.blob_dir)), signer, person_id, segment, request, out,
                                  cols=cols, frames=frames, now_ns=now_ns)
        except AccessRefused as exc:
            if as_json:
                echo_json({"outcome": "refused", "access": exc.entry.entry_hash if exc.entry else None,
                           "reasons": [str(r) for r in exc.reasons]})
                ctx.exit(3)
            raise
    if as_json:
        echo_json({"outcome": "viewed", "access": sheet.access.entry_hash, "segment": sheet.segment.entry_hash,
                   "out": str(out), "frames": [{"index": i, "offset_ms": ms} for i, ms in sheet.frames],
                   "width": sheet.width, "height": sheet.height})
    else:
        click.echo(printable(_("contact sheet of {n} frame(s) written to {out} ({width}x{height}); the view is "
                               "logged").format(n=len(sheet.frames), out=out, width=sheet.width,
                                                height=sheet.height)))


COMMAND = archive
