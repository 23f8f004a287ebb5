"""The bureau's commands, one module per command group."""
