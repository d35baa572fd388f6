"""Why something isn't serving, said twice: in full for the log and operators, and
without the server's paths for public answers."""

from __future__ import annotations

import re
from dataclasses import dataclass

from recommender.errors import RecommenderError

_PATH = re.compile(r"(?<![\w.])/(?:[^\s/:'\"]+/)+([^\s/:'\"]+)")


@dataclass(frozen=True)
class Refusal:
    """What went wrong (``message``) and what the public may see of it (``public``)."""

    message: str
    public: str

    @classmethod
    def of(cls, exc: BaseException) -> Refusal:
        """Ours carry both; another error's words are cut before the library's own
        (``": [ONNXRuntimeError] ..."``), each path cut to its file's name."""
        if isinstance(exc, RecommenderError):
            return cls(exc.message, exc.public_message)
        head = str(exc).split(": ", 1)[0]
        return cls(str(exc), _PATH.sub(r"\1", head) or type(exc).__name__)

    def framed(self, before: str, after: str = "") -> Refusal:
        """The same refusal inside a sentence, both wordings alike."""
        return Refusal(f"{before}{self.message}{after}", f"{before}{self.public}{after}")
