"""Who may view, copy or release what, and the one place every access is recorded.

To live here: access policies as small composable objects, each answering a request with the
reasons it refuses (an empty list grants), combined without special cases: a bureau head's
approval for viewers from outside the bureau, a release approval for parties, outside units
or the public, a stricter level for classified cases. And one ``record_access()`` that every
viewer calls (the CLI now, the web console later, which only holds routes calling
``archive.*``): it checks the ``access_request`` and its ``access_grant`` in the ledger and
appends the ``access`` entry (who, why, when, what) before any byte is served.

Why: no release without approval (A2 Art.17); outside bodies view only with the bureau head's
approval and the custodian registers who viewed, why and when (A2 Art.18); unauthorised
copying or leaking is forbidden (A2 Art.9), secret material is handled under secrecy rules
(A2 Art.19). One function means no viewer can forget the log.
"""
