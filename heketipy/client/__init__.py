"""heketipy.client: a Python client library for Heketi-compatible servers.

`HeketiClient` (blocking) and `AsyncHeketiClient` (asyncio) share one request/response layer
(`heketipy.client.flows`): every endpoint is written once as a generator of HTTP requests and
pauses, and each client only drives it with its own httpx transport. Results are pydantic models
(`heketipy.client.models`); failures raise `HeketiError(status, message)`.
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
