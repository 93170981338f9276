"""Persistence adapter: the only package that builds SQL for the service tables."""
