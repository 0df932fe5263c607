"""Background execution: the Celery app, its tasks, and the Marathon event watcher command."""
