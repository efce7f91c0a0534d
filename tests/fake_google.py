"""Tiny stand-ins for Google's servers at the network edge: the real clients talk to them.

`RefusingGrpcServer` answers every gRPC method with one error status (with an
`ErrorInfo` detail, as Google's APIs attach); `closed_port` is an address where
nothing listens.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from typing import Any

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (it was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


class _Refuse(grpc.GenericRpcHandler):
    def __init__(self, status: status_pb2.Status) -> None:
        self._status = rpc_status.to_status(status)
        self.calls: list[str] = []

    def service(self, handler_call_details: Any) -> grpc.RpcMethodHandler:
        self.calls.append(handler_call_details.method)

        def refuse(_requests: Any, context: grpc.ServicerContext) -> Any:
            context.abort_with_status(self._status)

        return grpc.stream_stream_rpc_method_handler(refuse)


@contextmanager
def refusing_grpc_server(
    code: grpc.StatusCode, message: str, *, reason: str | None = None, **metadata: str
) -> Iterator[tuple[str, list[str]]]:
    """A gRPC server on 127.0.0.1 refusing every call; yields its address and the methods called."""
    status = status_pb2.Status(code=getattr(code_pb2, code.name), message=message)
    if reason is not None:
        detail = any_pb2.Any()
        detail.Pack(
            error_details_pb2.ErrorInfo(reason=reason, domain="googleapis.com", metadata=metadata)
        )
        status.details.append(detail)
    handler = _Refuse(status)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}", handler.calls
    finally:
        server.stop(grace=None)
