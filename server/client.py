"""Client-side helpers: channels with the server's message limits, TLS and bearer tokens."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import grpc

#: Largest message a client accepts (the server's default limit).
MAX_MESSAGE_BYTES = 16 * 1024 * 1024


class _BearerToken(grpc.AuthMetadataPlugin):
    def __init__(self, token: str) -> None:
        self._metadata = (("authorization", f"Bearer {token}"),)

    def __call__(self, context: Any, callback: Any) -> None:
        callback(self._metadata, None)


def connect(address: str, *, ca_cert: str | Path | None = None, token: str | None = None,
            max_message_bytes: int = MAX_MESSAGE_BYTES) -> grpc.Channel:
    """A channel to a routeplanner server.

    Parameters
    ----------
    address
        ``host:port``.
    ca_cert
        PEM root certificate: connect with TLS (a token is then sent with every call).
    token
        Bearer token; without TLS it is not attached here (pass it as call metadata:
        ``[("authorization", f"Bearer {token}")]``), since gRPC refuses call credentials on
        plain channels.
    max_message_bytes
        Largest message sent or received.
    """
    options = [("grpc.max_receive_message_length", max_message_bytes),
               ("grpc.max_send_message_length", max_message_bytes)]
    if ca_cert is None:
        return grpc.insecure_channel(address, options=options)
    credentials = grpc.ssl_channel_credentials(root_certificates=Path(ca_cert).read_bytes())
    if token:
        credentials = grpc.composite_channel_credentials(credentials,
                                                         grpc.metadata_call_credentials(_BearerToken(token)))
    return grpc.secure_channel(address, credentials, options=options)
