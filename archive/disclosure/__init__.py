"""Enforcement disclosure (Attachment 1): decisions published on time, exemptions with reasons.

To live here: decision records with the fields A1 Art.9 requires per type (penalty, coercive
measure, inspection), validated; exemptions with a reason code (A1 Art.10: minors, state or
trade secrets, security, hindering enforcement, other), withheld but never silently dropped;
deadlines in Chinese working days, holidays and make-up workdays included (A1 Art.14: 20
working days, penalties 7); a public portal of static pages and a machine-readable feed
(A1 Art.11); withdrawal after a year online (A1 Art.15) and corrections or revocations as new
entries with their note (A1 Art.17); a compliance report of late, missing and selective
publication (A1 Art.18–19). Every step is a ``disclosure.*`` entry in the archive ledger.

Why under ``archive``: disclosure reads the archive ledger (cases and decisions) and writes its
own entries into it; it runs at the bureau, never on a dock.
"""
