"""An in-memory simulator of Metronome's /v1 jobs API (DC/OS one-off jobs) for tests and demo mode."""
