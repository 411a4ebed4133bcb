"""Heketi's database dump format: export (``GET /db/dump``, ``heketi db export``) and import
(``heketi db import``).

* ``export``: the dump document built from a ``State`` and the examiner report that embeds it;
* ``importer``: a dump read back into entities (checked with the API's rules) and written into
  a fresh database.

The store keeps only the database; the consistency check is ``heketipy.domain.consistency``.
"""
