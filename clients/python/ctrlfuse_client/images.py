"""numpy arrays and image files <-> the API's Image messages. Arrays are
[H, W] (grey) or [H, W, 3] (RGB, as PIL and most Python code hold them),
uint8 or uint16; they travel as raw pixels (BGR on the wire, the API's
order). File paths travel as their encoded bytes (PNG, JPEG, TIFF, BMP)."""
import io
import os

import numpy as np
from PIL import Image as PILImage

from ctrlfuse.v1 import fusion_pb2 as pb


def to_image(value, what):
    """An Image message from an array, a path or encoded bytes."""
    msg = pb.Image()
    if isinstance(value, (str, os.PathLike)):
        with open(value, "rb") as f:
            msg.encoded = f.read()
        return msg
    if isinstance(value, (bytes, bytearray)):
        msg.encoded = bytes(value)
        return msg
    a = np.asarray(value)
    if a.dtype not in (np.uint8, np.uint16):
        raise TypeError(f"{what}: uint8 or uint16 array expected, got {a.dtype}")
    if a.ndim == 3 and a.shape[2] == 3:
        a = a[:, :, ::-1]  # RGB -> BGR
    elif a.ndim != 2:
        raise ValueError(f"{what}: [H, W] or [H, W, 3] expected, got shape {a.shape}")
    a = np.ascontiguousarray(a)
    msg.raw.height, msg.raw.width = a.shape[:2]
    msg.raw.channels = 1 if a.ndim == 2 else 3
    msg.raw.bit_depth = 8 if a.dtype == np.uint8 else 16
    msg.raw.pixels = a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
    return msg


def from_image(msg):
    """A numpy array ([H, W] or [H, W, 3] RGB) from an Image message."""
    if msg.WhichOneof("data") == "raw":
        r = msg.raw
        dtype = np.dtype("<u2") if r.bit_depth == 16 else np.uint8
        a = np.frombuffer(r.pixels, dtype=dtype)
        a = a.reshape((r.height, r.width) if r.channels == 1 else (r.height, r.width, r.channels))
        return a[:, :, ::-1].copy() if r.channels == 3 else a.copy()
    im = PILImage.open(io.BytesIO(msg.encoded))
    return np.asarray(im.convert("RGB") if im.mode not in ("L", "I;16") else im)
