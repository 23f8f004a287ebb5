"""The clock gate (A2 Art.13): reference clocks, measuring a recorder clock, calibrating it."""
