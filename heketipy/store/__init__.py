"""heketipy.store package."""
