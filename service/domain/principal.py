"""Who is calling: the verified identity the rest of the service trusts."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Principal:
    tenant_id: str
    subject: str
    token_roles: frozenset[str] = field(default_factory=frozenset)
    token_id: str | None = None
    request_id: str | None = None  # the request that carried the token (for the audit trail)
