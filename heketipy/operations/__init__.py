"""heketipy.operations package."""
