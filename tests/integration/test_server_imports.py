"""What a server process loads at start-up: the ``kubernetes`` client (the kube extra, about
half a second of imports) only when it reaches the Kubernetes API. Every server started by a
user, a pod or this suite pays for what ``heketipy.server`` imports."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.support.server import server_env

LOADED_PACKAGES = """
import json, sys
import heketipy.__main__, heketipy.server
print(json.dumps(sorted({name.split('.')[0] for name in sys.modules})))
"""


def test_a_server_loads_no_kubernetes_client_until_it_needs_the_api() -> None:
    result = subprocess.run([sys.executable, "-c", LOADED_PACKAGES], capture_output=True,
                            text=True, timeout=120, env=server_env())
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert "heketipy" in loaded and "aiohttp" in loaded
    assert "kubernetes" not in loaded
