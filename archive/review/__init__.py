"""Legal review of major decisions (Attachment 3): no major decision without a passed review.

To live here: classifying a case as major (A3 Art.3, with a configurable catalogue); the
submission checklist, where missing items block intake and ask for a supplement (A3 Art.6–7);
the review checklist (A3 Art.8), whose evidence items are checked automatically against the
ledger (signatures verified, chains intact, gaps justified and approved, clocks calibrated,
officers qualified); a review clock in working days that pauses for supplements and experts and
extends once (A3 Art.10: 7 + 3); outcomes with their criteria (A3 Art.11); the resubmission loop
and the written review opinion stored in the ledger (A3 Art.12–13); recurring-issue statistics
(A3 Art.14); and the gate that refuses a major decision without a passed review (A3 Art.5).
Every step is a ``review.*`` entry in the archive ledger.

Why under ``archive``: the review reads the archive's evidence and writes its own entries into
the same ledger; it runs at the bureau, never on a dock.
"""
