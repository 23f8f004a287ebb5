"""Enforcement disclosure (Attachment 1): decisions published on time, exemptions with reasons.

What lives here: ``decisions`` (``add_decision``, the one way a decision enters the ledger, with
the fields A1 Art.9 requires per type and the A1 Art.14 deadline in Chinese working days from
``archive.workdays``; withholding for an A1 Art.10 reason; text checks; publication acts),
``state`` (where each decision stands, counting only entries signed by the right roles),
``masking`` (what the public may see: personal data removed by field and by pattern, free text
only as a person approved it), ``site`` (the portal's configuration and the A1 Art.5 pages),
``portal`` (a publication run: withdrawals after the public period, A1 Art.15, publications, then
the static portal and its JSON and CSV feeds, A1 Art.11, 17) and ``report`` (late, overdue,
withheld, withdrawn, corrected; annual statistics, A1 Art.18–19). Every step is a
``disclosure_*`` entry in the archive ledger.

Why under ``archive``: disclosure reads the archive ledger (cases and decisions) and writes its
own entries into it; it runs at the bureau, never on a dock.
"""
