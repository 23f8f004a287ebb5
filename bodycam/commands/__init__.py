"""Commands that work on either side, by role, and the deployment commands (init, config)."""
