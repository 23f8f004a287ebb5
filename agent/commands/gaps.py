"""``bodycam gaps``: gaps in recording and their state; ``gaps fault`` records a technical cause (A2 Art.8, 11)."""

from __future__ import annotations

from pathlib import Path

import click

from agent.commands.common import (
    attachment_checker,
    checkpoint_dock_ledger,
    dock_ledger_option,
    dock_store,
    open_dock_ledger,
)
from agent.justify import ART11_REASONS, record_fault
from agent.offload.continuity import gap_type_name
from bodycam.cliutil import KeyRef, echo_json, json_option, signer_options
from bodycam.formats import duration, local_time, printable
from bodycam.i18n import N_, _
from bodycam.tables import table
from ledger.gapstate import APPROVED_STATES, ExplanationStatus, GapStatus, gap_statuses
from ledger.records import FAULT_CAUSES, Requester, StopJustification

# --- gaps ------------------------------------------------------------------------------------------

STATES = {"bare": N_("bare"), "justified": N_("justified"), "approved": N_("approved"), "fault": N_("fault"),
          "fault_approved": N_("fault_approved"), "rejected": N_("rejected"), "not_required": N_("not_required")}
"""The STATE column in the reader's language (``--json`` keeps the state as it is)."""

@click.group(invoke_without_command=True)
@click.option("--unjustified", is_flag=True, help="Only gaps not yet approved (bare, justified, fault, rejected).")
@click.option("--unapproved", is_flag=True, help="Only gaps explained but awaiting the supervisor.")
@click.option("--device", default=None, help="Only this device.")
@dock_ledger_option
@json_option
@click.pass_context
def gaps(ctx: click.Context, unjustified: bool, unapproved: bool, device: str | None, ledger_path: Path | None,
         as_json: bool) -> None:
    """Gaps in the dock ledger and their state: bare, justified, approved, fault, fault_approved, rejected.

    Under each gap, its justifications and faults: id, reason, officer, note, requester and review,
    with the `bodycam approve` command for one awaiting review. A record whose signatures do not
    verify does not count: its gap shows as not justified.
    """
    if ctx.invoked_subcommand is not None:
        ctx.meta["gaps.ledger"] = ledger_path
        return
    with open_dock_ledger(ctx, ledger_path) as ledger:
        statuses = gap_statuses(ledger, attachment_checker(ctx))
        requester_ids = {k: e.subject_id for k in ledger.keyring() if (e := ledger.enrollment(k)) is not None}
    statuses = [s for s in statuses if s.state != "not_required"]
    if device:
        statuses = [s for s in statuses if s.gap.device_id == device]
    if unjustified:
        statuses = [s for s in statuses if s.state not in APPROVED_STATES]
    if unapproved:
        statuses = [s for s in statuses if s.state in ("justified", "fault")]
    images = _image_paths(ctx)
    if as_json:
        echo_json([_json(s, images) for s in statuses])
        return
    if not statuses:
        click.echo(_("no gaps matching") if unjustified or unapproved or device else _("no gaps"))
        return
    header = (_("GAP"), _("DEVICE"), _("FROM"), _("TO"), _("LENGTH"), _("STATE"))
    rows = [(s.entry_hash[:12], s.gap.device_id, local_time(s.gap.start_ns), local_time(s.gap.end_ns),
             _length(s), _(STATES.get(s.state, s.state))) for s in statuses]
    lines = table(header, rows)
    click.echo(lines[0])
    for s, line in zip(statuses, lines[1:], strict=True):
        click.echo(line)
        for detail in _details(s, images, requester_ids):
            click.echo("    " + detail)


def _length(s: GapStatus) -> str:
    g = s.gap
    return duration((g.end_ns - g.start_ns) / 1e9) if g.start_ns is not None and g.end_ns is not None else "-"


def _image_paths(ctx: click.Context):
    """``path(sha256)`` of a signature image in the dock store, None when this machine lacks it."""
    has = attachment_checker(ctx)
    if has is None:
        return lambda sha: None
    store = dock_store(ctx)
    return lambda sha: store.blob_path(sha) if has(sha) else None


def _approve_hint(x: ExplanationStatus) -> str:
    return f"bodycam approve {x.entry_hash[:12]} --supervisor ID --key FILE"


