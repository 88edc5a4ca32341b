"""Deterministic embedding vectors: same text, same vector, unit length, any size.

Not a language model: each text's features (lower-cased words, and the
character trigrams of each word with its boundaries) are hashed into signed
buckets. Texts sharing words or spellings share buckets, so similar texts score
a higher cosine similarity than unrelated ones, which is enough for retrieval
tests to rank sensibly. The hash is BLAKE2b, not Python's `hash`, so vectors
are the same in every process and on every machine.
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
import struct

WORD_WEIGHT = 1.0
TRIGRAM_WEIGHT = 0.5
# Added for every text, so a text with no word characters (" ", "!!") still
# gets a non-zero vector of its own.
WHOLE_TEXT_WEIGHT = 0.25

_WORD = re.compile(r"\w+")


def _features(text: str) -> list[tuple[str, float]]:
    words = _WORD.findall(text.lower())
    features: list[tuple[str, float]] = [("t:" + text, WHOLE_TEXT_WEIGHT)]
    for word in words:
        features.append(("w:" + word, WORD_WEIGHT))
        padded = f" {word} "
        features.extend(
            ("c:" + padded[i : i + 3], TRIGRAM_WEIGHT) for i in range(len(padded) - 2)
        )
    return features


def embed(text: str, dimensions: int) -> list[float]:
    """A unit-length vector of `dimensions` floats for `text`."""
    vector = [0.0] * dimensions
    for feature, weight in _features(text):
        digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
        number = int.from_bytes(digest, "little")
        sign = 1.0 if number & 1 else -1.0
        vector[(number >> 1) % dimensions] += sign * weight
    norm = math.sqrt(sum(value * value for value in vector))
    if norm == 0.0:
        # Opposite signs cancelled out in a tiny vector: fall back to one axis.
        vector[0] = 1.0
        return vector
    return [value / norm for value in vector]


def to_base64(vector: list[float]) -> str:
    """Little-endian float32, base64: what OpenAI sends for encoding_format=base64."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
