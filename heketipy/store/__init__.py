"""heketipy.store: the database only (the SQLite store and its journal, read-only access for the
admin commands, the data-directory marker, the file probe and the Kubernetes Secret backup).

Heketi's dump format (export and import) is ``heketipy.heketidump``; the consistency check is
``heketipy.domain.consistency``.
"""
