"""Every route the official Python SDK calls is one the service serves (issue 13): read from
the installed SDK's source, so a newer SDK with a new route fails here first."""

from __future__ import annotations

import re
from pathlib import Path

import langgraph_sdk

from service.main import create_app
from service.settings import Settings

_CALL = re.compile(
    r"self\.http\.(get|post|put|patch|delete)\(\s*f?\"(/[^\"]*)\""
    r"|self\.http\.(?:stream|request|request_reconnect)\(\s*f?\"(/[^\"]*)\",\s*\"([A-Z]+)\""
    r"|self\.http\.(?:stream|request)\(\s*\"([A-Z]+)\",\s*f?\"(/[^\"]*)\""
)
_PARAM = re.compile(r"\{[^}]*\}")


def _shape(path: str) -> str:
    return _PARAM.sub("{}", path.split("?")[0])


def sdk_calls() -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for source in (Path(langgraph_sdk.__file__).parent / "_async").glob("*.py"):
        for m in _CALL.finditer(source.read_text()):
            if m.group(1):
                found.add((m.group(1).upper(), _shape(m.group(2))))
            elif m.group(3):
                found.add((m.group(4), _shape(m.group(3))))
            else:
                found.add((m.group(5), _shape(m.group(6))))
    return found


def test_the_service_serves_every_route_the_sdk_calls() -> None:
    calls = sdk_calls()
    assert len(calls) >= 40, sorted(calls)  # the scan still reads the SDK
    app = create_app(Settings(env="test", jwt_secret="s" * 40))
    served = {
        (method.upper(), _shape(path))
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    }
    assert sorted(calls - served) == []
