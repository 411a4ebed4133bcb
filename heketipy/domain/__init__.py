"""heketipy.domain package."""
