"""A Python client for the film recommendation service: :class:`Client` and
:class:`AsyncClient` (the same methods, awaited), answers as typed models generated from the
service's OpenAPI document, errors as exceptions named by the service's codes."""

from recommender_client import models
from recommender_client._calls import EventsResult, RejectedEvent
from recommender_client.aio import AsyncClient
from recommender_client.client import Client
from recommender_client.errors import (
    BadRequest,
    Conflict,
    NotFound,
    RateLimited,
    RecommenderError,
    ServerError,
    Unauthorized,
    Unavailable,
)

__all__ = ["AsyncClient", "BadRequest", "Client", "Conflict", "EventsResult", "NotFound",
           "RateLimited", "RecommenderError", "RejectedEvent", "ServerError", "Unauthorized",
           "Unavailable", "models"]
__version__ = "0.1.0"
