"""Evidence export: the package that replaces the burned disc of A2 Art.16.

To live here: building a folder (and an ISO image) with the bit-exact originals;
SHA256SUMS, SM3SUMS and MD5SUMS; a manifest carrying the A2 Art.16 fields (officers, camera
operator, start and end time, place, device brand and model, recording format) and the court's
(行政诉讼证据规定 Art.12), signed by the supervisor and the officers; every ledger entry the
items depend on with inclusion proofs against one checkpoint; the public keys; a custody trail
(PDF and JSON lines); and a stdlib-only ``verify.py``, so that the package checks offline with
``sha256sum`` and ``openssl`` alone. Each export is itself an ``export`` entry in the ledger.

Why: footage used as evidence is burned to disc with those fields and the sign-offs and filed
with the case (A2 Art.16); no release without approval (A2 Art.17), so an export needs its
``access_grant``; every copy is logged (A2 Art.9).
"""
