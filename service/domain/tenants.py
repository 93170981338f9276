"""Per-tenant settings that change how reviews work."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ExpiryRule(BaseModel):
    """Pending interrupts of one type expire after ``after_seconds`` and are then resolved
    by the service with ``default_decision`` (e.g. an Agent Inbox ``ignore``)."""

    model_config = ConfigDict(extra="forbid")

    after_seconds: int = Field(ge=1, le=90 * 24 * 3600)
    default_decision: Any = None


class TenantSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    four_eyes: bool = Field(
        default=False, description="A reviewer may not decide an interrupt on a thread they own"
    )
    interrupt_expiry: dict[str, ExpiryRule] = Field(
        default_factory=dict, description="Expiry per interrupt type"
    )
