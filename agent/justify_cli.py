"""``bodycam person``, ``justify``, ``approve``, ``gaps`` and ``case``: people and their signatures on
gaps and cases at the dock (A2 Art.8, 10, 11). A thin layer over ``agent.justify``, ``ledger.people``,
``ledger.gapstate`` and ``ledger.cases``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click

from agent.justify import ART11_REASONS, justify_gap, record_fault, requester_sign
from agent.justify import approve as approve_target
from agent.store import DockStore
from bodycam.cliutil import app_config, echo_json, json_option
from bodycam.errors import BodycamError
from ledger.canonical import loads_strict
from ledger.cases import ART10_REASONS, case_retention, case_segments, flag_case, long_term_cases
from ledger.envelope import Envelope
from ledger.gapstate import APPROVED_STATES, gap_statuses
from ledger.justify_records import FAULT_CAUSES
from ledger.keys import Signer, load_public_key, load_signer
from ledger.people import PERSON_ROLES, enroll_person, people
from ledger.store import Ledger

_ledger_option = click.option("--ledger", "ledger_path", type=click.Path(dir_okay=False, path_type=Path),
                              help="Ledger file (default: the dock ledger of bodycam.toml).")


def _ledger_path(ctx: click.Context, explicit: Path | None) -> Path:
    if explicit is not None:
        return explicit
    agent = app_config(ctx).agent
    return agent.path(agent.ledger)


def _open(ctx: click.Context, explicit: Path | None) -> Ledger:
    return Ledger.open(_ledger_path(ctx, explicit), create=False)


def _store(ctx: click.Context) -> DockStore:
    agent = app_config(ctx).agent
    return DockStore(agent.path(agent.store_dir))


def _has_attachment(ctx: click.Context):
    agent = app_config(ctx).agent
    root = agent.path(agent.store_dir)
    if not root.is_dir():
        return None
    store = DockStore(root)
    return store.has


def _key(path: Path, passphrase_env: str | None) -> Signer:
    return load_signer(path, passphrase_env)


def _t(ns: int | None) -> str:
    if ns is None:
        return "-"
    return datetime.fromtimestamp(ns / 1e9, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


# --- person --------------------------------------------------------------------------------------

@click.group()
def person() -> None:
    """People and their keys: officers, supervisors, heads, reviewers, archivists."""


@person.command("enroll")
@click.option("--id", "person_id", required=True, help="Person id (e.g. the enforcement certificate number).")
@click.option("--name", required=True, help="Full name.")
@click.option("--role", type=click.Choice(PERSON_ROLES), required=True, help="What the person may sign.")
@click.option("--pubkey", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="The person's public key (PEM), from `bodycam keys generate`.")
@click.option("--unit", default=None, help="Handling unit (A2 Art.15).")
@click.option("--admin-key", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Key that enrolls (default: the dock key, the ledger's root).")
@click.option("--admin-passphrase-env", default=None, help="Environment variable holding the admin key's passphrase.")
@_ledger_option
@json_option
@click.pass_context
def person_enroll(ctx: click.Context, person_id: str, name: str, role: str, pubkey: Path, unit: str | None,
                  admin_key: Path | None, admin_passphrase_env: str | None, ledger_path: Path | None,
                  as_json: bool) -> None:
    """Enroll a person's public key with a role, signed by an administrator key."""
    if admin_key is None:
        agent = app_config(ctx).agent
        admin_key = agent.path(agent.key_file)
    admin = _key(admin_key, admin_passphrase_env)
    pub = load_public_key(pubkey)
    with _open(ctx, ledger_path) as ledger:
        entry = enroll_person(ledger, admin, person_id, role, pub, name=name, unit=unit)
    out = {"id": person_id, "name": name, "role": role, "keyid": pub.keyid, "entry": entry.entry_hash,
           "idx": entry.idx}
    if as_json:
        echo_json(out)
    else:
        click.echo(f"enrolled {role} {person_id} ({name}) key {pub.keyid[:16]}… as entry {entry.idx}")


