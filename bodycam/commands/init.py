"""``bodycam init``: a deployment folder for a dock or the archive, with its keys and rooted ledger."""

from __future__ import annotations

import shlex
from pathlib import Path

import click

from bodycam.cliutil import echo_json, json_option
from bodycam.files import write_file
from bodycam.i18n import N_, Message, _, tr
from bodycam.permissions import PRIVATE_DIR_MODE, private_dir


def _dock_toml(name: str) -> str:
    return f"""# bodycam.toml for dock {name!r}; every key is documented in config/bodycam.example.toml.
[agent]
dock_id = "{name}"
data_dir = "."

[syncd.broker]
host = "127.0.0.1"
port = 8883
"""


def next_steps(role: str, config: Path, name: str) -> list[tuple[Message, str]]:
    """What to do after ``init``, in order: (why, the command to run), for the role's person. The
    why is English (``--json``) and shown in the reader's language (``tr``)."""
    bc = f"bodycam --config {shlex.quote(str(config))}"
    if role == "dock":
        pub = shlex.quote(f"{name}.pub")
        return [
            (Message(N_("enroll each recorder on this dock, with its custodian (`bodycam device ports` lists the "
                        "connected ones and their profiles)")),
             f"{bc} device enroll --port PORT --profile PROFILE --custodian OFFICER_ID"),
            (Message(N_("enroll the officers and supervisors who justify and approve gaps")),
             f"{bc} person enroll --id ID --name NAME --role officer --pubkey KEY.pub"),
            (Message(N_("register this dock at the archive: give {name}.pub to the archivist, who runs "
                        "`bodycam archive dock add {name} --pubkey {name}.pub`; then set [syncd.broker] in {file}"),
                     name=name, file=config.name),
             f"{bc} sync dock-key --out {pub}"),
        ]
    return [
        (Message(N_("create the broker's CA and server certificate (HOST: the name docks reach it by); then set "
                    "[archive] broker_dir = \"broker\" in {file} so that adding a dock issues its broker "
                    "credentials"), file=config.name),
         f"{bc} pki init --dir {shlex.quote(str(config.parent / 'broker' / 'pki'))} --broker-host HOST"),
        (Message(N_("register each dock with the public key it exported (`bodycam sync dock-key --out DOCK.pub` on "
                    "the dock)")),
         f"{bc} archive dock add DOCK_NAME --pubkey DOCK.pub"),
        (Message(N_("receive what the docks send")), f"{bc} archive serve"),
    ]


def _archive_toml() -> str:
    return """# bodycam.toml for the bureau archive; every key is documented in config/bodycam.example.toml.
[archive]
data_dir = "."
"""


@click.command("init")
@click.option("--role", type=click.Choice(["dock", "archive"]), required=True, help="What this folder serves as.")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Deployment folder to create (config, keys, ledger).")
@click.option("--name", default="dock-1", show_default=True, help="Dock name (dock role): topic prefix, identity.")
@click.option("--passphrase-env", default=None, help="Encrypt the generated keys with the passphrase in this "
                                                     "environment variable.")
@json_option
def init(role: str, directory: Path, name: str, passphrase_env: str | None, as_json: bool) -> None:
    """Write a working bodycam.toml and generate the keys this role needs (mode 0600).

    A dock gets its own key, rooting its ledger; the archive gets an administrator key rooting
    its ledger and a log key, enrolled by the administrator, that signs checkpoints and receipts.
    The folder is made 0700 (also when it exists): footage and ledgers are the service user's only.
    Ends with the next steps for the role, each with the command to run.
    """
    import re

    from agent.config import DOCK_ID_PATTERN, AgentConfig
    from archive.config import ArchiveConfig
    from ledger.enroll import create_rooted, enroll, public_of
    from ledger.keys import generate_key_file
    from ledger.store import Ledger

    if role == "dock" and not re.match(DOCK_ID_PATTERN, name):
        raise click.BadParameter(_("use lowercase letters, digits and '-' (at most 63), e.g. dock-north"),
                                 param_hint="--name")
    if (directory / "bodycam.toml").exists():
        raise click.ClickException(_("{file} exists already; refusing to overwrite it").format(
            file=directory / "bodycam.toml"))
    private_dir(directory / "keys")
    directory.chmod(PRIVATE_DIR_MODE)  # the data folder: `agent run`, `sync run`, `archive serve` check it
    made: dict[str, str] = {"role": role, "dir": str(directory), "config": str(directory / "bodycam.toml")}
    if role == "dock":
        write_file(directory / "bodycam.toml", _dock_toml(name), exclusive=True)
        cfg = AgentConfig(dock_id=name, data_dir=directory)
        signer = generate_key_file(cfg.path(cfg.key_file), passphrase_env)
        with Ledger.open(cfg.path(cfg.ledger)) as ledger:
            create_rooted(ledger, signer, name)
        made.update(dock_id=name, dock_keyid=signer.keyid, ledger=str(cfg.path(cfg.ledger)))
    else:
        write_file(directory / "bodycam.toml", _archive_toml(), exclusive=True)
        cfg = ArchiveConfig(data_dir=directory)
        admin = generate_key_file(cfg.path(cfg.admin_key), passphrase_env)
        log = generate_key_file(cfg.path(cfg.log_key), passphrase_env)
        with Ledger.open(cfg.path(cfg.ledger)) as ledger:
            create_rooted(ledger, admin, "archive-admin")
            enroll(ledger, admin, "archive_log", "archive-log", public_of(log))
            ledger.checkpoint(log, cfg.origin)  # fixes the log's one origin, from configuration, at birth
        made.update(admin_keyid=admin.keyid, log_keyid=log.keyid, ledger=str(cfg.path(cfg.ledger)))
    steps = next_steps(role, directory / "bodycam.toml", name)
    if as_json:
        echo_json({**made, "next_steps": [{"why": str(why), "command": cmd} for why, cmd in steps]})
    else:
        for key, value in made.items():
            shown = _(value) if key == "role" else value
            click.echo(_("{label}: {value}").format(label=_(_LABELS[key]), value=shown))
        click.echo("\n" + _("next steps:"))
        for i, (why, cmd) in enumerate(steps, 1):
            click.echo(_("  {n}. {why}:").format(n=i, why=tr(why)) + f"\n       {cmd}")


# What ``init`` prints it made (the keys of --json), in words.
_LABELS = {"role": N_("role"), "dir": N_("dir"), "config": N_("config"), "dock_id": N_("dock_id"),
           "dock_keyid": N_("dock_keyid"), "ledger": N_("ledger"), "admin_keyid": N_("admin_keyid"),
           "log_keyid": N_("log_keyid")}
_ROLES = (N_("dock"), N_("archive"))


COMMAND = init
