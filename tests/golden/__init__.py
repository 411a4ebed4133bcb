"""Golden conformance harness: replays upstream Heketi's recorded exchanges against heketipy.

`replay.py` is the engine (masking, comparison, the documented heketipy deviations, server
process handling and a CLI); the recordings live in `tests/data/golden/`.
"""
