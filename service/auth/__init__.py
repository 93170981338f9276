"""Authentication: bearer-token verification (the only home of python-jose)."""
