"""The ctrlfuse-serve client: numpy arrays (or image files) in, numpy arrays
out, over gRPC (ctrlfuse.v1.FusionService).

Thread-safety: a Client may be shared by threads (gRPC channels and stubs
are thread-safe). It owns its channel: close() it, or use it as a context
manager.
"""
import random
import threading
import time

import grpc
from google.protobuf import json_format
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ctrlfuse.v1 import fusion_pb2 as pb
from ctrlfuse.v1 import fusion_pb2_grpc as pb_grpc

from .errors import error_for, from_rpc_error
from .images import from_image, to_image

_MASK_KINDS = {"fused": pb.MASK_KIND_FUSED, "visible": pb.MASK_KIND_VISIBLE,
               "infrared": pb.MASK_KIND_INFRARED, "prompt": pb.MASK_KIND_PROMPT}
_MASK_NAMES = {v: k for k, v in _MASK_KINDS.items()}


class TLS:
    """Transport security: `ca` (PEM path or bytes) verifies the server;
    `cert` and `key` add a client certificate (mutual TLS)."""

    def __init__(self, ca, cert=None, key=None):
        self.ca, self.cert, self.key = ca, cert, key

    @staticmethod
    def _read(value):
        if value is None or isinstance(value, bytes):
            return value
        with open(value, "rb") as f:
            return f.read()

    def credentials(self):
        return grpc.ssl_channel_credentials(self._read(self.ca), self._read(self.key), self._read(self.cert))


class FuseResult:
    """One fused pair: `fused` ([H, W] grey or [H, W, 3] RGB uint8), `masks`
    ({"fused"|"visible"|"infrared"|"prompt": [H, W] uint8 0/255}), `metrics`
    ({name: value}), `timings` ({"queue_seconds": ..., "batch_size": ...}),
    `id`. In a stream, a frame that failed has `error` (a CtrlfuseError) and
    no images."""

    def __init__(self, response=None, error=None, id=""):
        self.error = error
        self.id = response.id if response is not None else id
        self.fused = from_image(response.fused) if response is not None else None
        self.masks = {_MASK_NAMES.get(m.kind, str(m.kind)): from_image(m.image) for m in response.masks} \
            if response is not None else {}
        self.metrics = dict(response.metrics) if response is not None else {}
        self.timings = json_format.MessageToDict(response.timings, preserving_proto_field_name=True) \
            if response is not None else {}

    def __repr__(self):
        if self.error is not None:
            return f"FuseResult(id={self.id!r}, error={self.error})"
        return f"FuseResult(id={self.id!r}, fused={self.fused.shape}, masks={sorted(self.masks)}, metrics={self.metrics})"


