"""``bodycam agent run``: the unattended dock. It notices recorders appearing on serial ports
(USB VID/PID discovery plus configured ports) and runs the dock flow for each, attributing the
footage to the recorder's custodian (A2 Art.12, 14).

One thread, one stop event: SIGTERM sets it, the offload stops between files, and the dock
session record says where it stopped; nothing half-written enters the ledger.

Like ``bodycam dock``, it never enrolls a recorder: one this dock has not enrolled is refused and
logged (``[agent] enroll_on_dock`` is the equipment manager's policy to allow it).

The dock signs a checkpoint of its ledger after every docking, at start-up and every
``[agent] checkpoint_interval_s`` when the ledger grew (:mod:`agent.checkpoints`).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from agent.checkpoints import try_sign_dock_checkpoint
from agent.clock.reference import ReferenceClock
from agent.config import AgentConfig
from agent.dock import DockContext, dock_recorder
from agent.link.driver import RecorderLink, discover
from agent.link.profiles import Profile, load_profiles
from agent.offload.files import OffloadIncomplete
from bodycam.errors import BodycamError, ConfigError, RefusedError
from bodycam.i18n import _, english

log = logging.getLogger(__name__)


def parse_port_specs(specs: list[str], profiles: dict[str, Profile]) -> list[tuple[str, Profile]]:
    out = []
    for spec in specs:
        port, sep, prof = spec.partition("=")
        if not sep or not port or not prof:
            raise ConfigError(_("[agent] ports: {spec!r} is not PORT=PROFILE (e.g. /dev/ttyACM0=zfy-e12-gat947)")
                              .format(spec=spec))
        if prof not in profiles:
            raise ConfigError(_("[agent] ports: unknown profile {profile!r}; known: {known}").format(
                profile=prof, known=", ".join(sorted(profiles))))
        out.append((port, profiles[prof]))
    return out


@dataclass
class AgentDaemon:
    cfg: AgentConfig
    reference: ReferenceClock | None
    passphrase_env: str | None = None
    stop_event: threading.Event = field(default_factory=threading.Event)
    discover_ports: Callable[[dict[str, Profile]], list[tuple[str, Profile]]] | None = None
    handled: set[str] = field(default_factory=set)
    docked: int = 0

    def candidates(self, profiles: dict[str, Profile]) -> list[tuple[str, Profile]]:
        found = parse_port_specs(self.cfg.ports, profiles)
        found += (self.discover_ports or (lambda p: discover(p.values())))(profiles)
        return [(port, prof) for port, prof in found if os.path.exists(port)]

    def run(self) -> None:
        profiles = load_profiles(self.cfg.path(self.cfg.profiles_dir) if self.cfg.profiles_dir else None)
        log.info("agent for %s watching %d configured ports and USB recorders (every %.1f s)",
                 self.cfg.dock_id, len(self.cfg.ports), self.cfg.poll_interval_s)
        with DockContext.open(self.cfg, self.passphrase_env) as ctx:
            signed_at = -float("inf")
            while not self.stop_event.is_set():
                if time.monotonic() - signed_at >= self.cfg.checkpoint_interval_s:
                    try_sign_dock_checkpoint(ctx.ledger, ctx.signer, self.cfg.dock_id)
                    signed_at = time.monotonic()
                present = self.candidates(profiles)
                # A port that went away (recorder unplugged, or switched to mass storage) may come back.
                self.handled &= {port for port, _ in present}
                for port, profile in present:
                    if self.stop_event.is_set():
                        break
                    if port in self.handled:
                        continue
                    self.handled.add(port)
                    self.dock_one(ctx, port, profile)
                if self.stop_event.wait(self.cfg.poll_interval_s):
                    break
        log.info("agent stopped cleanly")

    def dock_one(self, ctx: DockContext, port: str, profile: Profile) -> None:
        log.info("recorder on %s (%s): docking", port, profile.id)
        size = ctx.ledger.size
        try:
            with RecorderLink(port, profile) as link:
                res = dock_recorder(ctx, link, officer_id=self._custodian(ctx, link), case_id=None,
                                    activity=self.cfg.unattended_activity, reference=self.reference,
                                    stop=self.stop_event, progress=None)
            self.docked += 1
            s = res.summary
            log.info("recorder %s docked: %d new segments, %d bytes, %d gaps, session %s", res.device_id,
                     s.segments, s.bytes, s.gaps, s.session_id)
            for p in s.problems:
                log.warning("recorder %s: %s", res.device_id, english(p))
        except OffloadIncomplete as exc:
            log.warning("recorder on %s: offload incomplete: %s", port, english(exc))
        except RefusedError as exc:
            # An unknown recorder (or one handed over elsewhere) is refused, never enrolled by
            # docking unless [agent] enroll_on_dock says so; it stays refused until it is re-plugged.
            log.error("recorder on %s refused: %s%s", port, exc, "".join(f"; {r}" for r in exc.reasons))
        except BodycamError as exc:
            log.error("recorder on %s: %s", port, english(exc))
        finally:
            if ctx.ledger.size != size:
                try_sign_dock_checkpoint(ctx.ledger, ctx.signer, self.cfg.dock_id)

    @staticmethod
    def _custodian(ctx: DockContext, link: RecorderLink) -> str | None:
        """The enrolled custodian answers for footage docked unattended (A2 Art.12, 14)."""
        ident = link.identify()
        entry = ctx.find_enrollment(ident.serial)
        return entry.body.get("custodian") if entry else None

