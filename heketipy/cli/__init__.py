"""heketipy.cli package."""
