"""heketipy.models package."""
