"""groqTranscription and groqSpeech: generated scripts run through the real groq SDK
against the local server's audio endpoints (tests/test_local_server_audio.py).

The server's audio carries its text (catalyst/local_server/audio.py), so what a
script spoke can be read back out of the WAV it wrote, part by part, in order.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import re
import threading
import wave
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from conftest import ScriptRun, build, run_script
from workflow_builders import diagnostics

from catalyst.local_server.audio import MARKER, SAMPLE_RATE, speech_wav
from catalyst.mock_groq import MockGroqServer

ENGLISH = "canopylabs/orpheus-v1-english"
SPEECH_PATH = "/openai/v1/audio/speech"


def workflow(*nodes: dict[str, Any], edges: list[dict[str, str]] | None = None,
             **inputs: str) -> dict[str, Any]:
    return {"id": "wf", "name": "wf",
            "input": {name: {"type": kind, "required": True} for name, kind in inputs.items()},
            "nodes": list(nodes), "edges": edges or []}


def node(node_id: str, node_type: str, config: dict[str, Any], **data: Any) -> dict[str, Any]:
    return {"id": node_id, "type": node_type, "data": {"label": node_id, "config": config, **data}}


def wire(source: str, target: str) -> dict[str, str]:
    return {"source": source, "target": target, "sourceHandle": "output", "targetHandle": "input"}


def outputs(run: ScriptRun) -> dict[str, Any]:
    assert run.returncode == 0, run.stderr
    result: dict[str, Any] = json.loads(run.stdout)["outputs"]
    return result


def failure(run: ScriptRun) -> str:
    assert run.returncode == 1, (run.stdout, run.stderr)
    assert "Traceback" not in run.stderr
    return run.stderr


def recording(path: Path, seconds: float, text: str | None = None, rate: int = 16_000) -> Path:
    """A WAV written with the standard library's `wave`, `text` in its frames behind the marker."""
    frames = round(seconds * rate)
    pcm = (MARKER + text.encode() + b"\x00") if text is not None else b""
    with wave.open(str(path), "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(pcm.ljust(frames * 2, b"\x00")[: frames * 2])
    return path


def spoken_parts(path: Path) -> list[str]:
    """The texts a WAV's parts carry, in the order they were joined."""
    return [m.decode() for m in re.findall(re.escape(MARKER) + rb"(.*?)\x00", path.read_bytes(),
                                            re.DOTALL)]


def riff_chunks(data: bytes) -> list[str]:
    """The chunk ids of a RIFF file, checking every size adds up to the file's."""
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    assert int.from_bytes(data[4:8], "little") == len(data) - 8
    found, at = [], 12
    while at < len(data):
        size = int.from_bytes(data[at + 4 : at + 8], "little")
        found.append(data[at : at + 4].decode())
        at += 8 + size + size % 2
    assert at == len(data)
    return found


def frames_of(data: bytes) -> int:
    with wave.open(io.BytesIO(data)) as reader:
        return reader.getnframes()


# -- groqSpeech ---------------------------------------------------------------------------


def two_thousand_characters() -> str:
    """Sentences of varied length ending in . ! or ?, exactly 2,000 characters."""
    words = ["green", "tea", "leaves", "steep", "slowly", "in", "water", "that", "has", "just", "stopped", "boiling"]
    sentences: list[str] = []
    index = 0
    while len(" ".join(sentences)) < 1_850:
        body = " ".join(words[: 3 + index % 10]) + " and more" * (index % 7)
        sentences.append(f"Sentence {index} says {body}{'.!?'[index % 3]}")
        index += 1
    rest = 2_000 - len(" ".join(sentences)) - 1
    sentences.append("Finally " + "z" * (rest - 9) + ".")
    text = " ".join(sentences)
    assert len(text) == 2_000
    return text


SPEAK = workflow(node("speak", "groqSpeech", {"text": "{{ input.text }}", "voice": "diana",
                                              "path": "{{ input.out }}"}),
                 text="string", out="string")


def test_a_long_text_is_one_wav_of_every_part_in_order(
    tmp_path: Path, groq_server: MockGroqServer
) -> None:
    text = two_thousand_characters()
    out = tmp_path / "speech.wav"
    # Each answer takes 0.2 s: requests sent one after the other never overlap.
    groq_server.update(latency_ms=200)

    output = outputs(run_script(build(tmp_path, SPEAK), "--json", "--input", f"text={text}",
                                "--input", f"out={out}", server=groq_server))["speak"]

    sent = [request.body["input"] for request in groq_server.audio_requests()]
    assert all(request.path == SPEECH_PATH and request.status == 200
               for request in groq_server.audio_requests())
    assert all(len(part) <= 200 and part[-1] in ".!?" for part in sent)  # sentence ends
    assert groq_server.max_in_flight == 4
    parts = spoken_parts(out)
    assert sorted(parts) == sorted(sent) and " ".join(parts) == text  # joined in text order
    with wave.open(str(out)) as reader:
        assert (reader.getnchannels(), reader.getsampwidth(), reader.getframerate()) == (
            1, 2, SAMPLE_RATE)
        frames = reader.getnframes()
        assert len(reader.readframes(frames)) == frames * 2
    assert frames == sum(frames_of(speech_wav(part)) for part in parts)
    # fmt, the audio, then the node's signature (a RIFF INFO list).
    assert riff_chunks(out.read_bytes()) == ["fmt ", "data", "LIST"]
    # Billed: the characters sent, not the spaces between two requests.
    characters = sum(len(part) for part in sent)
    assert characters == 2_000 - (len(sent) - 1)
    assert output == {
        "path": str(out), "duration_s": round(frames / SAMPLE_RATE, 3),
        "characters": characters, "requests": len(sent), "model": ENGLISH, "voice": "diana",
        "cost_usd": round(characters * 22 / 1e6, 8), "latency_ms": output["latency_ms"],
    }
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []


def test_splitting_at_sentences_then_words(
    tmp_path: Path, load_script: Callable[[Path], ModuleType]
) -> None:
    module = load_script(build(tmp_path, SPEAK))
    split = module.speech_parts

    assert split("One. Two! Three?", 200) == ["One. Two! Three?"]
    assert split("One. Two! Three?", 9) == ["One. Two!", "Three?"]
    assert split("A line\nanother   line.", 200) == ["A line another line."]
    long_sentence = " ".join(f"word{n}" for n in range(80)) + "."
    parts = split(f"Short one. {long_sentence} Next.", 100)
    assert all(len(part) <= 100 for part in parts)
    assert " ".join(parts) == f"Short one. {long_sentence} Next."
    # Only word boundaries inside the long sentence: no word is cut.
    assert all(re.fullmatch(r"(word\d+ )*word\d+\.?( Next\.)?|Short one\.( word\d+)*", part)
               for part in parts), parts
    assert split("x" * 250 + " end.", 100) == ["x" * 100, "x" * 100, "x" * 50 + " end."]
    assert split("[cheerful] Hello there. [sad] Bye.", 25) == ["[cheerful] Hello there.",
                                                               "[sad] Bye."]


def test_text_from_upstream_and_path_from_the_config(
    tmp_path: Path, groq_server: MockGroqServer
) -> None:
    out = tmp_path / "reply.wav"
    document = workflow(
        node("llm", "groqCompletion", {"prompt": "{{ input.q }}"}),
        node("speak", "groqSpeech", {"path": str(out), "voice": "troy"}),
        edges=[wire("llm", "speak")], q="string")

    output = outputs(run_script(build(tmp_path, document), "--json", "--input", "q=Is it ready?",
                                server=groq_server))["speak"]

    assert spoken_parts(out) == ["Mock reply to: Is it ready?"]
    assert output["characters"] == len("Mock reply to: Is it ready?")


def test_speech_into_transcription_round_trips(
    tmp_path: Path, groq_server: MockGroqServer
) -> None:
    document = workflow(
        node("speak", "groqSpeech", {"text": "{{ input.text }}", "path": "{{ input.out }}"}),
        node("listen", "groqTranscription", {"response_format": "verbose_json"}),
        edges=[wire("speak", "listen")], text="string", out="string")
    text = "The kettle is on. Tea will be ready in five minutes!"

    output = outputs(run_script(build(tmp_path, document), "--json", "--input", f"text={text}",
                                "--input", f"out={tmp_path / 'x.wav'}", server=groq_server))

    listened = output["listen"]
    assert listened["text"] == text
    assert listened["duration_s"] == pytest.approx(len(text) * 0.05, abs=0.001)
    assert [s["text"] for s in listened["segments"]] == ["The kettle is on.",
                                                         "Tea will be ready in five minutes!"]


@pytest.mark.parametrize(
    ("prepare", "words"),
    [
        (lambda target: target.write_text("my notes"), "was not written by groqSpeech"),
        (lambda target: target.symlink_to(target.parent / "elsewhere.wav"), "symbolic link"),
        (lambda target: target.mkdir(), "not a regular file"),
        (lambda target: None, "does not exist"),
    ],
    ids=["not-a-wav", "symlink", "directory", "no-folder"],
)
def test_the_target_is_refused_before_any_request(
    tmp_path: Path, groq_server: MockGroqServer, prepare: Callable[[Path], None], words: str
) -> None:
    target = tmp_path / "out.wav"
    if words == "does not exist":
        target = tmp_path / "missing" / "out.wav"
    prepare(target)

    run = run_script(build(tmp_path, SPEAK), "--input", "text=Hello.", "--input",
                     f"out={target}", server=groq_server)

    assert words in failure(run)
    assert groq_server.audio_requests() == []
    assert not (tmp_path / "elsewhere.wav").exists()


def test_only_its_own_earlier_output_is_replaced(
    tmp_path: Path, groq_server: MockGroqServer
) -> None:
    target = tmp_path / "out.wav"
    script = build(tmp_path, SPEAK)
    for words in ("First words.", "New words."):
        outputs(run_script(script, "--json", "--input", f"text={words}", "--input",
                           f"out={target}", server=groq_server))
        assert spoken_parts(target) == [words]
    assert frames_of(target.read_bytes()) == frames_of(speech_wav("New words."))
    assert target.stat().st_mode & 0o777 == 0o666 & ~current_umask()

    strict = json.loads(json.dumps(SPEAK))
    strict["nodes"][0]["data"]["config"]["overwrite"] = False
    run = run_script(build(tmp_path, strict, "strict"), "--input", "text=Again.", "--input",
                     f"out={target}", server=groq_server)
    assert "exists; set overwrite: true" in failure(run)

    theirs = recording(tmp_path / "theirs.wav", 1)  # a WAV groqSpeech did not write
    before = theirs.read_bytes()
    run = run_script(script, "--input", "text=Again.", "--input", f"out={theirs}",
                     server=groq_server)
    assert "was not written by groqSpeech" in failure(run)
    assert theirs.read_bytes() == before
    assert len(groq_server.audio_requests()) == 2


def current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_a_path_that_is_not_wav_an_unknown_voice_and_too_long_a_text_fail_before_requests(
    tmp_path: Path, groq_server: MockGroqServer
) -> None:
    script = build(tmp_path, workflow(node("speak", "groqSpeech", {
        "text": "{{ input.text }}", "path": "{{ input.out }}", "voice": "{{ input.voice }}",
        "maxCharacters": 50}), text="string", out="string", voice="string"))

    def attempt(text: str, out: str, voice: str) -> str:
        return failure(run_script(script, "--input", f"text={text}", "--input",
                                  f"out={tmp_path / out}", "--input", f"voice={voice}",
                                  server=groq_server))

    assert "end the path in .wav" in attempt("Hi.", "out.mp3", "troy")
    assert "autumn, diana, hannah, austin, daniel, troy" in attempt("Hi.", "o.wav", "alloy")
    assert "more than max_characters (50)" in attempt("x" * 51, "o.wav", "troy")
    assert groq_server.audio_requests() == []


def test_rate_limits_on_some_parts_still_give_the_whole_wav(
    tmp_path: Path, groq_server: MockGroqServer
) -> None:
    groq_server.update(rate_limit_every=3, retry_after_ms=5)
    text = " ".join(f"Sentence number {n} is here." for n in range(30))
    out = tmp_path / "speech.wav"

    outputs(run_script(build(tmp_path, SPEAK), "--json", "--input", f"text={text}", "--input",
                       f"out={out}", server=groq_server))

    assert 429 in [r.status for r in groq_server.audio_requests()]
    assert " ".join(spoken_parts(out)) == text


def test_a_failed_part_fails_the_node_and_writes_nothing(
    tmp_path: Path, groq_server: MockGroqServer
) -> None:
    groq_server.update(fail_models={ENGLISH: (400, "invalid_input", "cannot say that")})
    out = tmp_path / "speech.wav"

    run = run_script(build(tmp_path, SPEAK), "--input", "text=One. Two.", "--input",
                     f"out={out}", server=groq_server)

    assert "Groq answered 400 (invalid_input): cannot say that" in failure(run)
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []


def test_a_retired_playai_model_warns_and_fails_before_any_request(
    tmp_path: Path, groq_server: MockGroqServer
) -> None:
    document = workflow(node("speak", "groqSpeech", {"model": "playai-tts", "text": "Hi.",
                                                     "path": str(tmp_path / "o.wav")}))
    (warning,) = diagnostics(document)
    assert (warning.code, warning.severity) == ("model-decommissioned", "warning")
    assert "canopylabs/orpheus-v1-english" in (warning.hint or "")

    run = run_script(build(tmp_path, document), server=groq_server)
    assert "use 'canopylabs/orpheus-v1-english' instead" in failure(run)
    assert groq_server.audio_requests() == []


# -- groqTranscription ----------------------------------------------------------------------

TRANSCRIBE = workflow(node("stt", "groqTranscription", {
    "file": "{{ input.audio }}", "language": "en", "prompt": "Names: Groq.",
    "responseFormat": "verbose_json", "timestampGranularities": ["segment", "word"]}),
    audio="string")


def test_a_wav_is_transcribed_with_segments_words_duration_and_cost(
    tmp_path: Path, groq_server: MockGroqServer
) -> None:
    audio = recording(tmp_path / "memo.wav", 2.5, "Groq is fast. Whisper listens.")

    output = outputs(run_script(build(tmp_path, TRANSCRIBE), "--json", "--input",
                                f"audio={audio}", server=groq_server))["stt"]

    assert output == {
        "text": "Groq is fast. Whisper listens.",
        "language": "English",
        "duration_s": 2.5,
        "segments": [{"id": 0, "start": 0.0, "end": 1.08, "text": "Groq is fast."},
                     {"id": 1, "start": 1.17, "end": 2.5, "text": "Whisper listens."}],
        "words": [{"word": w, "start": output["words"][i]["start"],
                   "end": output["words"][i]["end"]}
                  for i, w in enumerate(["Groq", "is", "fast.", "Whisper", "listens."])],
        "task": "transcribe",
        "model": "whisper-large-v3-turbo",
        "cost_usd": round(2.5 / 3600 * 0.04, 8),
        "latency_ms": output["latency_ms"],
    }
    (request,) = groq_server.audio_requests()
    assert request.path == "/openai/v1/audio/transcriptions"
    assert request.body == {
        "model": "whisper-large-v3-turbo", "language": "en", "prompt": "Names: Groq.",
        "response_format": "verbose_json", "timestamp_granularities": ["segment", "word"],
        "file": {"filename": "memo.wav", "bytes": audio.stat().st_size},
    }


def test_plain_json_output_has_no_segments_but_a_duration(
    tmp_path: Path, groq_server: MockGroqServer
) -> None:
    audio = recording(tmp_path / "memo.wav", 4)
    script = build(tmp_path, workflow(node("stt", "groqTranscription", {
        "file": "{{ input.audio }}"}), audio="string"))

    output = outputs(run_script(script, "--json", "--input", f"audio={audio}",
                                server=groq_server))["stt"]

    assert output["text"] == "Mock transcript of 4.00 seconds of audio."
    assert "segments" not in output and output["duration_s"] == 4.0
    # Asked as verbose_json all the same: the duration prices the call.
    assert groq_server.audio_requests()[0].body["response_format"] == "verbose_json"


def test_translation_goes_to_the_translations_endpoint(
    tmp_path: Path, groq_server: MockGroqServer
) -> None:
    audio = recording(tmp_path / "memo.ogg.wav", 3, "Le thé est prêt.")
    script = build(tmp_path, workflow(node("stt", "groqTranscription", {
        "file": "{{ input.audio }}", "translate": True, "model": "whisper-large-v3"}),
        audio="string"))

    output = outputs(run_script(script, "--json", "--input", f"audio={audio}",
                                server=groq_server))["stt"]

    assert output["text"] == "English translation: Le thé est prêt."
    assert (output["task"], output["language"]) == ("translate", "English")
    assert output["cost_usd"] == round(3 / 3600 * 0.111, 8)
    assert [r.path for r in groq_server.audio_requests()] == ["/openai/v1/audio/translations"]


def test_base64_audio_from_upstream(tmp_path: Path, groq_server: MockGroqServer) -> None:
    audio = recording(tmp_path / "memo.wav", 1, "From bytes.")
    document = workflow(
        node("pack", "editFields", {"mode": "replace",
                                    "fields": {"audio_base64": "{{ input.b64 }}"}}),
        node("stt", "groqTranscription", {}),
        edges=[wire("pack", "stt")], b64="string")

    output = outputs(run_script(build(tmp_path, document), "--json", "--input",
                                f"b64={base64.b64encode(audio.read_bytes()).decode()}",
                                server=groq_server))["stt"]

    assert output["text"] == "From bytes."
    # No file name came with the bytes: their first bytes name the format.
    assert groq_server.audio_requests()[0].body["file"]["filename"] == "audio.wav"


EXPRESSIONS = workflow(node("stt", "groqTranscription", {
    "file": "{{ input.audio }}", "prompt": "{{ input.prompt }}", "language": "{{ input.lang }}",
    "model": "{{ input.model }}", "translate": "{{ input.translate }}"}, retries=0),
    audio="string", prompt="string", lang="string", model="string", translate="boolean")


@pytest.mark.parametrize(
    ("name", "content", "settings", "words"),
    [
        ("notes.txt", b"RIFF", {}, ".txt files are not accepted; Groq transcribes flac, mp3"),
        ("memo.wav", b"just some text", {}, "does not look like audio"),
        ("missing.wav", None, {}, "no audio file at"),
        ("memo.wav", "wav", {"prompt": "p" * 897}, "the prompt has 897 characters; Groq takes "
                                                   "at most 896"),
        ("memo.wav", "wav", {"lang": "english"}, "is not an ISO-639-1 code"),
        ("memo.wav", "wav", {"translate": "true"}, "whisper-large-v3-turbo cannot translate; "
                                                   "use whisper-large-v3"),
        ("big.wav", "sparse", {}, "is 100.0 MB; Groq transcribes files up to 100 MB, 25 MB on "
                                  "the free tier"),
    ],
    ids=["format", "not-audio", "missing", "prompt", "language", "translate", "too-large"],
)
def test_problems_are_caught_before_anything_is_uploaded(
    tmp_path: Path, groq_server: MockGroqServer, name: str, content: bytes | str | None,
    settings: dict[str, str], words: str,
) -> None:
    audio = tmp_path / name
    if content == "wav":
        recording(audio, 1)
    elif content == "sparse":
        with audio.open("wb") as handle:
            handle.truncate(100_000_001)
    elif isinstance(content, bytes):
        audio.write_bytes(content)
    values = {"prompt": "Names.", "lang": "en", "model": "whisper-large-v3-turbo",
              "translate": "false", **settings}

    run = run_script(build(tmp_path, EXPRESSIONS), "--input", f"audio={audio}",
                     *(f"--input={key}={value}" for key, value in values.items()),
                     server=groq_server)

    assert words in failure(run)
    assert groq_server.audio_requests() == []


def test_groqs_413_says_what_the_limits_are(tmp_path: Path, groq_server: MockGroqServer) -> None:
    groq_server.update(max_audio_bytes=10_000)
    audio = recording(tmp_path / "memo.wav", 1)
    script = build(tmp_path, workflow(node("stt", "groqTranscription", {
        "file": "{{ input.audio }}"}), audio="string"))

    run = run_script(script, "--input", f"audio={audio}", server=groq_server)

    message = failure(run)
    assert "Groq answered 413 (request_too_large)" in message
    assert "up to 100 MB, 25 MB on the free tier" in message


# -- audio from a URL -------------------------------------------------------------------------


class AudioHost(BaseHTTPRequestHandler):
    """Serves one recording at several addresses, as files, redirects and traps."""

    recording = b""
    seen: list[str] = []  # noqa: RUF012 - reset per test by the fixture

    def do_GET(self) -> None:
        self.seen.append(self.path)
        if self.path == "/old.wav":
            self._answer(302, b"", {"Location": "/memo.wav"})
        elif self.path == "/to-file":
            self._answer(302, b"", {"Location": "file:///etc/passwd"})
        elif self.path == "/page.wav":
            self._answer(200, b"<html>not audio</html>", {})
        elif self.path == "/huge.wav":
            self._answer(200, b"", {"Content-Length": "100000001"}, body_too=False)
        elif self.path == "/stream.wav":
            # No length: HTTP/1.0, the body ends when the connection closes.
            self.send_response(200)
            self.end_headers()
            self.wfile.write(self.recording)
        else:
            self._answer(200, self.recording, {})

    def _answer(self, status: int, body: bytes, headers: dict[str, str],
                body_too: bool = True) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if "Content-Length" not in headers:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body_too:
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def audio_host(tmp_path: Path) -> Iterator[str]:
    AudioHost.recording = recording(tmp_path / "hosted.wav", 1.5, "From the web.").read_bytes()
    AudioHost.seen = []
    host = ThreadingHTTPServer(("127.0.0.1", 0), AudioHost)
    thread = threading.Thread(target=host.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{host.server_port}"
    host.shutdown()
    host.server_close()


def url_workflow(allow_private: bool) -> dict[str, Any]:
    return workflow(node("stt", "groqTranscription", {
        "url": "{{ input.url }}", "allowPrivateUrls": allow_private}, retries=0), url="string")


def test_a_url_is_downloaded_following_redirects(
    tmp_path: Path, groq_server: MockGroqServer, audio_host: str
) -> None:
    script = build(tmp_path, url_workflow(allow_private=True))
    for path in ("/old.wav", "/download?id=7"):
        output = outputs(run_script(script, "--json", "--input", f"url={audio_host}{path}",
                                    server=groq_server))["stt"]
        assert output["text"] == "From the web."
    assert AudioHost.seen == ["/old.wav", "/memo.wav", "/download?id=7"]
    names = [r.body["file"]["filename"] for r in groq_server.audio_requests()]
    assert names == ["memo.wav", "audio.wav"]  # no extension in the URL: the content's format


@pytest.mark.parametrize(
    ("path", "allow", "words"),
    [
        ("/memo.wav", False, "refusing to download from 127.0.0.1: it is a private, loopback"),
        ("/to-file", True, "only http:// and https:// audio URLs are downloaded"),
        ("/page.wav", True, "does not look like audio"),
        ("/huge.wav", True, "is 100.0 MB; Groq transcribes files up to 100 MB"),
    ],
    ids=["private", "redirect-to-file", "not-audio", "too-large"],
)
def test_a_hostile_url_is_refused_before_any_upload(
    tmp_path: Path, groq_server: MockGroqServer, audio_host: str, path: str, allow: bool,
    words: str,
) -> None:
    script = build(tmp_path, url_workflow(allow_private=allow))

    run = run_script(script, "--input", f"url={audio_host}{path}", server=groq_server)

    assert words in failure(run)
    assert groq_server.audio_requests() == []
    if not allow:
        assert AudioHost.seen == []  # not even asked


def test_a_download_stops_at_the_size_limit(
    tmp_path: Path, load_script: Callable[[Path], ModuleType], groq_server: MockGroqServer,
    audio_host: str,
) -> None:
    module = load_script(build(tmp_path, url_workflow(allow_private=True)))
    module.TRANSCRIPTION_MAX_BYTES = 20_000  # the hosted recording has 48,044 bytes

    for path in ("/memo.wav", "/stream.wav"):  # a length declared, and none
        with pytest.raises(module.WorkflowError, match=r"Groq transcribes files up to 0\.02 MB"):
            asyncio.run(module.run_workflow({"url": f"{audio_host}{path}"}))
    assert groq_server.audio_requests() == []


# -- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("node_type", "config", "field", "code", "hint"),
    [
        ("groqTranscription", {"file": "a.wav", "translate": True}, "translate",
         "translation-unsupported", "whisper-large-v3"),
        ("groqTranscription", {"file": "a.wav", "model": "whisper-large-v3", "translate": True,
                               "language": "fr"}, "language", "unsupported-field",
         "remove language"),
        ("groqTranscription", {"file": "a.wav", "language": "French"}, "language",
         "invalid-language", "en, fr, de"),
        ("groqTranscription", {"file": "a.wav", "prompt": "p" * 897}, "prompt",
         "prompt-too-long", "at most 896"),
        ("groqTranscription", {"file": "a.wav", "timestampGranularities": ["word"]},
         "timestampGranularities", "unsupported-field", "verbose_json"),
        ("groqTranscription", {"file": "a.txt"}, "file", "unsupported-format",
         "flac, mp3, mp4, mpeg, mpga, m4a, ogg, wav, webm"),
        ("groqTranscription", {"url": "ftp://host/a.wav"}, "url", "unsupported-url",
         "http:// and https://"),
        ("groqTranscription", {"file": "a.wav", "url": "https://x/a.wav"}, "url",
         "conflicting-fields", "remove file or url"),
        ("groqTranscription", {"file": "a.wav", "responseFormat": "srt"}, "responseFormat",
         "invalid-config", "json"),
        ("groqTranscription", {"file": "a.wav", "temperature": 2}, "temperature",
         "out-of-range", "0 to 1"),
        ("groqSpeech", {"text": "Hi.", "path": "a.wav", "voice": "alloy"}, "voice",
         "unknown-voice", "autumn, diana, hannah, austin, daniel, troy"),
        ("groqSpeech", {"text": "Hi.", "path": "a.wav", "voice": "troy",
                        "model": "canopylabs/orpheus-arabic-saudi"}, "voice", "unknown-voice",
         "abdullah, fahad, sultan, lulwa, noura, aisha"),
        ("groqSpeech", {"text": "Hi.", "path": "a.mp3"}, "path", "unsupported-format", ".wav"),
        ("groqSpeech", {"text": "x" * 20, "path": "a.wav", "maxCharacters": 10}, "text",
         "text-too-long", "max_characters"),
    ],
)
def test_each_config_error_names_the_node_the_field_and_the_options(
    node_type: str, config: dict[str, Any], field: str, code: str, hint: str
) -> None:
    found = [p for p in diagnostics(workflow(node("audio", node_type, config)))
             if p.severity == "error"]

    (problem,) = found
    assert (problem.code, problem.node_id) == (code, "audio")
    assert problem.path == f"/nodes/0/data/config/{field}"
    assert hint in (problem.hint or "")


@pytest.mark.parametrize(
    ("node_type", "config", "codes"),
    [
        ("groqTranscription", {}, ["missing-input"]),
        ("groqSpeech", {}, ["missing-input", "missing-path"]),
        ("groqSpeech", {"text": "Hi."}, ["missing-path"]),
    ],
)
def test_missing_audio_text_or_path(node_type: str, config: dict[str, Any],
                                    codes: list[str]) -> None:
    found = diagnostics(workflow(node("audio", node_type, config)))
    assert sorted(p.code for p in found) == codes
    assert all(p.path == "/nodes/0/data/config" and p.hint for p in found)


@pytest.mark.parametrize(
    ("node_type", "config", "hint"),
    [
        ("groqTranscription", {"file": "a.wav", "model": "whisper-9"},
         "whisper-large-v3, whisper-large-v3-turbo"),
        ("groqSpeech", {"text": "Hi.", "path": "a.wav", "model": "tts-9"},
         "canopylabs/orpheus-v1-english, canopylabs/orpheus-arabic-saudi"),
        ("groqSpeech", {"text": "Hi.", "path": "a.wav", "model": "playai-tts-arabic"},
         "use 'canopylabs/orpheus-arabic-saudi' instead (voices: abdullah"),
    ],
)
def test_unknown_and_retired_models_warn(node_type: str, config: dict[str, Any],
                                         hint: str) -> None:
    (warning,) = diagnostics(workflow(node("audio", node_type, config)))
    assert warning.severity == "warning" and warning.path == "/nodes/0/data/config/model"
    assert hint in (warning.hint or "")


def test_every_problem_is_reported_at_once() -> None:
    found = diagnostics(workflow(node("stt", "groqTranscription", {
        "file": "a.txt", "prompt": "p" * 900, "language": "xx-YY", "translate": True})))
    assert {p.code for p in found} == {"translation-unsupported", "unsupported-field",
                                       "prompt-too-long", "unsupported-format"}
