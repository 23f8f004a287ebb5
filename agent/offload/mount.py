"""Wait for a recorder's storage to appear under the mount root (bounded, watchdog-driven).

After ``enter_mass_storage`` a recorder re-enumerates as a USB disk and the automounter (or the
emulator) makes ``<mount_root>/<serial>/`` appear some time later. Polling would either be slow
or busy; watchdog (inotify on Linux) wakes the dock the moment the folder shows up, and the wait
is bounded so a recorder that never mounts is an actionable error, not a hung dock.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from bodycam.errors import BodycamError
from bodycam.i18n import N_, Message, SaidError

log = logging.getLogger(__name__)


class MountTimeoutError(SaidError, BodycamError):
    """The recorder's storage did not appear in time."""


class _Appeared(FileSystemEventHandler):
    def __init__(self, target: Path, event: threading.Event):
        self.target = os.fsencode(target)
        self.event = event

    def on_any_event(self, event: FileSystemEvent) -> None:
        for p in (event.src_path, getattr(event, "dest_path", "")):
            if p and os.fsencode(p) == self.target:
                self.event.set()


def wait_for_mount(mount: Path, timeout_s: float, stop: threading.Event | None = None) -> Path:
    """Return ``mount`` once it is a folder; raise ``MountTimeoutError`` after ``timeout_s``.

    The folder being there already returns at once. The mount root itself must exist (it is
    the dock's configuration, ``[agent] mount_root``).
    """
    mount = Path(mount)
    root = mount.parent
    if mount.is_dir():
        return mount
    if not root.is_dir():
        raise MountTimeoutError(Message(
            N_("mount root {root} does not exist: create it or fix [agent] mount_root (recorder storage is "
               "expected at {mount})"), root=str(root), mount=str(mount)))
    appeared = threading.Event()
    observer = Observer()
    observer.schedule(_Appeared(mount, appeared), str(root), recursive=False)
    observer.start()
    try:
        deadline = time.monotonic() + timeout_s
        # The folder may have appeared between the first check and the watch starting.
        while not mount.is_dir():
            left = deadline - time.monotonic()
            if left <= 0 or (stop is not None and stop.is_set()):
                raise MountTimeoutError(Message(
                    N_("recorder storage did not appear at {mount} within {timeout:g} s: check the recorder "
                       "switched to mass-storage mode and is seated in the dock, and that [agent] mount_root "
                       "matches where the dock mounts USB disks"), mount=str(mount), timeout=timeout_s))
            appeared.wait(min(left, 0.5))
            appeared.clear()
    finally:
        observer.stop()
        observer.join(timeout=5)
    log.info("recorder storage appeared at %s", mount)
    return mount
