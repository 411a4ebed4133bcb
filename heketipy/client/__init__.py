"""heketipy.client: a Python client library for Heketi-compatible servers.

`HeketiClient` (blocking) and `AsyncHeketiClient` (asyncio) share one request/response layer
(`heketipy.client.flows`), one endpoint list (`heketipy.client.endpoints`) and one base
(`heketipy.client.base`: constructor, httpx client, the per-request JWT as an `httpx.Auth`):
every endpoint is written once as a generator of HTTP requests and pauses, and each client only
drives it with its own httpx client, blocking or awaited; the type checker sees both surfaces.
Results are pydantic models (`heketipy.client.models`); failures raise `HeketiError(status,
message)`.
"""

from heketipy.client.aio import AsyncHeketiClient
from heketipy.client.errors import HeketiConnectionError, HeketiError
from heketipy.client.flows import RetryPolicy
from heketipy.client.sync import HeketiClient

__all__ = [
    "AsyncHeketiClient",
    "HeketiClient",
    "HeketiConnectionError",
    "HeketiError",
    "RetryPolicy",
]
