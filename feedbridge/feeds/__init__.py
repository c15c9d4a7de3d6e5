"""Serving what was polled: the feed board, the items every format writes, and the Atom, RSS
and JSON Feed output (fragments for the server, feedgen for reference)."""
