"""Shared pytest set-up. Fixture modules live in tests/fixtures/ and are registered here."""

pytest_plugins = [
    "tests.fixtures.media",
    "tests.fixtures.broker",
]