def _details(s: GapStatus, images, requester_ids: dict[str, str]) -> list[str]:
    """What a supervisor needs under a gap: its context, then each justification or fault with its
    id, reason, officer, note, requester and review, and the command that approves it."""
    g = s.gap
    where = [gap_type_name(g.gap_type).shown()]
    if g.after_seq is not None:
        where.append(_("after seq {seq}").format(seq=g.after_seq))
    if g.before_seq is not None:
        where.append(_("before seq {seq}").format(seq=g.before_seq))
    context = [" ".join(where)]
    if g.case_id:
        context.append(_("case {case}").format(case=g.case_id))
    if g.officer_id:
        context.append(_("recorder carried by {officer}").format(officer=g.officer_id))
    out = [printable(_("; ").join(context))]
    for x in s.explanations:
        rec = x.record
        if isinstance(rec, StopJustification):
            reason_text = ART11_REASONS.get(rec.reason)
            title = _("justification {id}: reason {reason} ({text})").format(
                id=x.entry_hash[:12], reason=rec.reason, text=_(reason_text) if reason_text else "?")
        else:
            title = _("fault {id}: cause {cause}").format(id=x.entry_hash[:12], cause=rec.cause)
        if x.superseded_by:
            title += " — " + _("replaced by {id}").format(id=x.superseded_by[:12])
        out.append(printable(title))
        officer = rec.officer_id + (f" {x.officer_name}" if x.officer_name else "")
        out.append("  " + printable(_("officer: {officer}").format(officer=officer)))
        out.append("  " + printable(_("note: {note}").format(note=rec.note)))
        if isinstance(rec, StopJustification):
            if rec.basis:
                out.append("  " + printable(_("basis: {basis}").format(basis=rec.basis)))
            if rec.supersedes:
                out.append("  " + printable(_("replaces: {id}").format(id=rec.supersedes[:12])))
            if rec.requester is not None:
                out.append("  " + printable(_("requester: {requester}").format(
                    requester=_requester(rec.requester, images, requester_ids))))
        if x.superseded_by:
            continue
        if x.review == "pending":
            out.append("  " + printable(_("awaiting review: {command}").format(command=_approve_hint(x))))
        else:
            by = (x.supervisor_id or "") + (f" {x.supervisor_name}" if x.supervisor_name else "")
            msg = (_("approved by {by} at {time} (approval {id})") if x.review == "approved"
                   else _("rejected by {by} at {time} (approval {id})") if x.review == "rejected"
                   else x.review + " " + _("by {by} at {time} (approval {id})"))
            review = msg.format(by=by, time=local_time(x.reviewed_ns), id=(x.approval or "")[:12])
            if x.review_note:
                review += _(": {note}").format(note=x.review_note)
            out.append("  " + printable(review))
    for p in s.problems:
        out.append(f"! {printable(p)}")
    return out


def _requester(req: Requester, images, requester_ids: dict[str, str]) -> str:
    parts = [req.name]
    if req.keyid:
        who = requester_ids.get(req.keyid)
        parts.append(_("signed with key {keyid}… enrolled as {who}").format(keyid=req.keyid[:16], who=who) if who
                     else _("signed with key {keyid}…").format(keyid=req.keyid[:16]))
    if req.signature_image_sha256:
        path = images(req.signature_image_sha256)
        parts.append(_("signature image {path}").format(path=path) if path is not None
                     else _("signature image {sha256}… (not in this dock's store)").format(
                         sha256=req.signature_image_sha256[:16]))
    if len(parts) == 1:
        parts.append(_("no signature"))
    return _(", ").join(parts)


def _json(s: GapStatus, images) -> dict:
    out = s.to_json()
    for x, j in zip(s.explanations, out["explanations"], strict=True):
        rec = x.record
        if isinstance(rec, StopJustification):
            j["reason_text"] = ART11_REASONS.get(rec.reason)
            sha = rec.requester.signature_image_sha256 if rec.requester else None
            path = images(sha) if sha else None
            j["signature_image_path"] = str(path) if path is not None else None
        j["approve_command"] = _approve_hint(x) if x.awaiting_review else None
    return out


@gaps.command("fault")
@click.argument("gap_id")
@click.option("--cause", type=click.Choice(FAULT_CAUSES), required=True,
              help="battery (died), storage (card full), device_fault, other (A2 Art.8).")
@click.option("--officer", "officer_id", required=True, help="Enrolled officer id.")
@signer_options("officer", what=N_("the officer"))
@click.option("--note", required=True, help="What failed and when.")
@dock_ledger_option
@json_option
@click.pass_context
def gaps_fault(ctx: click.Context, gap_id: str, cause: str, officer_id: str, officer_key: KeyRef,
               note: str, ledger_path: Path | None, as_json: bool) -> None:
    """Record a technical fault as the cause of a gap instead of a justification (A2 Art.8)."""
    officer = officer_key.load()
    ledger_path = ledger_path or ctx.meta.get("gaps.ledger")
    with open_dock_ledger(ctx, ledger_path) as ledger:
        entry = record_fault(ledger, gap_id, cause=cause, officer_id=officer_id, officer=officer, note=note)
        checkpoint_dock_ledger(ctx, ledger)
    if as_json:
        echo_json({"fault": entry.entry_hash, "idx": entry.idx, "gap": entry.body["gap"], "cause": cause})
    else:
        click.echo(_("fault {id} ({cause}) recorded for gap {gap}; awaiting approval: `bodycam approve {id} "
                     "--supervisor ID --key FILE`").format(id=entry.entry_hash[:12], cause=cause,
                                                            gap=entry.body["gap"][:12]))


COMMAND = gaps
