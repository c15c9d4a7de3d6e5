"""Delivering notices: the outbox rounds, what an attempt leaves (pure), digests, each
target's channel (Apprise) and email."""
