"""``bodycam person``: people and their keys, on either side (dock or archive ledger, by role)."""

from __future__ import annotations

from pathlib import Path

import click

from bodycam.cliutil import KeyRef, TimeParam, app_config, echo_json, json_option, signer_options
from bodycam.commands.common import admin_key_path, deployment_role, ledger_option, open_ledger
from bodycam.errors import RefusedError
from bodycam.i18n import N_, Message, _
from bodycam.tables import table
from ledger.keys import load_public_key
from ledger.people import PERSON_ROLES, enroll_person, people

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
@click.option("--certificate", "certificate_no", default=None,
              help="Enforcement certificate number of an officer (A2 Art.14).")
@click.option("--valid-from", type=TimeParam(), default=None, help="First day the certificate is valid.")
@click.option("--valid-until", type=TimeParam(end_of_day=True), default=None,
              help="Last day the certificate is valid.")
@click.option("--legal-qualification", "legal_qualification_no", default=None,
              help="Legal professional qualification certificate number of a reviewer (A3 Art.8).")
@signer_options("admin", what=N_("the administrator who enrolls (default: the dock key at a dock, the admin key "
                                 "at the archive)"), required=False)
@ledger_option
@json_option
@click.pass_context
def person_enroll(ctx: click.Context, person_id: str, name: str, role: str, pubkey: Path, unit: str | None,
                  certificate_no: str | None, valid_from: int | None, valid_until: int | None,
                  legal_qualification_no: str | None, admin_key: KeyRef | None, ledger_path: Path | None,
                  as_json: bool) -> None:
    """Enroll a person's public key with a role, signed by an administrator key."""
    if admin_key is None:
        admin_key = KeyRef(admin_key_path(ctx), None)
    admin = admin_key.load()
    pub = load_public_key(pubkey)
    _refuse_foreign_key(ctx, pub, ledger_path)
    with open_ledger(ctx, ledger_path) as ledger:
        entry = enroll_person(ledger, admin, person_id, role, pub, name=name, unit=unit,
                              certificate_no=certificate_no, valid_from_ns=valid_from, valid_until_ns=valid_until,
                              legal_qualification_no=legal_qualification_no)
    out = {"id": person_id, "name": name, "role": role, "keyid": pub.keyid, "entry": entry.entry_hash,
           "idx": entry.idx}
    if as_json:
        echo_json(out)
    else:
        click.echo(_("enrolled {role} {person_id} ({name}) key {keyid}… as entry {idx}").format(
            role=_(role), person_id=person_id, name=name, keyid=pub.keyid[:16], idx=entry.idx))


def _refuse_foreign_key(ctx: click.Context, pub, ledger_path: Path | None) -> None:
    """A dock cannot see the archive's ledger, but it holds the archive's log key (to check
    receipts): a person enrolled with that key would be refused at the archive after sync, so
    refuse it here, where the mistake is made (one key, one identity, ``ledger.trust``)."""
    if ledger_path is not None or deployment_role(ctx) != "dock":
        return
    cfg = app_config(ctx)
    if cfg.syncd.archive_pubkey is None:
        return
    archive_pub = cfg.agent.path(cfg.syncd.archive_pubkey)
    if archive_pub.is_file() and load_public_key(archive_pub).keyid == pub.keyid:
        raise RefusedError(Message(N_("key {keyid}… is the archive's log key ({file}); a key is one identity: the "
                                      "person needs a key of their own (`bodycam keys generate`)"),
                                   keyid=pub.keyid[:16], file=archive_pub))


@person.command("list")
@ledger_option
@json_option
@click.pass_context
def person_list(ctx: click.Context, ledger_path: Path | None, as_json: bool) -> None:
    """People enrolled in the ledger, with their roles and key ids."""
    with open_ledger(ctx, ledger_path) as ledger:
        found = people(ledger)
    if as_json:
        echo_json([p.to_json() for p in found])
        return
    if not found:
        click.echo(_("no people enrolled; use `bodycam person enroll`"))
        return
    header = [_("ID"), _("ROLE"), _("KEY ID"), _("NAME"), _("UNIT")]
    for line in table(header, [(p.person_id, _(p.role), p.keyid[:16] + "…", p.name, p.unit) for p in found]):
        click.echo(line)


COMMAND = person
