"""Text heketipy ships but did not write: each subpackage says where its files come from and
how they are regenerated. Nothing here is edited by hand."""
