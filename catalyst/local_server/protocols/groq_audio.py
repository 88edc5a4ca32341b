"""Groq's audio endpoints (see GROQ_FACTS.md), answered from catalyst/local_server/audio.py.

    POST /openai/v1/audio/transcriptions   multipart: file, model, language, prompt,
                                           response_format, temperature,
                                           timestamp_granularities[]
    POST /openai/v1/audio/translations     the same without language; whisper-large-v3 only
    POST /openai/v1/audio/speech           JSON: model, input, voice, response_format (wav)

Checks in Groq's order, each with Groq's status: 404 unknown model, 400 retired
model, 400 no file, 413 a file over `max_audio_bytes`, 400 a format outside
flac mp3 mp4 mpeg mpga m4a ogg wav webm, 400 a bad parameter (prompt over 896
characters, temperature outside 0-1, …), 400 a file that is not audio. Speech:
400 an input over the model's per-request limit, an unknown voice (the message
lists the model's voices), a format other than wav. Valid requests then meet the
same rate limits and injected faults as chat requests (tokens: seconds of audio
for a transcription, characters for speech).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from catalyst import provider_models
from catalyst.local_server import audio
from catalyst.local_server.errors import (
    ApiError,
    forced_error,
    invalid_request,
    model_not_found,
)
from catalyst.local_server.flows import answer_refusal, json_body, refuse_invalid
from catalyst.local_server.multipart import FormPart, parse_form
from catalyst.local_server.responder import Responder
from catalyst.local_server.settings import MockSettings

RESPONSE_FORMATS = ("json", "text", "verbose_json")
GRANULARITIES = ("word", "segment")
LANGUAGE_NAMES = {
    "en": "English", "ar": "Arabic", "de": "German", "es": "Spanish", "fr": "French",
    "it": "Italian", "ja": "Japanese", "nl": "Dutch", "pt": "Portuguese", "zh": "Chinese",
}  # fmt: skip
TRANSLATION_PREFIX = "English translation: "


@dataclass(frozen=True)
class TranscriptionRequest:
    model_id: str
    data: bytes
    language: str | None
    response_format: str
    granularities: tuple[str, ...]
    duration: float
    translate: bool


@dataclass(frozen=True)
class SpeechRequest:
    model_id: str
    text: str
    voice: str


def _retired(model_id: str) -> ApiError | None:
    retired = provider_models.retired_speech_model("groq", model_id)
    if retired is None:
        return None
    return invalid_request(
        f"The model `{model_id}` has been decommissioned and is no longer supported. "
        f"Use `{retired.replacement}` instead; see https://console.groq.com/docs/deprecations.",
        code="model_decommissioned",
    )


def _fields(parts: list[FormPart]) -> dict[str, Any]:
    """The form as recorded: text fields as text, a file as its name and size."""
    fields: dict[str, Any] = {}
    for part in parts:
        name = part.name.removesuffix("[]")
        if part.filename is not None:
            value: Any = {"filename": part.filename, "bytes": len(part.value)}
        else:
            value = part.text
        if part.name.endswith("[]"):
            fields.setdefault(name, []).append(value)
        else:
            fields[name] = value
    return fields


def check_transcription(
    parts: list[FormPart], settings: MockSettings, translate: bool
) -> TranscriptionRequest | ApiError:
    fields = _fields(parts)
    model_id = fields.get("model")
    if not isinstance(model_id, str) or not model_id:
        return invalid_request("model is a required field", param="model")
    if model_id in settings.fail_models:
        return forced_error(*settings.fail_models[model_id])
    model = provider_models.transcription_model("groq", model_id)
    if model is None:
        return model_not_found(model_id)
    if translate and not model.translates:
        return invalid_request(
            f"`{model_id}` does not support translations; use `whisper-large-v3`",
            param="model",
        )
    upload = next((p for p in parts if p.name == "file" and p.filename is not None), None)
    if upload is None:
        if "url" in fields:
            return invalid_request("the local server does not fetch `url`: upload the file",
                                   param="url")
        return invalid_request("either file or url must be provided", param="file")
    max_bytes = settings.max_audio_bytes
    if len(upload.value) > max_bytes:
        return ApiError(
            413,
            f"Request Entity Too Large: the file has {len(upload.value)} bytes, the limit is "
            f"{max_bytes} (100 MB; 25 MB on the free tier)",
            "invalid_request_error",
            "request_too_large",
        )
    filename = upload.filename or ""
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if extension not in provider_models.TRANSCRIPTION_FORMATS:
        return invalid_request(
            "file must be one of the following types: "
            f"[{' '.join(provider_models.TRANSCRIPTION_FORMATS)}]",
            param="file",
        )
    response_format = fields.get("response_format") or "json"
    if response_format not in RESPONSE_FORMATS:
        return invalid_request(
            f"response_format must be one of {', '.join(RESPONSE_FORMATS)}",
            param="response_format",
        )
    granularities = fields.get("timestamp_granularities") or []
    if isinstance(granularities, str):
        granularities = [granularities]
    if any(g not in GRANULARITIES for g in granularities):
        return invalid_request("timestamp_granularities takes word and segment",
                               param="timestamp_granularities")
    if granularities and response_format != "verbose_json":
        return invalid_request(
            "response_format must be set verbose_json to use timestamp granularities",
            param="timestamp_granularities",
        )
    prompt = fields.get("prompt") or ""
    limit = provider_models.TRANSCRIPTION_PROMPT_MAX_CHARACTERS
    if len(prompt) > limit:
        return invalid_request(
            f"prompt is too long: {len(prompt)} characters, the limit is {limit}",
            param="prompt",
        )
    language = fields.get("language")
    if translate and language is not None:
        return invalid_request("translations do not take a language", param="language")
    if language is not None and not provider_models.is_language_code(language):
        return invalid_request(f"invalid language {language!r}: use an ISO-639-1 code",
                               param="language")
    temperature = fields.get("temperature")
    if temperature is not None:
        try:
            value = float(temperature)
        except ValueError:
            value = math.nan
        if not 0 <= value <= 1:
            return invalid_request("temperature must be between 0 and 1", param="temperature")
    duration = audio.duration_of(upload.value)
    if duration is None:
        return invalid_request("could not process file - is it a valid media file?",
                               param="file")
    return TranscriptionRequest(model_id, upload.value, language, response_format,
                                tuple(granularities), duration, translate)


def transcription_body(request: TranscriptionRequest, request_id: str) -> dict[str, Any] | str:
    text = audio.transcript_of(request.data, request.duration)
    if request.translate:
        text = TRANSLATION_PREFIX + text
    if request.response_format == "text":
        return text
    if request.response_format == "json":
        return {"text": text, "x_groq": {"id": request_id}}
    language = "en" if request.translate else request.language or "en"
    body: dict[str, Any] = {
        "task": "translate" if request.translate else "transcribe",
        "language": LANGUAGE_NAMES.get(language, language),
        "duration": request.duration,
        "text": text,
    }
    granularities = request.granularities or ("segment",)
    if "segment" in granularities:
        body["segments"] = [
            {
                "id": index,
                "seek": 0,
                "start": segment.start,
                "end": segment.end,
                "text": segment.text,
                "tokens": [50365 + n for n in range(len(segment.text.split()))],
                "temperature": 0.0,
                "avg_logprob": -0.2,
                "compression_ratio": 1.2,
                "no_speech_prob": 0.01,
            }
            for index, segment in enumerate(audio.segments(text, request.duration))
        ]
    if "word" in granularities:
        body["words"] = [
            {"word": word.text, "start": word.start, "end": word.end}
            for word in audio.words(text, request.duration)
        ]
    body["x_groq"] = {"id": request_id}
    return body


def check_speech(body: Any, settings: MockSettings) -> SpeechRequest | ApiError:
    if not isinstance(body, dict):
        return invalid_request("Request body must be a JSON object.")
    model_id = body.get("model")
    if not isinstance(model_id, str) or not model_id:
        return invalid_request("model is a required field", param="model")
    if model_id in settings.fail_models:
        return forced_error(*settings.fail_models[model_id])
    retired = _retired(model_id)
    if retired is not None:
        return retired
    model = provider_models.speech_model("groq", model_id)
    if model is None:
        return model_not_found(model_id)
    text = body.get("input")
    if not isinstance(text, str) or not text.strip():
        return invalid_request("input must be a non-empty string", param="input")
    if len(text) > model.max_input_characters:
        return invalid_request(
            f"input is too long: {len(text)} characters; `{model_id}` takes at most "
            f"{model.max_input_characters} per request",
            param="input",
        )
    voice = body.get("voice")
    if voice not in model.voices:
        return invalid_request(
            f"voice must be one of [{' '.join(model.voices)}] for `{model_id}`",
            param="voice",
        )
    if body.get("response_format", "wav") != "wav":
        return invalid_request("response_format must be wav", param="response_format")
    return SpeechRequest(model_id, text, voice)


def run_transcription(responder: Responder, translate: bool) -> None:
    exchange, state, settings = responder.exchange, responder.state, responder.settings
    parts = parse_form(exchange.raw_body, exchange.content_type)
    if parts is None:
        responder.send_error(invalid_request(
            "request Content-Type must be multipart/form-data with a file"))
        return
    exchange.body = _fields(parts)
    checked = check_transcription(parts, settings, translate)
    if isinstance(checked, ApiError):
        refuse_invalid(responder, checked)
        return
    state.enter_chat(settings.hold_until_in_flight)
    try:
        seconds = max(1, math.ceil(checked.duration))
        admission = state.admit_chat(checked.model_id, seconds, settings)
        if answer_refusal(responder, admission, checked.model_id):
            return
        request_id = state.next_request_id()
        headers = {**admission.rate_headers, "x-request-id": request_id}
        responder.pause(settings.latency_ms / 1000)
        answer = transcription_body(checked, request_id)
        if isinstance(answer, str):
            responder.send_bytes(200, answer.encode(), "text/plain; charset=utf-8", headers)
        else:
            responder.send_json(200, answer, headers=headers)
    finally:
        state.leave_chat()


def run_speech(responder: Responder) -> None:
    state, settings = responder.state, responder.settings
    body = json_body(responder)
    if body is None:
        return
    checked = check_speech(body, settings)
    if isinstance(checked, ApiError):
        refuse_invalid(responder, checked)
        return
    state.enter_chat(settings.hold_until_in_flight)
    try:
        admission = state.admit_chat(checked.model_id, len(checked.text), settings)
        if answer_refusal(responder, admission, checked.model_id):
            return
        responder.pause(settings.latency_ms / 1000)
        responder.send_bytes(200, audio.speech_wav(checked.text), "audio/wav",
                             admission.rate_headers)
    finally:
        state.leave_chat()
