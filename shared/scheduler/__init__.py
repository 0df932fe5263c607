"""The one-off job scheduler (Metronome): its client, typed errors and typed results."""
