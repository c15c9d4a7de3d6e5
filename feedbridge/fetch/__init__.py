"""Getting bytes from the web: the HTTP client and the browser (system Chromium)."""
