"""Fault tests (RELIABILITY.md R1-R22) against a whole cluster started on this box."""
