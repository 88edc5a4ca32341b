"""The local server's Groq audio endpoints, through the real groq SDK.

Transcriptions and translations take the SDK's multipart uploads; speech answers
WAV bytes. Every check Groq makes before transcribing has its status here (400,
404, 413), and the fault switches chat requests meet apply to audio requests too.
"""

from __future__ import annotations

import asyncio
import io
import wave
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import groq
import pytest

from catalyst.local_server import LocalServer, MockSettings
from catalyst.local_server.audio import MARKER, SAMPLE_RATE, speech_frames, speech_wav
from catalyst.local_server.multipart import parse_form

T = TypeVar("T")
TURBO = "whisper-large-v3-turbo"
V3 = "whisper-large-v3"
ENGLISH = "canopylabs/orpheus-v1-english"


def run(coro: Callable[[], Awaitable[T]]) -> T:
    async def call() -> T:
        return await coro()

    return asyncio.run(call())


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer(MockSettings()) as running:
        yield running


def sdk(server: LocalServer, **options: Any) -> groq.AsyncGroq:
    options.setdefault("max_retries", 0)
    return groq.AsyncGroq(base_url=server.base_url, api_key="test-key", **options)


def recording(seconds: float, text: str | None = None, rate: int = 16_000) -> bytes:
    """A mono 16-bit WAV written with the standard library, `text` behind the marker."""
    frames = round(seconds * rate)
    pcm = (MARKER + text.encode() + b"\x00") if text is not None else b""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(pcm.ljust(frames * 2, b"\x00")[: frames * 2])
    return buffer.getvalue()


def transcribe(server: LocalServer, data: bytes, name: str = "memo.wav", **arguments: Any) -> Any:
    async def go() -> Any:
        async with sdk(server) as client:
            return await client.audio.transcriptions.create(
                model=arguments.pop("model", TURBO), file=(name, data), **arguments)

    return run(go)


def status_of(call: Callable[[], Awaitable[Any]]) -> groq.APIStatusError:
    with pytest.raises(groq.APIStatusError) as caught:
        run(call)
    return caught.value


# -- transcriptions ------------------------------------------------------------------


def test_verbose_json_has_language_real_duration_segments_and_words(server: LocalServer) -> None:
    data = recording(2.5, "Hello there. How are you today?")

    reply = transcribe(server, data, response_format="verbose_json", language="en",
                       timestamp_granularities=["word", "segment"]).to_dict()

    assert reply["text"] == "Hello there. How are you today?"
    assert reply["task"] == "transcribe"
    assert reply["language"] == "English"
    assert reply["duration"] == 2.5  # from the WAV header
    segments = reply["segments"]
    assert [s["text"] for s in segments] == ["Hello there.", "How are you today?"]
    assert segments[0]["start"] == 0 and segments[-1]["end"] == 2.5
    assert all(s["start"] <= s["end"] for s in segments)
    assert [w["word"] for w in reply["words"]] == ["Hello", "there.", "How", "are", "you",
                                                   "today?"]
    assert reply["x_groq"]["id"].startswith("req_mock_")


def test_verbose_json_gives_segments_only_unless_words_are_asked_for(server: LocalServer) -> None:
    reply = transcribe(server, recording(1, "One. Two."), response_format="verbose_json")
    assert "segments" in reply.to_dict() and "words" not in reply.to_dict()
    words_only = transcribe(server, recording(1, "One. Two."), response_format="verbose_json",
                            timestamp_granularities=["word"]).to_dict()
    assert "words" in words_only and "segments" not in words_only


def test_text_and_json_formats(server: LocalServer) -> None:
    data = recording(3)
    text = transcribe(server, data, response_format="text")
    assert text == "Mock transcript of 3.00 seconds of audio."  # the SDK hands text back as str
    assert transcribe(server, data).text == text


