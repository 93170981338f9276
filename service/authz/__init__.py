"""Authorization: may this principal do this to this object (Casbin only here)."""
