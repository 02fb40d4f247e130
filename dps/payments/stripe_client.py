"""A small Stripe API client on httpx (no Stripe SDK).

- form encoding of nested parameters (``metadata[k]=v``, ``items[0][price]=...``);
- a pinned Stripe-Version header and the secret key as a bearer token;
- an Idempotency-Key on every POST, derived by the caller from our own entity (e.g. ``milestone-12-payment``);
- retries with exponential backoff and full jitter on connection errors, 429 and 5xx, honouring Retry-After and
  Stripe-Should-Retry; never on other 4xx (card and validation errors);
- typed errors for each class; the sleep between retries is injectable so tests never sleep.

localstripe ignores Idempotency-Key, so the callers (``dps.payments.services``) also store the Stripe object id
against our key and look it up before creating again.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

import httpx

STRIPE_VERSION = "2024-06-20"
RETRYABLE_STATUS = frozenset({409, 429, 500, 502, 503, 504})

Sleep = Callable[[float], Awaitable[None]]


class StripeError(Exception):
    """Base class: ``status`` is the HTTP status (None when no response came), ``code`` Stripe's error code."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None,
                 error_type: str | None = None, request_id: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.error_type = error_type
        self.request_id = request_id


class StripeConnectionError(StripeError):
    """Stripe could not be reached (after the retries)."""


class StripeRateLimitError(StripeError):
    """429 after the retries."""


class StripeServerError(StripeError):
    """5xx after the retries."""


class StripeInvalidRequestError(StripeError):
    """400/404: a validation error in what we sent; retrying cannot help."""


class StripeAuthenticationError(StripeError):
    """401/403: the key is wrong or lacks permission."""


class StripeCardError(StripeError):
    """402: the card was declined."""


class StripeIdempotencyError(StripeError):
    """The idempotency key was reused with different parameters."""