@person.command("list")
@_ledger_option
@json_option
@click.pass_context
def person_list(ctx: click.Context, ledger_path: Path | None, as_json: bool) -> None:
    """People enrolled in the ledger, with their roles and key ids."""
    with _open(ctx, ledger_path) as ledger:
        found = people(ledger)
    if as_json:
        echo_json([p.to_json() for p in found])
        return
    if not found:
        click.echo("no people enrolled; use `bodycam person enroll`")
    for p in found:
        click.echo(f"{p.person_id:<16} {p.role:<11} {p.keyid[:16]}…  {p.name or ''}")


# --- justify / approve -----------------------------------------------------------------------------

def _reasons_help(reasons: dict[int, str]) -> str:
    return "; ".join(f"{k} {v}" for k, v in reasons.items())


@click.command()
@click.argument("gap_id")
@click.option("--reason", type=click.IntRange(1, 5), required=True,
              help=f"A2 Art.11 reason: {_reasons_help(ART11_REASONS)}.")
@click.option("--officer", "officer_id", required=True, help="Enrolled officer id writing the work record.")
@click.option("--officer-key", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The officer's private key file.")
@click.option("--officer-passphrase-env", default=None, help="Environment variable holding its passphrase.")
@click.option("--note", required=True, help="The work record: what happened, why recording stopped.")
@click.option("--basis", default=None, help="Legal or procedural basis, if any.")
@click.option("--requester-name", default=None, help="Who asked to stop (reasons 1 and 3).")
@click.option("--requester-signature", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="PNG/JPEG of the requester's handwritten signature or seal.")
@click.option("--requester-key", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The requester's enrolled private key, when they sign at the dock.")
@click.option("--requester-passphrase-env", default=None, help="Environment variable holding its passphrase.")
@click.option("--requester-envelope", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Justification envelope the requester signed elsewhere (see --requester-sign-out).")
@click.option("--requester-sign-out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Requester's step: sign with --requester-key, write the envelope here, append nothing.")
@_ledger_option
@json_option
@click.pass_context
def justify(ctx: click.Context, gap_id: str, reason: int, officer_id: str, officer_key: Path | None,
            officer_passphrase_env: str | None, note: str, basis: str | None, requester_name: str | None,
            requester_signature: Path | None, requester_key: Path | None, requester_passphrase_env: str | None,
            requester_envelope: Path | None, requester_sign_out: Path | None, ledger_path: Path | None,
            as_json: bool) -> None:
    """Justify a gap: the officer's signed stop-recording record (A2 Art.11).

    Reasons 1 and 3 need the requester's signature: a signature/seal image or the requester's
    enrolled key (a second signature on the same record).
    """
    requester = _key(requester_key, requester_passphrase_env) if requester_key else None
    with _open(ctx, ledger_path) as ledger:
        if requester_sign_out is not None:
            if requester is None:
                raise click.UsageError("--requester-sign-out needs --requester-key")
            env = requester_sign(ledger, gap_id, requester, reason=reason, officer_id=officer_id, note=note,
                                 basis=basis, requester_name=requester_name)
            requester_sign_out.write_text(json.dumps(env.to_json(), indent=2) + "\n", encoding="utf-8")
            click.echo(f"requester signature written to {requester_sign_out}; the officer appends it with "
                       f"`bodycam justify {gap_id} ... --requester-envelope {requester_sign_out}`")
            return
        if officer_key is None:
            raise click.UsageError("--officer-key is required (the officer signs the justification)")
        officer = _key(officer_key, officer_passphrase_env)
        req_env = None
        if requester_envelope is not None:
            try:
                req_env = Envelope.from_json(loads_strict(requester_envelope.read_bytes()))
            except BodycamError as exc:
                raise BodycamError(f"{requester_envelope}: not a signed envelope: {exc}") from None
        store = _store(ctx) if requester_signature is not None else None
        result = justify_gap(ledger, store, gap_id, reason=reason, officer_id=officer_id, officer=officer,
                             note=note, basis=basis, requester_name=requester_name,
                             requester_image=requester_signature, requester=requester, requester_envelope=req_env)
    if as_json:
        echo_json(result.to_json())
    else:
        click.echo(f"justification {result.entry.entry_hash[:12]} (entry {result.entry.idx}) for gap "
                   f"{gap_id}: reason {reason}; awaiting approval: "
                   f"`bodycam approve {result.entry.entry_hash[:12]} --supervisor ID --key FILE`")


@click.command()
@click.argument("justification_id")
@click.option("--supervisor", "supervisor_id", required=True, help="Enrolled supervisor (or head) id.")
@click.option("--key", "key_path", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The supervisor's private key file.")
@click.option("--passphrase-env", default=None, help="Environment variable holding its passphrase.")
@click.option("--note", default="", help="Review remarks.")
@click.option("--reject", is_flag=True, help="Record the review as rejected: the officer must justify again.")
@_ledger_option
@json_option
@click.pass_context
def approve(ctx: click.Context, justification_id: str, supervisor_id: str, key_path: Path,
            passphrase_env: str | None, note: str, reject: bool, ledger_path: Path | None, as_json: bool) -> None:
    """Approve (or reject) a justification or fault record as the supervising leader (A2 Art.11)."""
    signer = _key(key_path, passphrase_env)
    with _open(ctx, ledger_path) as ledger:
        entry = approve_target(ledger, justification_id, supervisor_id=supervisor_id, supervisor=signer,
                               note=note, decision="rejected" if reject else "approved")
    rec = entry.body
    if as_json:
        echo_json({"approval": entry.entry_hash, "idx": entry.idx, "target": rec["target"], "gap": rec["gap"],
                   "decision": rec["decision"], "supervisor_id": supervisor_id})
    else:
        click.echo(f"{rec['decision']} {rec['target'][:12]} (gap {rec['gap'][:12]}) by {supervisor_id}: "
                   f"entry {entry.idx}")


# --- gaps ------------------------------------------------------------------------------------------

@click.group(invoke_without_command=True)
@click.option("--unjustified", is_flag=True, help="Only gaps not yet approved (bare, justified, fault, rejected).")
@click.option("--unapproved", is_flag=True, help="Only gaps explained but awaiting the supervisor.")
@click.option("--device", default=None, help="Only this device.")
@_ledger_option
@json_option
@click.pass_context
def gaps(ctx: click.Context, unjustified: bool, unapproved: bool, device: str | None, ledger_path: Path | None,
         as_json: bool) -> None:
    """Gaps in the dock ledger and their state: bare, justified, approved, fault, fault_approved, rejected.

    A record whose signatures do not verify does not count: its gap shows as not justified.
    """
    if ctx.invoked_subcommand is not None:
        ctx.meta["gaps.ledger"] = ledger_path
        return
    with _open(ctx, ledger_path) as ledger:
        statuses = gap_statuses(ledger, _has_attachment(ctx))
    statuses = [s for s in statuses if s.state != "not_required"]
    if device:
        statuses = [s for s in statuses if s.gap.device_id == device]
    if unjustified:
        statuses = [s for s in statuses if s.state not in APPROVED_STATES]
    if unapproved:
        statuses = [s for s in statuses if s.state in ("justified", "fault")]
    if as_json:
        echo_json([s.to_json() for s in statuses])
        return
    if not statuses:
        click.echo("no gaps" + (" matching" if unjustified or unapproved or device else ""))
    for s in statuses:
        g = s.gap
        why = [f"reason {s.reason}" if s.reason else "", f"cause {s.cause}" if s.cause else "",
               f"officer {s.officer_id}" if s.officer_id else "",
               f"supervisor {s.supervisor_id}" if s.supervisor_id else ""]
        detail = ", ".join(w for w in why if w)
        click.echo(f"{s.entry_hash[:12]}  {g.device_id}  seq {g.after_seq}→{g.before_seq}  "
                   f"{_t(g.start_ns)} – {_t(g.end_ns)}  {s.state}" + (f" ({detail})" if detail else ""))
        for p in s.problems:
            click.echo(f"    ! {p}")


@gaps.command("fault")
@click.argument("gap_id")
@click.option("--cause", type=click.Choice(FAULT_CAUSES), required=True,
              help="battery (died), storage (card full), device_fault, other (A2 Art.8).")
@click.option("--officer", "officer_id", required=True, help="Enrolled officer id.")
@click.option("--officer-key", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The officer's private key file.")
@click.option("--officer-passphrase-env", default=None, help="Environment variable holding its passphrase.")
@click.option("--note", required=True, help="What failed and when.")
@_ledger_option
@json_option
@click.pass_context
def gaps_fault(ctx: click.Context, gap_id: str, cause: str, officer_id: str, officer_key: Path,
               officer_passphrase_env: str | None, note: str, ledger_path: Path | None, as_json: bool) -> None:
    """Record a technical fault as the cause of a gap instead of a justification (A2 Art.8)."""
    officer = _key(officer_key, officer_passphrase_env)
    ledger_path = ledger_path or ctx.meta.get("gaps.ledger")
    with _open(ctx, ledger_path) as ledger:
        entry = record_fault(ledger, gap_id, cause=cause, officer_id=officer_id, officer=officer, note=note)
    if as_json:
        echo_json({"fault": entry.entry_hash, "idx": entry.idx, "gap": entry.body["gap"], "cause": cause})
    else:
        click.echo(f"fault {entry.entry_hash[:12]} ({cause}) recorded for gap {entry.body['gap'][:12]}; "
                   f"awaiting approval: `bodycam approve {entry.entry_hash[:12]} --supervisor ID --key FILE`")


# --- case ------------------------------------------------------------------------------------------

@click.group()
def case() -> None:
    """Cases and their retention class (A2 Art.10: long-term)."""


@case.command("flag")
@click.argument("case_id")
@click.option("--reason", type=click.IntRange(1, 5), required=True,
              help=f"A2 Art.10 reason: {_reasons_help(ART10_REASONS)}.")
@click.option("--by", "person_id", required=True, help="Enrolled person flagging the case.")
@click.option("--key", "key_path", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="That person's private key file.")
@click.option("--passphrase-env", default=None, help="Environment variable holding its passphrase.")
@click.option("--note", default="", help="Why, in words.")
@_ledger_option
@json_option
@click.pass_context
def case_flag(ctx: click.Context, case_id: str, reason: int, person_id: str, key_path: Path,
              passphrase_env: str | None, note: str, ledger_path: Path | None, as_json: bool) -> None:
    """Mark a case long_term (A2 Art.10); all its segments inherit the retention class."""
    signer = _key(key_path, passphrase_env)
    with _open(ctx, ledger_path) as ledger:
        entry = flag_case(ledger, case_id, reason, person_id, signer, note=note)
        ret = case_retention(ledger, case_id)
        n = len(case_segments(ledger, case_id))
    if as_json:
        echo_json({"flag": entry.entry_hash, "idx": entry.idx, **ret.to_json(), "segments": n})
    else:
        click.echo(f"case {case_id} is {ret.retention} (A2 Art.10({reason}): {ART10_REASONS[reason]}); "
                   f"{n} segments inherit it")


@case.command("show")
@click.argument("case_id", required=False)
@_ledger_option
@json_option
@click.pass_context
def case_show(ctx: click.Context, case_id: str | None, ledger_path: Path | None, as_json: bool) -> None:
    """Retention class of a case and its segments (without CASE: every long-term case)."""
    with _open(ctx, ledger_path) as ledger:
        if case_id is None:
            rets = list(long_term_cases(ledger).values())
            segs = {r.case_id: [e.entry_hash for e in case_segments(ledger, r.case_id)] for r in rets}
        else:
            rets = [case_retention(ledger, case_id)]
            segs = {case_id: [e.entry_hash for e in case_segments(ledger, case_id)]}
    out = [{**r.to_json(), "segments": segs[r.case_id]} for r in rets]
    if as_json:
        echo_json(out if case_id is None else out[0])
        return
    for r in out:
        why = f" (A2 Art.10 {', '.join(map(str, r['reasons']))})" if r["reasons"] else ""
        click.echo(f"{r['case_id']}: {r['retention']}{why}, {len(r['segments'])} segments")


COMMANDS = [person, justify, approve, gaps, case]
