"""The dock's commands, one module per command group."""
