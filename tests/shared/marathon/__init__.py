"""Tests of the Marathon client package."""
