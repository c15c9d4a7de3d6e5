"""Delivering notices: the outbox loop, each target's channel (Apprise) and email."""
