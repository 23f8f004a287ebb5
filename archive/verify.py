"""``bodycam archive verify``: recompute everything the archive holds, trusting nothing it stored.

To live here: a whole-archive check that re-reads every blob and re-hashes it against the
SHA-256 its segment (or attachment) names, checks every envelope's signatures against keys
enrolled before it, walks every device's segment chain (``seq`` + 1, ``prev`` = the previous
segment or the enrollment) and every other per-kind rule through the one implementation in
``ledger.checks`` (the rule the dock, the receiver and ``ledger verify`` already use, so there is
never a third copy of it), rebuilds the RFC 9162 Merkle tree and checks it against every stored
checkpoint, the archive's own and those the docks sent, for consistency between successive ones.

Why: the archive's promise is that originals are never cut, edited, replaced or silently lost
(A2 Art.8, 9, 17) and that the record is complete, objective and accurate (A2 Art.3); a
falsification or a lost piece of evidence (A2 Art.22(3), (4)) must show up here, with the entry
and the blob it concerns, before a reviewer or a court relies on it. Findings are reasons, not
exceptions, so the CLI can list them all and exit 3.
"""
