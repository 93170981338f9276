"""SQLAlchemy ORM tables of the service (checkpoint tables belong to the saver)."""

from service.models.assistants import Assistant
from service.models.base import Base
from service.models.interrupts import Interrupt
from service.models.runs import Run
from service.models.tenants import Tenant
from service.models.threads import Thread

__all__ = ["Assistant", "Base", "Interrupt", "Run", "Tenant", "Thread"]
