"""HTTP layer: REST API views, serializers, routes, error rendering and the web pages."""
