"""Use cases: plain async functions over ports. No HTTP, no SQL, no settings."""
