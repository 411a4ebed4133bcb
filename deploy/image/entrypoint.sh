#!/bin/sh
# The image's entry point: the heketipy server by default (arguments are the server's), or one
# of the other programs the image carries when named first:
#   IMAGE --config /etc/heketipy/heketi.json     the server
#   IMAGE heketipy-csi --endpoint unix:///csi/csi.sock --mode node ...
#   IMAGE heketipy-cli --server http://... volume list
case "${1:-}" in
    heketipy | heketipy-csi | heketipy-cli) exec "$@" ;;
    *) exec heketipy "$@" ;;
esac
