"""Serving what was polled: the feed board and the Atom, RSS and JSON Feed renderers."""
