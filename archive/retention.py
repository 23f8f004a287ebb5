"""How long the archive keeps footage, and the job that purges what may go.

To live here: a pure keep-or-purge decision over one item (its age, its case's retention class
and its ``long_term`` reasons, legal holds, whether it is evidence in an export), tested from a
table of cases without any I/O; and a purge job that, for each item the decision releases,
first appends a ``retention`` entry to the archive ledger and then removes the blob, so a crash
in between leaves a purge to finish, never a blob gone without a record. The hash stays in the
ledger for ever; only the bytes go.

Why: ordinary footage is kept at least 12 months (A2 Art.16); footage of the five kinds of
A2 Art.10 (sudden or mass incidents, safety, obstruction of officers, a party that may
challenge, other sensitive cases) is kept long-term and never expires by itself; deleting an
original any other way is forbidden (A2 Art.9).
"""
