"""Deterministic audio for the speech endpoints: pure functions of the request.

Speech: 16-bit mono PCM WAV at SAMPLE_RATE, SECONDS_PER_CHARACTER of audio per
character of input, so the audio grows with the text. Its first bytes carry the
text between MARKER and a NUL; the rest is a quiet 200 Hz tone.

Transcription reads markers back: an upload holding markers (joined speech, or
a WAV a test wrote with a marker in its frames) is transcribed as their texts in
order, joined by a space, so speech -> transcription round-trips; any other
upload is transcribed as a sentence saying how long it is. The duration comes
from the WAV header, or for the compressed formats from the size at
ESTIMATED_BYTES_PER_SECOND (a 128 kbit/s stream).
"""

from __future__ import annotations

import io
import math
import re
import struct
import wave
from dataclasses import dataclass

SAMPLE_RATE = 24_000
SECONDS_PER_CHARACTER = 0.05
MARKER = b"CATALYST-TEXT:"
ESTIMATED_BYTES_PER_SECOND = 16_000
_MARKED = re.compile(re.escape(MARKER) + rb"(.*?)\x00", re.DOTALL)
# One period of the tone: 120 samples at 24 kHz is 200 Hz.
_PERIOD = struct.pack("<120h", *(round(800 * math.sin(2 * math.pi * k / 120)) for k in range(120)))
_SENTENCE_END = re.compile(r"(?<=[.!?…؟])\s+")


def speech_frames(text: str) -> int:
    """How many frames the speech of `text` lasts."""
    return max(1, round(len(text) * SECONDS_PER_CHARACTER * SAMPLE_RATE))


def speech_wav(text: str) -> bytes:
    """A valid WAV whose length grows with `text`, carrying it behind MARKER."""
    frames = speech_frames(text)
    payload = MARKER + text.encode() + b"\x00"
    if len(payload) % 2:
        payload += b"\x00"
    size = max(frames * 2, len(payload))
    tone = size - len(payload)
    pcm = payload + (_PERIOD * (tone // len(_PERIOD) + 1))[:tone]
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(SAMPLE_RATE)
        writer.writeframes(pcm)
    return buffer.getvalue()


def sniff(data: bytes) -> str | None:
    """The container the first bytes announce (wav, flac, ogg, webm, mp4, mp3, mpeg), or None."""
    head = data[:12]
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "webm"
    if head[4:8] == b"ftyp":
        return "mp4"
    if head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "mp3"
    if head[:4] in (b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3"):
        return "mpeg"
    return None


def duration_of(data: bytes) -> float | None:
    """Seconds of audio in an upload; None when it is not audio the server can read."""
    kind = sniff(data)
    if kind is None:
        return None
    if kind != "wav":
        return round(len(data) / ESTIMATED_BYTES_PER_SECOND, 3)
    try:
        with wave.open(io.BytesIO(data), "rb") as reader:
            rate, frames = reader.getframerate(), reader.getnframes()
    except (wave.Error, EOFError, struct.error):
        return None
    return round(frames / rate, 3) if rate else None


def transcript_of(data: bytes, duration: float) -> str:
    texts = [found.decode("utf-8", "replace").strip() for found in _MARKED.findall(data)]
    texts = [text for text in texts if text]
    if texts:
        return " ".join(texts)
    return f"Mock transcript of {duration:.2f} seconds of audio."


@dataclass(frozen=True)
class Timed:
    text: str
    start: float
    end: float


def _timed(pieces: list[str], text: str, duration: float) -> list[Timed]:
    """Each piece of `text`, timed in proportion to where it sits in the text."""
    timed: list[Timed] = []
    cursor = 0
    total = max(len(text), 1)
    for piece in pieces:
        at = text.find(piece, cursor)
        at = cursor if at < 0 else at
        cursor = at + len(piece)
        timed.append(Timed(piece, round(duration * at / total, 2),
                           round(duration * cursor / total, 2)))
    return timed


def segments(text: str, duration: float) -> list[Timed]:
    sentences = [s for s in _SENTENCE_END.split(text) if s.strip()]
    return _timed(sentences, text, duration)


def words(text: str, duration: float) -> list[Timed]:
    return _timed(text.split(), text, duration)
