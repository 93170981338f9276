"""Which tenant the database work of this task acts for (row-level security, S13).

A request binds the tenant of its verified caller (``bind``); every transaction it opens
then sets ``app.tenant_id`` on its connection, and Postgres's row-level security policies
(migration 0010) show and accept only that tenant's rows, whatever a query forgets. Work
not done for one caller (the worker, the reaper, the sampler, the CLI) binds nothing: the
setting is empty, which the policies read as the service's own work across tenants.
A use case that acts for another tenant on a platform administrator's behalf says so
(``acting_for``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

SETTING = "app.tenant_id"
SYSTEM = ""  # the setting's value for work across tenants

_tenant: ContextVar[str] = ContextVar("countersign_db_tenant", default=SYSTEM)


def current() -> str:
    """The tenant this task's database work acts for (``SYSTEM``: none in particular)."""
    return _tenant.get()


def bind(tenant_id: str) -> None:
    """This task (a request) acts for ``tenant_id`` from now on."""
    _tenant.set(tenant_id)


@contextmanager
def acting_for(tenant_id: str) -> Iterator[None]:
    """Database work inside the block acts for ``tenant_id``."""
    token = _tenant.set(tenant_id)
    try:
        yield
    finally:
        _tenant.reset(token)
