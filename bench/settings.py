"""Benchmark-only settings: the product's settings plus a bare-insert reference endpoint."""
from config.settings import *  # noqa: F401,F403

ROOT_URLCONF = "bench.urls"
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING", "handlers": []}}
