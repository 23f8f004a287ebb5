"""An emulated recorder on a real pseudo-terminal, driven by the same firmware profiles as the link."""
