"""Content-based film recommendations: "more like this" and search by description.

Nothing heavy is imported here: the HTTP app lives in :mod:`recommender.api`
(``create_app``), the model in :mod:`recommender.embedding`, which imports
torch only when a model is actually loaded.
"""

__version__ = "0.1.0"
