"""Marathon simulator: an in-memory stand-in for Marathon's v2 REST API and event stream."""

MARATHON_VERSION = "1.7.50"