class Client:
    """A connection to ctrlfuse-serve.

    address: any gRPC target: "host:port", "dns:///name:port" (every address
      the name resolves to, e.g. a Kubernetes headless Service; calls are
      balanced round-robin), "ipv4:a:p,b:q".
    tls: a TLS object, or None for plaintext. token: sent as
      "authorization: Bearer TOKEN" with every call.
    deadline: seconds per call (per stream for fuse_stream); None: none.
    retries: extra attempts after UNAVAILABLE (queue full, a pod draining).
    wait_for_server: beyond `retries`, how long to keep retrying while the
      server says it is warming up (the large models take minutes).
    """

    def __init__(self, address="localhost:50051", tls=None, token=None, deadline=120.0, retries=3,
                 wait_for_server=600.0, backoff=0.1, max_backoff=2.0, load_balancing="round_robin",
                 max_message_bytes=64 << 20):
        if load_balancing not in ("round_robin", "pick_first"):
            raise ValueError(f"load_balancing: {load_balancing!r} is not round_robin or pick_first")
        options = [("grpc.lb_policy_name", load_balancing),
                   ("grpc.max_send_message_length", max_message_bytes),
                   ("grpc.max_receive_message_length", max_message_bytes)]
        self._channel = (grpc.secure_channel(address, tls.credentials(), options) if tls is not None
                         else grpc.insecure_channel(address, options))
        self._stub = pb_grpc.FusionServiceStub(self._channel)
        self._health = health_pb2_grpc.HealthStub(self._channel)
        self._metadata = [("authorization", f"Bearer {token}")] if token else None
        self.deadline, self.retries, self.wait_for_server = deadline, retries, wait_for_server
        self.backoff, self.max_backoff = backoff, max_backoff

    def close(self):
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- calls -----------------------------------------------------------

    def fuse(self, ir, vis, *, mask=None, boxes=None, points=None, text=None, colour=False, masks=(),
             metrics=(), ir_normalization=None, id=""):
        """Fuses one pair. `ir`, `vis`: arrays or image file paths. One prompt
        at most: `mask` (array or path, grey, same size), `boxes`
        ([(x0, y0, x1, y1), ...]), `points` ([(x, y, foreground), ...]) or
        `text`; none given = no prompt. `masks`: which masks to return
        ("fused", "visible", "infrared", "prompt"). `metrics`: quality
        metrics to compute server-side (names or "all"). Returns a FuseResult;
        raises a CtrlfuseError subclass."""
        request = self._request(ir, vis, mask, boxes, points, text, colour, masks, metrics, ir_normalization, id)
        response = self._call(lambda timeout: self._stub.Fuse(request, timeout=timeout, metadata=self._metadata))
        return FuseResult(response)

    def fuse_stream(self, pairs):
        """Fuses a sequence of pairs on one stream, yielding FuseResults in
        the same order. Each item is a dict of fuse()'s arguments (ir=, vis=,
        mask=, ...) or an (ir, vis) tuple. A frame the server refuses yields a
        FuseResult whose `error` is set; the stream goes on."""
        ids = []
        lock = threading.Lock()

        def requests():
            for i, item in enumerate(pairs):
                kw = dict(item) if isinstance(item, dict) else {"ir": item[0], "vis": item[1]}
                kw.setdefault("id", str(i))
                with lock:
                    ids.append(kw["id"])
                yield self._request(kw.pop("ir"), kw.pop("vis"), kw.pop("mask", None), kw.pop("boxes", None),
                                    kw.pop("points", None), kw.pop("text", None), kw.pop("colour", False),
                                    kw.pop("masks", ()), kw.pop("metrics", ()), kw.pop("ir_normalization", None),
                                    kw.pop("id"))

        try:
            for n, r in enumerate(self._stub.FuseStream(requests(), timeout=self.deadline, metadata=self._metadata)):
                if r.code == 0:
                    yield FuseResult(r.response)
                else:
                    with lock:
                        frame_id = r.response.id or (ids[n] if n < len(ids) else "")
                    yield FuseResult(error=error_for(grpc.StatusCode(_code(r.code)), r.message), id=frame_id)
        except grpc.RpcError as e:
            raise from_rpc_error(e) from None

    def info(self):
        """The server's model and limits (GetModelInfo) as a dict."""
        m = self._call(lambda timeout: self._stub.GetModelInfo(pb.GetModelInfoRequest(), timeout=timeout,
                                                               metadata=self._metadata))
        return json_format.MessageToDict(m, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)

    def health(self, service=""):
        """grpc.health.v1 status: "SERVING", "NOT_SERVING", ... (never retried)."""
        try:
            r = self._health.Check(health_pb2.HealthCheckRequest(service=service), timeout=self.deadline)
        except grpc.RpcError as e:
            raise from_rpc_error(e) from None
        return health_pb2.HealthCheckResponse.ServingStatus.Name(r.status)

    # -- helpers ---------------------------------------------------------

    def _call(self, fn):
        """Runs fn(timeout), retrying UNAVAILABLE like the C++ client: up to
        `retries` times, and beyond that while the server says it is warming
        up and `wait_for_server` seconds have not passed."""
        start, backoff, attempt = time.monotonic(), self.backoff, 0
        while True:
            try:
                return fn(self.deadline)
            except grpc.RpcError as e:
                if e.code() != grpc.StatusCode.UNAVAILABLE:
                    raise from_rpc_error(e) from None
                pause = min(backoff, self.max_backoff) * random.uniform(0.5, 1.5)
                warming = "warming up" in (e.details() or "")
                waited = time.monotonic() - start
                if attempt >= self.retries and not (warming and waited + pause <= self.wait_for_server):
                    raise from_rpc_error(e) from None
                time.sleep(pause)
                backoff *= 2
                attempt += 1

    @staticmethod
    def _request(ir, vis, mask, boxes, points, text, colour, masks, metrics, ir_normalization, id):
        given = [k for k, v in (("mask", mask), ("boxes", boxes), ("points", points), ("text", text)) if v is not None]
        if len(given) > 1:
            raise ValueError(f"one prompt at most, got {', '.join(given)}")
        r = pb.FuseRequest(id=id)
        r.infrared.CopyFrom(to_image(ir, "ir"))
        r.visible.CopyFrom(to_image(vis, "vis"))
        if mask is not None:
            r.prompt.mask.CopyFrom(to_image(mask, "mask"))
        elif boxes is not None:
            for x0, y0, x1, y1 in boxes:
                r.prompt.boxes.boxes.add(x0=x0, y0=y0, x1=x1, y1=y1)
        elif points is not None:
            for x, y, fg in points:
                r.prompt.points.points.add(x=x, y=y, foreground=bool(fg))
        elif text is not None:
            r.prompt.text.text = text
        else:
            r.prompt.none.SetInParent()
        o = r.options
        o.color = pb.COLOR_MODE_COLOR if colour else pb.COLOR_MODE_GREY
        o.encoding = pb.OUTPUT_ENCODING_RAW  # exact pixels, no decode on this side
        for m in masks:
            if m not in _MASK_KINDS:
                raise ValueError(f"masks: {m!r} is not one of {sorted(_MASK_KINDS)}")
            o.return_masks.append(_MASK_KINDS[m])
        o.metrics.extend(metrics)
        if ir_normalization:
            o.ir_normalization = ir_normalization
        return r


def _code(value):
    """grpc.StatusCode's value tuple for an integer code."""
    for c in grpc.StatusCode:
        if c.value[0] == value:
            return c.value
    return grpc.StatusCode.UNKNOWN.value
