"""The project's exception family.

Every error a user can meet is one of these; the CLI maps them to exit codes at the edge
(1 error, 3 refused by a rule / verification failed) and prints the message, which must say
what went wrong *and* what to do about it.
"""

from __future__ import annotations


class BodycamError(Exception):
    """Base of all project errors. ``exit_code`` is what the CLI exits with."""

    exit_code = 1


class ConfigError(BodycamError):
    """A configuration or profile file is missing, unreadable or invalid."""


class KeyFileError(BodycamError):
    """A key file is missing, unreadable, of the wrong kind, or readable by others."""


class FormatError(BodycamError):
    """Data does not have the shape a format requires (canonical JSON, envelope, record body)."""


class VerificationError(BodycamError):
    """A signature, hash, proof or chain does not verify: the data must not be trusted."""

    exit_code = 3


class RefusedError(BodycamError):
    """A rule refuses the action (not ready, not calibrated, unapproved...). Not a malfunction."""

    exit_code = 3

    def __init__(self, message: str, reasons: list[str] | None = None):
        super().__init__(message)
        self.reasons = list(reasons or [])
