"""Typed errors: every failed call raises a CtrlfuseError subclass carrying
the gRPC status code, the server's message and, when the message names one,
the request field it is about (the server writes "field: what is wrong")."""
import re

import grpc

_FIELD = re.compile(r"^([a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)*(?:\[\d+\])*): ")


class CtrlfuseError(Exception):
    """A call to ctrlfuse-serve failed. `code` is the grpc.StatusCode,
    `message` the server's text, `field` the request field it names (or None)."""

    def __init__(self, code, message):
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message
        m = _FIELD.match(message or "")
        self.field = m.group(1) if m else None


class InvalidArgument(CtrlfuseError):
    """The request is malformed (INVALID_ARGUMENT); `field` says which part."""


class Unavailable(CtrlfuseError):
    """Queue full, warming up, draining or unreachable (UNAVAILABLE), after the retries."""


class DeadlineExceeded(CtrlfuseError):
    """The call's deadline passed (DEADLINE_EXCEEDED)."""


class Unimplemented(CtrlfuseError):
    """The server does not serve this (UNIMPLEMENTED), e.g. text prompts without Grounded-SAM."""


class ResourceExhausted(CtrlfuseError):
    """Too large or too much at once (RESOURCE_EXHAUSTED)."""


_BY_CODE = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceeded,
    grpc.StatusCode.UNIMPLEMENTED: Unimplemented,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhausted,
}


def error_for(code, message):
    """The CtrlfuseError subclass for a status code."""
    return _BY_CODE.get(code, CtrlfuseError)(code, message)


def from_rpc_error(e):
    return error_for(e.code(), e.details() or "")
