"""Where the project's data files are: ``alembic/``, ``alembic.ini``, ``policies/``, the UI build.

From a source checkout (editable install) they sit next to the ``service`` package; an
installed package (a container image) finds them in the working directory instead.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

MARKERS = ("alembic.ini", "policies/model.conf")


def _has_data(path: Path) -> bool:
    return all((path / marker).exists() for marker in MARKERS)


@lru_cache
def app_root() -> Path:
    source = Path(__file__).resolve().parents[1]
    for candidate in (source, Path.cwd()):
        if _has_data(candidate):
            return candidate
    raise RuntimeError(
        f"cannot find {', '.join(MARKERS)} next to the service package or in {Path.cwd()}"
    )


def ui_dist() -> Path:
    """The built web UI (``cd frontend && npm run build``); it may not exist."""
    return app_root() / "frontend" / "dist"
