"""Running the service: uvicorn with a graceful drain on SIGTERM and one JSON log line per request.

On SIGTERM (or Ctrl-C) the service first marks itself draining, so new requests get 503 and
``/ready`` says so, then uvicorn stops listening and waits up to ``drain_seconds`` for the requests
in flight, which are answered; then the process exits 0.
"""

from __future__ import annotations

import logging
import math
import sys
from types import FrameType

import uvicorn
from fastapi import FastAPI

from qa4re.integrations.service import ServiceState


class DrainingServer(uvicorn.Server):
    """A uvicorn server that marks the service draining before it stops."""

    def __init__(self, config: uvicorn.Config, state: ServiceState) -> None:
        super().__init__(config)
        self.service_state = state

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.service_state.drain()
        super().handle_exit(sig, frame)
        self._captured_signals.clear()  # a drained service exits 0 (uvicorn would re-raise the signal once it has stopped)


def json_log_handler() -> logging.Handler:
    """The request log: each record is already one JSON line, written to stderr as it is."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    return handler


def serve(app: FastAPI, state: ServiceState, *, host: str, port: int, drain_seconds: float) -> None:
    """Serve ``app`` until SIGTERM or SIGINT, then drain (see the module docstring)."""
    logger = logging.getLogger("qa4re.service")
    logger.setLevel(logging.INFO)
    logger.addHandler(json_log_handler())
    logger.propagate = False
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False, timeout_graceful_shutdown=math.ceil(drain_seconds))
    DrainingServer(config, state).run()
