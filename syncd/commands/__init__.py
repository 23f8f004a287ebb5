"""The sync daemon's command group."""
