from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, StrictBool, StrictInt

from service.api.schemas.common import Body, iso
from service.models import AuditEvent, PolicyChange


class Versioned(Body):
    expected_version: StrictInt | None = Field(
        default=None, ge=0, description="Refuse the edit (409) unless the policy is at this version"
    )


class RoleAssignment(Versioned):
    role: str = Field(min_length=1, max_length=64)


class PermissionBody(Versioned):
    object: str = Field(min_length=1, max_length=64)
    action: str = Field(min_length=1, max_length=32)
    scope: str = Field(default="any", max_length=8)


class ParentBody(Versioned):
    parent: str = Field(min_length=1, max_length=64)


class ImportBody(Versioned):
    rules: list[list[str]] = Field(max_length=10_000)


class RollbackBody(Versioned):
    version: StrictInt = Field(ge=1)


class DryRunBody(Body):
    user: str | None = Field(default=None, max_length=128)
    role: str | None = Field(default=None, max_length=64)
    object: str = Field(min_length=1, max_length=64)
    action: str = Field(min_length=1, max_length=32)
    own: StrictBool = False
    rules: list[list[str]] | None = Field(default=None, max_length=10_000)


class TenantCreate(Body):
    tenant_id: str = Field(min_length=1, max_length=63)
    name: str | None = Field(default=None, max_length=200)
    admins: list[str] = Field(default_factory=list, max_length=100)


class PolicyOut(BaseModel):
    tenant_id: str
    version: int
    roles: dict[str, Any]
    members: dict[str, list[str]]


class DryRunOut(BaseModel):
    allowed: bool
    rule: list[str] | None
    roles: list[str]
    casbin_allowed: bool
    casbin_rule: list[str]


def change_json(row: PolicyChange) -> dict[str, Any]:
    return {
        "version": row.version,
        "actor": row.actor,
        "action": row.action,
        "detail": row.detail,
        "rules": row.rules,
        "created_at": iso(row.created_at),
    }


def audit_json(row: AuditEvent) -> dict[str, Any]:
    return {
        "id": row.id,
        "seq": row.seq,
        "actor": row.actor,
        "action": row.action,
        "target_type": row.target_type,
        "target_id": row.target_id,
        "detail": row.detail,
        "payload_hash": row.payload_hash,
        "request_id": row.request_id,
        "created_at": iso(row.created_at),
        "prev_hash": row.prev_hash,
        "hash": row.hash,
    }
