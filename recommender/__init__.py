"""Content-based film recommendations: "more like this" and search by description.

Nothing heavy is imported here: the HTTP app lives in :mod:`recommender.api.app`
(``create_app``), the model in :mod:`recommender.embedding.embedder`, which imports
torch only when a model is actually loaded.
"""

__version__ = "0.1.0"

LAYERS: tuple[tuple[str, str], ...] = (
    ("catalog", "the films: catalogs read and checked, titles resolved"),
    ("embedding", "synopses into vectors: the model, its export and encoders, the Ray step"),
    ("index", "vectors and words on disk: FAISS, BM25, the version store, the build"),
    ("storage", "the service's database: events, impressions, catalog changes; SQLite, "
                "PostgreSQL"),
    ("search", "questions about films: queries, filters, the pipeline, the engine"),
    ("viewers", "what viewers should watch: profiles, the sources, the collaborative model"),
    ("evaluation", "how good the answers are, measured"),
    ("distribution", "versions beyond one folder: publishing, following, the live index"),
    ("api", "the HTTP service: the app, its routes, schemas, access, observability"),
    ("cli", "the command line"),
)
"""The package's folders in the data's order, each with its job. A module imports only
from the root modules (config, errors, files, ...), its own folder and the folders before
it: tests/unit/test_architecture.py enforces it, docs/architecture.md prints it."""
