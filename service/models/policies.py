from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, JSONType, utcnow


class CasbinRule(Base):
    """Casbin policy lines, in the columns casbin-async-sqlalchemy-adapter expects.

    ``p`` lines hold the tenant in ``v1``; ``g`` lines (user, role, tenant) in ``v2``.
    Each tenant's rules are loaded with a filter on those columns, hence the indexes.
    """

    __tablename__ = "casbin_rule"
    __table_args__ = (
        Index("ix_casbin_rule_p_domain", "ptype", "v1"),
        Index("ix_casbin_rule_g_domain", "ptype", "v2", "v0"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ptype: Mapped[str] = mapped_column(String(255))
    v0: Mapped[str | None] = mapped_column(String(255), nullable=True)
    v1: Mapped[str | None] = mapped_column(String(255), nullable=True)
    v2: Mapped[str | None] = mapped_column(String(255), nullable=True)
    v3: Mapped[str | None] = mapped_column(String(255), nullable=True)
    v4: Mapped[str | None] = mapped_column(String(255), nullable=True)
    v5: Mapped[str | None] = mapped_column(String(255), nullable=True)

    def __str__(self) -> str:
        """The policy line as Casbin's adapter parses it: ``ptype, v0, v1, ...``."""
        values = [self.v0, self.v1, self.v2, self.v3, self.v4, self.v5]
        fields = [self.ptype]
        for value in values:
            if value is None:
                break
            fields.append(value)
        return ", ".join(fields)


class PolicyChange(Base):
    """One committed change of a tenant's policy: version, who, what, and the rules after.

    Every API process polls this table to drop cached policies of changed tenants; the
    snapshot of the rules after each change is what rollback restores.
    """

    __tablename__ = "policy_changes"
    __table_args__ = (
        Index("uq_policy_changes_tenant_version", "tenant_id", "version", unique=True),
        Index("ix_policy_changes_created", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(63))
    version: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    rules: Mapped[list[list[str]]] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
