"""Plain data and pure helpers every layer uses: entries, errors, durations, wording,
health, filters, metrics, logs."""
