"""Offload at the dock (A2 Art.8, 15): waiting for the mount, safe names, probing, continuity, ingest."""
