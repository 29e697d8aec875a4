"""Celery workers: the app (Redis broker) and thin tasks that call the service core."""
