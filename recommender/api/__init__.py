"""The HTTP service: the app factory, its routes, schemas, access and observability."""