def encode_form(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Stripe's form encoding: nested dicts as ``a[b]``, lists as ``a[0]``, booleans as true/false."""
    pairs: list[tuple[str, str]] = []

    def walk(prefix: str, value: Any) -> None:
        if value is None:
            return
        if isinstance(value, Mapping):
            for key, inner in value.items():
                walk(f"{prefix}[{key}]" if prefix else str(key), inner)
        elif isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
            for index, inner in enumerate(value):
                walk(f"{prefix}[{index}]", inner)
        elif isinstance(value, bool):
            pairs.append((prefix, "true" if value else "false"))
        else:
            pairs.append((prefix, str(value)))

    walk("", params)
    return pairs


def backoff_delay(attempt: int, *, base: float, cap: float, rng: random.Random) -> float:
    """Full jitter: uniform in [0, min(cap, base * 2**attempt)] (attempt counts from 0)."""
    return rng.uniform(0, min(cap, base * 2 ** attempt))


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        return None


def _error_for(response: httpx.Response) -> StripeError:
    try:
        body = response.json().get("error") or {}
    except ValueError:
        body = {}
    message = str(body.get("message") or f"Stripe answered {response.status_code}")
    kwargs: dict[str, Any] = {"status": response.status_code, "code": body.get("code"),
                              "error_type": body.get("type"), "request_id": response.headers.get("Request-Id")}
    status = response.status_code
    if body.get("type") == "idempotency_error":
        return StripeIdempotencyError(message, **kwargs)
    if status == 402 or body.get("type") == "card_error":
        return StripeCardError(message, **kwargs)
    if status in (401, 403):
        return StripeAuthenticationError(message, **kwargs)
    if status == 429:
        return StripeRateLimitError(message, **kwargs)
    if status >= 500:
        return StripeServerError(message, **kwargs)
    return StripeInvalidRequestError(message, **kwargs)


class StripeClient:
    def __init__(self, *, api_base: str, secret_key: str, timeout: float = 20.0, max_retries: int = 3,
                 backoff_base: float = 0.5, backoff_cap: float = 8.0, sleep: Sleep = asyncio.sleep,
                 rng: random.Random | None = None, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._http = httpx.AsyncClient(
            base_url=api_base.rstrip("/"),
            headers={"Authorization": f"Bearer {secret_key}", "Stripe-Version": STRIPE_VERSION,
                     "User-Agent": "nhs-innovation-dps/1"},
            timeout=httpx.Timeout(timeout, connect=5.0),
            transport=transport,
        )
        self._max_retries = max_retries
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._sleep = sleep
        self._rng = rng or random.Random()

    async def __aenter__(self) -> StripeClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def request(self, method: str, path: str, params: Mapping[str, Any] | None = None, *,
                      idempotency_key: str | None = None) -> dict[str, Any]:
        method = method.upper()
        headers: dict[str, str] = {}
        if method == "POST":
            if not idempotency_key:
                raise ValueError("every POST to Stripe needs an idempotency key derived from our own entity")
            headers["Idempotency-Key"] = idempotency_key
        form = encode_form(params or {})
        attempt = 0
        while True:
            try:
                if method == "GET":
                    response = await self._http.request(method, path, params=tuple(form), headers=headers)
                else:
                    response = await self._http.request(
                        method, path, content=urlencode(form).encode(),
                        headers={**headers, "Content-Type": "application/x-www-form-urlencoded"})
            except httpx.TransportError as error:
                if attempt >= self._max_retries:
                    raise StripeConnectionError(f"Stripe unreachable: {error}") from error
                await self._sleep(backoff_delay(attempt, base=self._backoff_base, cap=self._backoff_cap,
                                                rng=self._rng))
                attempt += 1
                continue
            if response.status_code < 400:
                return response.json()
            if attempt < self._max_retries and self._should_retry(response):
                delay = _retry_after(response)
                if delay is None:
                    delay = backoff_delay(attempt, base=self._backoff_base, cap=self._backoff_cap, rng=self._rng)
                await self._sleep(min(delay, 60.0))
                attempt += 1
                continue
            raise _error_for(response)

    @staticmethod
    def _should_retry(response: httpx.Response) -> bool:
        explicit = response.headers.get("Stripe-Should-Retry")
        if explicit == "true":
            return True
        if explicit == "false":
            return False
        return response.status_code in RETRYABLE_STATUS

    # --- the resources we use -------------------------------------------------------------------------------

    async def create_customer(self, *, name: str, metadata: Mapping[str, str], idempotency_key: str,
                              email: str | None = None) -> dict[str, Any]:
        return await self.request("POST", "/v1/customers", {"name": name, "email": email, "metadata": metadata},
                                  idempotency_key=idempotency_key)

    async def retrieve_customer(self, customer_id: str) -> dict[str, Any]:
        return await self.request("GET", f"/v1/customers/{customer_id}")

    async def create_payment_intent(self, *, amount: int, currency: str, customer: str,
                                    metadata: Mapping[str, str], idempotency_key: str,
                                    payment_method_types: Sequence[str] = ("card",)) -> dict[str, Any]:
        return await self.request("POST", "/v1/payment_intents", {
            "amount": amount, "currency": currency, "customer": customer, "metadata": metadata,
            "payment_method_types": list(payment_method_types),
        }, idempotency_key=idempotency_key)

    async def retrieve_payment_intent(self, intent_id: str) -> dict[str, Any]:
        return await self.request("GET", f"/v1/payment_intents/{intent_id}")

    async def confirm_payment_intent(self, intent_id: str, *, idempotency_key: str,
                                     payment_method: str | None = None) -> dict[str, Any]:
        return await self.request("POST", f"/v1/payment_intents/{intent_id}/confirm",
                                  {"payment_method": payment_method}, idempotency_key=idempotency_key)

    async def create_refund(self, *, payment_intent: str, idempotency_key: str,
                            metadata: Mapping[str, str] | None = None) -> dict[str, Any]:
        return await self.request("POST", "/v1/refunds", {"payment_intent": payment_intent, "metadata": metadata},
                                  idempotency_key=idempotency_key)

    async def find_payment_intent(self, *, customer: str, metadata_key: str,
                                  metadata_value: str) -> dict[str, Any] | None:
        """A payment intent of this customer carrying our metadata: one created by an earlier attempt whose response
        was lost. Stripe dedupes by Idempotency-Key for 24 hours; this lookup covers fakes that do not (localstripe)
        and later retries. localstripe cannot filter the list by customer, so that case filters here."""
        try:
            intents = (await self.request("GET", "/v1/payment_intents", {"customer": customer, "limit": 100}))["data"]
        except StripeInvalidRequestError:
            intents = (await self.request("GET", "/v1/payment_intents", {"limit": 100}))["data"]
        for intent in intents:
            metadata = intent.get("metadata") or {}
            if intent.get("customer") == customer and metadata.get(metadata_key) == metadata_value:
                return dict(intent)
        return None
