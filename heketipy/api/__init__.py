"""heketipy.api package."""
