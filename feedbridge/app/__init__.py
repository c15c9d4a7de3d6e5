"""The program: runtime wiring, the commands, the HTTP server and what `run` runs."""
