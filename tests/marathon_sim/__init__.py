"""Tests of the Marathon simulator (marathon_sim)."""
