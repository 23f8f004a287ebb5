"""A verifier's commands: key files and ledger files, no deployment needed."""
