"""The watch_marathon command."""
