"""Queue bell, run event bus and control channel: ports with in-process and Redis adapters."""
