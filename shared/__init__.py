"""The domain shared by the API and the workers: models, services, selectors and external clients."""
