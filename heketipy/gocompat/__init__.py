"""Go compatibility: the one place that reproduces Go standard-library behaviour byte for byte.

Heketi and heketi-cli are Go programs, so clients see Go's JSON layout, Go's decoder errors and
Go's number parsing and formatting. Each behaviour has exactly one implementation here:

* ``json_encode``: ``encoding/json`` output (``json.Marshal`` / ``json.MarshalIndent``);
* ``json_decode``: ``encoding/json`` input: Go's syntax scanner and error texts, ``Unmarshal``
  and ``Decoder.Decode`` readings, the decoded value types;
* ``strconv``: ``ParseBool``/``ParseInt``/``ParseFloat`` with Go's error texts, float formatting
  (``FormatFloat``, float32 rounding);
* ``base64``: ``base64.RawURLEncoding`` decoding with Go's error offsets.

Standard library only: the client, the CLI and the CSI driver import it without the server.
"""
