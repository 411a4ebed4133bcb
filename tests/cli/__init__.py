"""heketipy-cli tests: golden replay of recorded heketi-cli runs, client library, CLI behaviour."""