def test_markers_of_joined_speech_come_back_in_order(server: LocalServer) -> None:
    joined = io.BytesIO()
    parts = [speech_wav("First part."), speech_wav("Second part.")]
    with wave.open(joined, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(SAMPLE_RATE)
        for part in parts:
            with wave.open(io.BytesIO(part)) as reader:
                writer.writeframes(reader.readframes(reader.getnframes()))

    assert transcribe(server, joined.getvalue()).text == "First part. Second part."


def test_translation_is_english_and_whisper_large_v3_only(server: LocalServer) -> None:
    async def translate(model: str) -> Any:
        async with sdk(server) as client:
            return await client.audio.translations.create(
                model=model, file=("memo.wav", recording(1, "Bonjour.")),
                response_format="verbose_json")

    reply = run(lambda: translate(V3)).to_dict()
    assert reply["text"] == "English translation: Bonjour."
    assert (reply["task"], reply["language"]) == ("translate", "English")

    error = status_of(lambda: translate(TURBO))
    assert error.status_code == 400 and "does not support translations" in error.message
    assert [r.path for r in server.audio_requests()] == ["/openai/v1/audio/translations"] * 2


def test_an_upload_is_recorded_as_its_fields_without_the_bytes(server: LocalServer) -> None:
    data = recording(1)
    transcribe(server, data, language="fr", prompt="Names: Zoë.", temperature=0.2)

    (request,) = server.audio_requests()
    assert request.path == "/openai/v1/audio/transcriptions" and request.status == 200
    assert request.body == {"model": TURBO, "language": "fr", "prompt": "Names: Zoë.",
                            "temperature": "0.2",
                            "file": {"filename": "memo.wav", "bytes": len(data)}}
    assert request.authorization_present and "authorization" not in request.headers


@pytest.mark.parametrize(
    ("upload", "arguments", "status", "words"),
    [
        (("notes.txt", b"hello"), {}, 400, "file must be one of the following types"),
        (("memo.wav", b"not a wav at all"), {}, 400, "could not process file"),
        (("memo.wav", None), {"prompt": "p" * 897}, 400, "prompt is too long"),
        (("memo.wav", None), {"temperature": 1.5}, 400, "temperature"),
        (("memo.wav", None), {"language": "English"}, 400, "ISO-639-1"),
        (("memo.wav", None), {"response_format": "srt"}, 400, "response_format"),
        (("memo.wav", None), {"timestamp_granularities": ["word"]}, 400, "verbose_json"),
        (("memo.wav", None), {"model": "whisper-tiny"}, 404, "does not exist"),
    ],
)
def test_groqs_checks_on_a_transcription(
    server: LocalServer, upload: tuple[str, bytes | None], arguments: dict[str, Any],
    status: int, words: str,
) -> None:
    name, data = upload
    error = status_of(lambda: sdk(server).audio.transcriptions.create(
        model=arguments.pop("model", TURBO), file=(name, data or recording(1)), **arguments))
    assert error.status_code == status
    assert words in error.message


def test_a_file_over_the_limit_is_413(server: LocalServer) -> None:
    server.update(max_audio_bytes=25_000)  # as the free tier's 25 MB, scaled down
    error = status_of(lambda: sdk(server, max_retries=2).audio.transcriptions.create(
        model=TURBO, file=("memo.wav", recording(1))))

    assert error.status_code == 413 and type(error) is groq.APIStatusError
    assert "Request Entity Too Large" in error.message and "free tier" in error.message
    assert len(server.audio_requests()) == 1  # 413 is not retried


def test_a_url_is_not_fetched_by_the_local_server(server: LocalServer) -> None:
    error = status_of(lambda: sdk(server).audio.transcriptions.create(
        model=TURBO, url="https://example.com/a.wav"))
    assert error.status_code == 400 and "does not fetch" in error.message


def test_a_transcription_meets_the_fault_switches(server: LocalServer) -> None:
    def upload() -> Awaitable[Any]:
        return sdk(server).audio.transcriptions.create(model=TURBO, file=("a.wav", recording(1)))

    server.update(rate_limit_every=1, retry_after_ms=5)
    limited = status_of(upload)
    assert limited.status_code == 429 and limited.response.headers["retry-after-ms"] == "5"
    server.update(rate_limit_every=0, fail_models={TURBO: (503, "overloaded", "busy")})
    assert status_of(upload).status_code == 503


def test_multipart_parsing_keeps_binary_bytes_exactly() -> None:
    payload = bytes(range(256)) * 8 + b"\r\n--x\r\n"
    body = (b"--BOUND\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nm\r\n"
            b"--BOUND\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n"
            b"Content-Type: audio/wav\r\n\r\n" + payload + b"\r\n--BOUND--\r\n")

    parts = parse_form(body, "multipart/form-data; boundary=BOUND")

    assert parts is not None
    assert [(p.name, p.filename) for p in parts] == [("model", None), ("file", "a.wav")]
    assert parts[1].value == payload
    assert parse_form(body[:-12], "multipart/form-data; boundary=BOUND") is None
    assert parse_form(body, "application/json") is None


# -- speech ---------------------------------------------------------------------------


def speak(server: LocalServer, text: str, **arguments: Any) -> bytes:
    async def go() -> bytes:
        async with sdk(server) as client:
            response = await client.audio.speech.create(
                model=arguments.pop("model", ENGLISH), voice=arguments.pop("voice", "troy"),
                input=text, response_format="wav", **arguments)
            assert response.headers["content-type"] == "audio/wav"
            return await response.read()

    return run(go)


def test_speech_is_a_wav_that_grows_with_the_text(server: LocalServer) -> None:
    short, longer = speak(server, "Hi."), speak(server, "Hello there, how are you?")

    lengths = []
    for data in (short, longer):
        with wave.open(io.BytesIO(data)) as reader:
            assert (reader.getnchannels(), reader.getsampwidth()) == (1, 2)
            assert reader.getframerate() == SAMPLE_RATE
            lengths.append(reader.getnframes())
    assert lengths == [speech_frames("Hi."), speech_frames("Hello there, how are you?")]
    assert lengths[0] < lengths[1]
    (first, _) = server.audio_requests()
    assert first.body == {"model": ENGLISH, "voice": "troy", "input": "Hi.",
                          "response_format": "wav"}


def test_speech_round_trips_through_transcription(server: LocalServer) -> None:
    assert transcribe(server, speak(server, "Tea is ready.")).text == "Tea is ready."


@pytest.mark.parametrize(
    ("arguments", "status", "words"),
    [
        ({"input": "x" * 201}, 400, "at most 200 per request"),
        ({"voice": "alloy"}, 400, "autumn diana hannah austin daniel troy"),
        ({"model": "canopylabs/orpheus-arabic-saudi"}, 400, "abdullah fahad"),
        ({"model": "playai-tts"}, 400, "canopylabs/orpheus-v1-english"),
        ({"model": "tts-9"}, 404, "does not exist"),
        ({"response_format": "mp3"}, 400, "wav"),
    ],
)
def test_groqs_checks_on_speech(
    server: LocalServer, arguments: dict[str, Any], status: int, words: str
) -> None:
    request = {"model": ENGLISH, "voice": "troy", "input": "Hello.", "response_format": "wav",
               **arguments}
    error = status_of(lambda: sdk(server).audio.speech.create(**request))
    assert error.status_code == status and words in error.message
    if arguments.get("model") == "playai-tts":
        assert isinstance(error.body, dict)
        assert error.body["error"]["code"] == "model_decommissioned"


def test_speech_rate_limits_are_retried_by_the_sdk(server: LocalServer) -> None:
    server.update(rate_limit_every=2, retry_after_ms=5)
    speak(server, "One.")

    async def second() -> bytes:
        async with sdk(server, max_retries=2) as client:
            return await (await client.audio.speech.create(
                model=ENGLISH, voice="troy", input="Two.", response_format="wav")).read()

    assert run(second)
    assert [r.status for r in server.audio_requests()] == [200, 429, 200]
    assert server.audio_requests()[2].retry_count == 1


def test_speech_requests_count_as_in_flight(server: LocalServer) -> None:
    server.update(hold_until_in_flight=3)

    async def three() -> None:
        async with sdk(server) as client:
            await asyncio.gather(*(client.audio.speech.create(
                model=ENGLISH, voice="troy", input=f"Part {n}.", response_format="wav")
                for n in range(3)))

    run(three)
    assert server.max_in_flight == 3
