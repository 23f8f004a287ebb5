"""Shared pytest set-up. Fixture modules live in tests/fixtures/ and are registered here."""

pytest_plugins = [
    "tests.fixtures.recorder",
    "tests.fixtures.ntp",
    "tests.fixtures.media",
    "tests.fixtures.broker",
    "tests.fixtures.justify",
    "tests.fixtures.ledger",
    "tests.fixtures.sync",
    "tests.fixtures.offload",
    "tests.fixtures.browser",
]
