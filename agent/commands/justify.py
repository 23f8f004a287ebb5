"""``bodycam justify``: the officer's signed work record for a stop in recording (A2 Art.11)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from agent.commands.common import (
    checkpoint_dock_ledger,
    dock_ledger_option,
    dock_store,
    open_dock_ledger,
)
from agent.justify import justify_gap, requester_sign
from bodycam.cliutil import KeyRef, echo_json, json_option, signer_options
from bodycam.errors import BodycamError
from bodycam.i18n import N_, _
from ledger.canonical import loads_strict
from ledger.envelope import Envelope

# --- justify / approve -----------------------------------------------------------------------------

@click.command()
@click.argument("gap_id")
@click.option("--reason", type=click.IntRange(1, 5), required=True,
              help="A2 Art.11 reason: 1 an informant or witness explicitly asked; 2 on public transport where "
                   "recording cannot be used; 3 state secrets, trade secrets or personal privacy; 4 weather or "
                   "other natural causes; 5 other.")
@click.option("--officer", "officer_id", required=True, help="Enrolled officer id writing the work record.")
@signer_options("officer", what=N_("the officer"), required=False)
@click.option("--note", required=True, help="The work record: what happened, why recording stopped.")
@click.option("--basis", default=None, help="Legal or procedural basis, if any.")
@click.option("--requester-name", default=None, help="Who asked to stop (reasons 1 and 3).")
@click.option("--requester-signature", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="PNG/JPEG of the requester's handwritten signature or seal.")
@signer_options("requester", what=N_("the requester, when they sign at the dock with an enrolled key"),
                required=False)
@click.option("--requester-envelope", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Justification envelope the requester signed elsewhere (see --requester-sign-out).")
@click.option("--requester-sign-out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Requester's step: sign with --requester-key, write the envelope here, append nothing.")
@click.option("--supersede", "supersedes", metavar="JUSTIFICATION_ID", default=None,
              help="Replace the gap's standing justification or fault (its id, as `bodycam gaps` shows it); "
                   "a gap has one explanation, so a second one is refused without this.")
@dock_ledger_option
@json_option
@click.pass_context
def justify(ctx: click.Context, gap_id: str, reason: int, officer_id: str, officer_key: KeyRef | None,
            note: str, basis: str | None, requester_name: str | None,
            requester_signature: Path | None, requester_key: KeyRef | None,
            requester_envelope: Path | None, requester_sign_out: Path | None, supersedes: str | None,
            ledger_path: Path | None, as_json: bool) -> None:
    """Justify a gap: the officer's signed stop-recording record (A2 Art.11).

    Reasons 1 and 3 need the requester's signature: a signature/seal image or the requester's
    enrolled key (a second signature on the same record). A gap has one explanation: to correct
    one, justify again with --supersede ID (the supervisor then reviews the new one).
    """
    requester = requester_key.load() if requester_key else None
    with open_dock_ledger(ctx, ledger_path) as ledger:
        if requester_sign_out is not None:
            if requester is None:
                raise click.UsageError(_("--requester-sign-out needs --requester-key"))
            env = requester_sign(ledger, gap_id, requester, reason=reason, officer_id=officer_id, note=note,
                                 basis=basis, requester_name=requester_name, supersedes=supersedes)
            requester_sign_out.write_text(json.dumps(env.to_json(), indent=2) + "\n", encoding="utf-8")
            click.echo(_("requester signature written to {path}; the officer appends it with `bodycam justify {gap} "
                         "... --requester-envelope {path}`").format(path=requester_sign_out, gap=gap_id))
            return
        if officer_key is None:
            raise click.UsageError(_("--officer-key is required (the officer signs the justification)"))
        officer = officer_key.load()
        req_env = None
        if requester_envelope is not None:
            try:
                req_env = Envelope.from_json(loads_strict(requester_envelope.read_bytes()))
            except BodycamError as exc:
                raise BodycamError(_("{path}: not a signed envelope: {error}").format(path=requester_envelope,
                                                                                     error=exc)) from None
        store = dock_store(ctx) if requester_signature is not None else None
        result = justify_gap(ledger, store, gap_id, reason=reason, officer_id=officer_id, officer=officer,
                             note=note, basis=basis, requester_name=requester_name,
                             requester_image=requester_signature, requester=requester, requester_envelope=req_env,
                             supersedes=supersedes)
        checkpoint_dock_ledger(ctx, ledger)
    if as_json:
        echo_json(result.to_json())
    else:
        replaced = result.entry.body.get("supersedes")
        msg = (_("justification {id} (entry {idx}) for gap {gap}: reason {reason}, replacing {replaced}; awaiting "
                 "approval: `bodycam approve {id} --supervisor ID --key FILE`") if replaced
               else _("justification {id} (entry {idx}) for gap {gap}: reason {reason}; awaiting approval: "
                      "`bodycam approve {id} --supervisor ID --key FILE`"))
        click.echo(msg.format(id=result.entry.entry_hash[:12], idx=result.entry.idx, gap=gap_id, reason=reason,
                              replaced=(replaced or "")[:12]))


COMMAND = justify
