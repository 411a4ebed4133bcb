"""heketipy.client package."""
