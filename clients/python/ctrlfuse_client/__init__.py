"""ctrlfuse-serve's Python client.

    from ctrlfuse_client import Client
    with Client("localhost:50051") as c:
        r = c.fuse("ir.png", "vis.png", mask="mask.png", masks=["fused"], metrics=["Qabf"])
        r.fused, r.masks["fused"], r.metrics["Qabf"]
"""
from .client import TLS, Client, FuseResult
from .errors import (CtrlfuseError, DeadlineExceeded, InvalidArgument, ResourceExhausted, Unavailable,
                     Unimplemented)

__all__ = ["Client", "TLS", "FuseResult", "CtrlfuseError", "InvalidArgument", "Unavailable", "DeadlineExceeded",
           "Unimplemented", "ResourceExhausted"]
