"""Printers: one per output format, each reading the same finished Graph."""
