"""The service's bounds, declared once (the ``qa4re serve`` options are built from these fields); no web framework needed to read them."""

from __future__ import annotations

from dataclasses import dataclass

from qa4re.fields import setting, validate


@dataclass(frozen=True)
class ServiceLimits:
    """Bounds on requests and on the wait."""

    max_body_bytes: int = setting(64 * 1024, "Largest request body accepted (413 above).", minimum=1)
    max_mentions: int = setting(20, "Most given mentions in one document of a request (422 above).", minimum=1)
    max_batch_requests: int = setting(32, "Waiting documents handled together in one pass of the worker.", minimum=1)
    max_documents: int = setting(32, 'Most documents in one batch body {"documents": [...]} (422 above).', minimum=1)
    max_pending: int = setting(256, "Most documents waiting or running at once; beyond it, 429 with Retry-After.", minimum=1)
    request_timeout: float = setting(120.0, "Seconds a request may take; then 504 and its waiting work is dropped.", minimum=0.001)

    def __post_init__(self) -> None:
        validate(self)
