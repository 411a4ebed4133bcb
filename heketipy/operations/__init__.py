"""Operations: the work behind every API command, one function per command, which the routes
call after parsing and whose answer they render.

Commands: ``volumes`` (create/delete/expand/clone volume, block restriction), ``blockvolumes``
(create/delete/expand), ``clusters`` (create/delete/flags), ``nodes`` (node add/delete/state/
tags, device add/delete/state/tags/resync), ``bricks`` (evict), ``pending`` (cleanup),
``reports`` (db dump/check, gluster examine), ``drift`` (report, repair). Work behind ``/queue``
starts in one way, ``Runtime.start`` (``runtime``); the journaled operation types recovery can
resume are listed in ``catalog``.
"""
