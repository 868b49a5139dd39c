"""Server interceptors: a bearer-token check and one structured log line per call."""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Callable
from typing import Any

import grpc

log = logging.getLogger("routeplanner.server.calls")

#: Methods anyone may call without a token (load balancers probe health).
PUBLIC_PREFIXES = ("/grpc.health.v1.Health/",)


def _wrap(handler: grpc.RpcMethodHandler, wrapper: Callable[[Callable[..., Any], bool], Callable[..., Any]]
          ) -> grpc.RpcMethodHandler:
    if handler.unary_unary is not None:
        return grpc.unary_unary_rpc_method_handler(wrapper(handler.unary_unary, False),
                                                   handler.request_deserializer, handler.response_serializer)
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(wrapper(handler.unary_stream, True),
                                                    handler.request_deserializer, handler.response_serializer)
    if handler.stream_unary is not None:
        return grpc.stream_unary_rpc_method_handler(wrapper(handler.stream_unary, False),
                                                    handler.request_deserializer, handler.response_serializer)
    return grpc.stream_stream_rpc_method_handler(wrapper(handler.stream_stream, True),
                                                 handler.request_deserializer, handler.response_serializer)


class BearerTokenInterceptor(grpc.ServerInterceptor):
    """Refuses every call without ``authorization: Bearer <token>`` metadata with
    ``UNAUTHENTICATED`` (health checks excepted).

    Parameters
    ----------
    token
        The shared secret.
    """

    def __init__(self, token: str) -> None:
        self._expected = f"Bearer {token}".encode()

    def _authorised(self, metadata: Any) -> bool:
        for key, value in metadata or ():
            if key == "authorization":
                given = value.encode() if isinstance(value, str) else value
                return hmac.compare_digest(given, self._expected)
        return False

    def intercept_service(self, continuation: Callable[[Any], Any], handler_call_details: Any) -> Any:
        method = handler_call_details.method
        if method.startswith(PUBLIC_PREFIXES) or self._authorised(handler_call_details.invocation_metadata):
            return continuation(handler_call_details)
        handler = continuation(handler_call_details)
        if handler is None:
            return None

        def refuse(behaviour: Callable[..., Any], streaming: bool) -> Callable[..., Any]:
            def deny(request: Any, context: grpc.ServicerContext) -> Any:
                context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong bearer token")

            return deny

        return _wrap(handler, refuse)


class LoggingInterceptor(grpc.ServerInterceptor):
    """Logs every call as one structured record: method, status code, milliseconds, peer."""

    def intercept_service(self, continuation: Callable[[Any], Any], handler_call_details: Any) -> Any:
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method

        def timed(behaviour: Callable[..., Any], streaming: bool) -> Callable[..., Any]:
            def record(context: grpc.ServicerContext, start: float, failed: bool) -> None:
                code = context.code() if hasattr(context, "code") else None
                if code is None:
                    code = grpc.StatusCode.UNKNOWN if failed else grpc.StatusCode.OK
                level = logging.INFO if code == grpc.StatusCode.OK else logging.WARNING
                if log.isEnabledFor(level):
                    log.log(level, "call", extra={"fields": {
                        "method": method, "code": code.name, "ms": round((time.perf_counter() - start) * 1e3, 3),
                        "peer": context.peer()}})

            if streaming:
                def stream(request: Any, context: grpc.ServicerContext) -> Any:
                    start, failed = time.perf_counter(), True
                    try:
                        yield from behaviour(request, context)
                        failed = False
                    finally:
                        record(context, start, failed)
                return stream

            def unary(request: Any, context: grpc.ServicerContext) -> Any:
                start, failed = time.perf_counter(), True
                try:
                    response = behaviour(request, context)
                    failed = False
                    return response
                finally:
                    record(context, start, failed)
            return unary

        return _wrap(handler, timed)
