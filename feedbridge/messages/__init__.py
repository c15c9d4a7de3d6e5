"""What people read in a notification: entries, digests and health events as titles and
bodies (Jinja2 templates, pure)."""
