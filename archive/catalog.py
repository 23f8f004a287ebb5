"""The archive's catalogue: find footage and documents by case, handling unit, officer, device
and time of use.

To live here: queries over the archive ledger's index columns (case id or activity, unit,
officer id, device id, start/end time) returning entries with their blobs' hashes, for the CLI
now and the web console later. Read-only: finding something is not viewing it; opening a blob
goes through :mod:`archive.access`, which records who looked.

Why: A2 Art.15 requires the archive to be classified by case name, handling unit and officers,
device number and time of use; footage not bound to a case or activity (A2 Art.4) and the text
records of a case (A2 Art.2) must be findable the same way.
"""
