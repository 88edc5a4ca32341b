"""Adaptive rate budgets: the table's figures are a start, the provider's answers the truth.

A key's real ceiling is learned from 429s (multiplicative decrease from what
got through, additive increase after clean traffic) and from Groq's
x-ratelimit-limit-tokens header; --rpm/--tpm (RATE_LIMITS) are never adapted.
Everything runs on the runtime's fake clock (`FakeClock`), the server's
sliding window included: no test here depends on the machine's speed.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from conftest import build
from test_runtime_paths import MODEL, FakeClock, Loader, groq_node, on_clock, run, workflow

from catalyst.mock_groq import MockGroqServer, MockSettings

pytestmark = pytest.mark.e2e

# Groq counts x-ratelimit-*-requests per day: a free-tier key has thousands
# left while its per-minute ceiling refuses the 31st request of a minute.
PER_DAY = {"x-ratelimit-limit-requests": "14400", "x-ratelimit-remaining-requests": "14000",
           "x-ratelimit-reset-requests": "6s"}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_a_free_tier_key_converges_just_under_its_real_ceiling(
    tmp_path: Path, load_script: Loader, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The table says 1,000 rpm; the key really gets 30, and only 429s say so.
    module = on_clock(load_script(build(tmp_path, workflow(groq_node("llm", retries=0)))),
                      clock, monkeypatch)
    monkeypatch.setattr(module, "_jitter", lambda: 1.0)
    assert module.CHAT_MODELS["groq"][MODEL]["requests_per_minute"] == 1000
    assert not module.RATE_LIMITS.get("requests_per_minute")
    seen: list[tuple[float, int]] = []
    observe = module.observe_rate_limits

    def stamped(provider: str, model: str, status: int, headers: Any) -> None:
        seen.append((clock.now, status))  # an HTTP exchange takes no fake time
        observe(provider, model, status, headers)


    monkeypatch.setattr(module, "observe_rate_limits", stamped)
    settings = MockSettings(rpm_limit=30, rate_limit_headers=PER_DAY)
    with MockGroqServer(settings, clock=clock) as server:
        monkeypatch.setenv("GROQ_BASE_URL", server.base_url)

        # One after another in one event loop, as a batch runs them: FakeClock
        # moves for everyone when anyone sleeps, so concurrent calls would let
        # the server stamp a request in flight with another call's wake-up time.
        async def calls() -> None:
            for i in range(120):
                result = await module.run_workflow({"text": f"call {i}"})
                assert result["nodes"]["llm"]["status"] == "ok"

        asyncio.run(calls())
        statuses = [r.status for r in server.chat_requests()]

    # The server's record, stamped with the fake time each answer came back.
    assert [status for _, status in seen] == statuses
    assert statuses.count(200) == 120
    start = seen[0][0]
    later = [(at, status) for at, status in seen if at >= start + 60]
    refused = sum(status == 429 for _, status in later)
    assert refused < 0.05 * len(later), later
    served = [at for at, status in later if status == 200]
    per_minute = (len(served) - 1) / (served[-1] - served[0]) * 60
    assert per_minute >= 0.9 * 30, per_minute
    # Never above the ceiling in any minute: the server refused what was over.
    assert per_minute <= 30.5
    assert module._LEARNED["groq", MODEL].requests_per_minute < 35


def test_the_providers_token_limit_replaces_the_tables(
    tmp_path: Path, groq_server: MockGroqServer, load_script: Loader
) -> None:
    module = load_script(build(tmp_path, workflow(groq_node("llm"))))
    assert module.CHAT_MODELS["groq"][MODEL]["tokens_per_minute"] == 250_000

    groq_server.update(rate_limit_headers={"x-ratelimit-limit-tokens": "240000"})
    run(module)
    # Within 10 %: the bucket is left as it is.
    assert module._LEARNED["groq", MODEL].tokens_per_minute == 250_000

    groq_server.update(rate_limit_headers={"x-ratelimit-limit-tokens": "6000"})
    run(module)
    assert module._LEARNED["groq", MODEL].tokens_per_minute == 6000
    # A new event loop starts from what was learned.
    run(module)
    assert module._LEARNED["groq", MODEL].tokens_per_minute == 6000


def test_rpm_and_tpm_given_on_the_command_line_are_never_adapted(
    tmp_path: Path, groq_server: MockGroqServer, load_script: Loader, clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module = on_clock(load_script(build(tmp_path, workflow(groq_node("llm", retries=0)))),
                      clock, monkeypatch)
    module.RATE_LIMITS.update(requests_per_minute=600, tokens_per_minute=9000)
    groq_server.update(rate_limit_every=2, retry_after_ms=10,
                       rate_limit_headers={"x-ratelimit-limit-tokens": "6000"})

    for _ in range(3):
        run(module)

    assert 429 in [r.status for r in groq_server.chat_requests()]
    limiter = module._LEARNED["groq", MODEL]
    assert (limiter.requests_per_minute, limiter.tokens_per_minute) == (600, 9000)
    assert limiter.requests.per_minute == 600


def test_clean_traffic_raises_the_rate_again_but_never_past_the_ceiling(
    tmp_path: Path, load_script: Loader, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = on_clock(load_script(build(tmp_path, workflow(groq_node("llm")))),
                      clock, monkeypatch)
    observe = module.observe_rate_limits

    async def scenario() -> list[float]:
        limiter = module.rate_limiter("groq", MODEL, {"requests_per_minute": 60})
        rates = [limiter.requests_per_minute]

        async def succeed(times: int) -> None:
            for _ in range(times):
                await limiter.acquire(1)  # paced on the fake clock
                observe("groq", MODEL, 200, {})

        await succeed(30)
        observe("groq", MODEL, 429, {"retry-after": "45"})  # the window is full of ours
        rates.append(limiter.requests_per_minute)      # 0.9 x the 30 that got through
        observe("groq", MODEL, 429, {"retry-after": "45"})
        rates.append(limiter.requests_per_minute)      # the same pause: one cut only
        await succeed(30)                              # a clean minute: +5 %, at least 1
        rates.append(limiter.requests_per_minute)
        await succeed(60 * 30)                         # a clean hour: back to the ceiling
        rates.append(limiter.requests_per_minute)
        rates.append(limiter.requests.per_minute)
        return rates

    rates = asyncio.run(scenario())

    assert rates[:3] == [60, pytest.approx(27.0), pytest.approx(27.0)]
    assert 27.0 < rates[3] <= 27.0 * 1.05 ** 1.25  # 30 calls at 26 to 27 a minute
    assert rates[4:] == [60, 60]


def test_a_429_our_own_traffic_does_not_explain_cuts_the_rate_once_a_minute(
    tmp_path: Path, load_script: Loader, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One request in the last minute and a short wait: not the key's ceiling
    # (a blip, another client, the token budget). It must not become a 1-rpm
    # budget, nor may a stream of such blips collapse the rate.
    module = on_clock(load_script(build(tmp_path, workflow(groq_node("llm")))),
                      clock, monkeypatch)

    async def scenario() -> list[float]:
        limiter = module.rate_limiter("groq", MODEL, {"requests_per_minute": 600})
        await limiter.acquire(1)
        module.observe_rate_limits("groq", MODEL, 200, {})
        rates = []
        for _ in range(3):
            clock.advance(5.0)
            module.observe_rate_limits("groq", MODEL, 429, {"retry-after-ms": "5"})
            rates.append(float(limiter.requests_per_minute))
        return rates

    assert asyncio.run(scenario()) == [pytest.approx(540.0)] * 3
