"""The recorder-link error family.

One hierarchy so callers (device status, arm, dock) can tell a dead cable from a recorder that
said no. Every message names the port, the profile and the command, and says what to do:
an equipment manager reads these on a dock screen, not a developer in a debugger.
"""

from __future__ import annotations

from bodycam.errors import BodycamError
from bodycam.i18n import N_, Message, SaidError, joined


class LinkError(SaidError, BodycamError):
    """Base of every recorder-link failure. ``detail`` says what happened (a Message where it is one
    of ours; what the recorder sent stays as it is), ``hint`` what to do."""

    hint = N_("check the cable and the profile, then retry")

    def __init__(self, detail: str, *, port: str | None = None, profile: str | None = None,
                 command: str | None = None):
        self.detail = detail
        self.port = port
        self.profile = profile
        self.command = command
        super().__init__(self._compose())

    def _compose(self) -> Message:
        where = []
        if self.port:
            where.append(Message(N_("port {port}"), port=self.port))
        if self.profile:
            where.append(Message(N_("profile {profile}"), profile=self.profile))
        if self.command:
            where.append(Message(N_("command {command}"), command=self.command))
        hint = Message(self.hint)
        if not where:
            return Message(N_("{detail} ({hint})"), detail=self.detail, hint=hint)
        return Message(N_("{where}: {detail} ({hint})"), where=joined(where), detail=self.detail, hint=hint)

    def with_context(self, *, port: str | None, profile: str | None, command: str | None) -> LinkError:
        """A copy of this error carrying where it happened (parsers and framers do not know)."""
        return type(self)(self.detail, port=port or self.port, profile=profile or self.profile,
                          command=command or self.command)


class LinkTimeout(LinkError):
    hint = N_("the recorder did not answer in time: check it is powered on, docked and on the right port")


class LinkDisconnected(LinkError):
    hint = N_("the link dropped: re-seat the recorder in the dock and retry")


class FramingError(LinkError):
    hint = N_("the reply was malformed: check the profile matches this recorder's firmware, then retry")


class TimeUnreadable(FramingError):
    """The recorder answered its time, but not with a time the dock can read: not a date, or one
    beyond the years 1–9999 (a clock gone wildly wrong). Its clock is unknown."""

    hint = N_("its clock is unknown: set it (bodycam device calibrate) before it is armed")


class ChecksumError(FramingError):
    hint = N_("the reply was corrupted in transit: retry; if it persists, replace the cable")


class DeviceRefused(LinkError):
    hint = N_("the recorder rejected the command: check its state (recording, locked) and retry")


class DeviceBusy(LinkError):
    hint = N_("the recorder is busy: wait a few seconds and retry")


class UnsupportedCommand(LinkError):
    hint = N_("this recorder model cannot do that; use the dock's other checks or do it on the device")


class AuthError(LinkError):
    hint = N_("set the recorder password in the environment variable or file the profile names")

