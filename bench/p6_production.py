"""P6 on the production stack, started as ``bench/side_by_side.py`` starts it (a private
Postgres 15 cluster, a private Redis, one ``countersign api`` and one ``countersign worker``
with their defaults), then ``bench/burst_p6.py`` against it; everything is stopped at the end.

    .venv/bin/python bench/p6_production.py [--threads 10000] [--json p6.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import side_by_side as sbs

BURST = Path(__file__).resolve().parent / "burst_p6.py"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=10_000)
    parser.add_argument("--json", type=Path, help="also write burst_p6.py's JSON here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="p6-") as work:
        ctx = sbs.Ctx(args=argparse.Namespace(env=[], langgraph_venv=None), work=Path(work))
        ctx.config.write_text(
            json.dumps({"dependencies": ["."], "graphs": {"refund_agent": f"{sbs.GRAPH}:graph"}})
        )
        try:
            target = sbs.start_production(ctx)
            command = [
                sys.executable,
                str(BURST),
                "--url",
                target.url,
                "--token",
                target.token or "",
                "--threads",
                str(args.threads),
                "--metrics-url",
                f"{target.url}/metrics",
            ]
            if args.json:
                command += ["--json", str(args.json.resolve())]
            return subprocess.run(command, cwd=sbs.ROOT, check=False).returncode
        finally:
            ctx.teardown()


if __name__ == "__main__":
    sys.exit(main())
