"""Running the real SDK clients of the end-to-end tests, each a script in its own process."""

import json
import subprocess
import sys
from typing import Any

from bench.server import ROOT


def run_client(script: str, *args: str, timeout: float = 60) -> dict[str, Any]:
    """Runs `tests/e2e/<script>` with `args`; its last line of output is the JSON of what it
    sent (earlier lines, if any, are for the script's own reasons)."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "tests/e2e" / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    sent: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return sent
