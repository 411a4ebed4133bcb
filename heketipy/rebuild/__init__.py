"""``heketipy db rebuild``: a database reconstructed from what the storage nodes hold, for when
the database and every backup are gone.

``facts`` holds what is read from the nodes, ``collect`` reads it through the ``Executor``
protocol, ``reconstruct`` turns it (with the topology file and the settings) into entities,
purely, and ``command`` writes them into a new database the server accepts without
``--init-db``.
"""
