"""Rules that need nothing but the standard library and pydantic."""
