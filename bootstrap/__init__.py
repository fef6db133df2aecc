"""Pure logic of the bootstrap (no I/O but reading its configuration file)."""
