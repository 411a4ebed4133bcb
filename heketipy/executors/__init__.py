"""heketipy.executors package."""
