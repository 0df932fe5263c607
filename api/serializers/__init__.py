"""DRF serializers, one module per resource family."""
