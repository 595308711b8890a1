"""Writes the fuzzers' seed corpora (fuzz/corpus/<target>/), committed to the
repository; rerun only to change them. Two environments, because no single
venv of the project has both torch and the API's protobuf modules:

    $PY fuzz/make_seeds.py checkpoint          # the main venv (torch)
    $PYCLIENT_PY fuzz/make_seeds.py images     # the Python client's venv
"""
import io
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def tiled_tiff(w, h, tw, th, bits):
    """A little-endian, uncompressed, grey tiled TIFF (Pillow writes strips only)."""
    across, down = -(-w // tw), -(-h // th)
    pieces, piece = across * down, tw * th * bits // 8
    n, data_at = 10, 8 + 2 + 12 * 10 + 4
    offsets_at = data_at + pieces * piece
    counts_at = offsets_at + 4 * pieces
    entries = [(256, 4, 1, w), (257, 4, 1, h), (258, 3, 1, bits), (259, 3, 1, 1), (262, 3, 1, 1),
               (277, 3, 1, 1), (322, 4, 1, tw), (323, 4, 1, th), (324, 4, pieces, offsets_at),
               (325, 4, pieces, counts_at)]
    out = b"II*\0" + struct.pack("<IH", 8, n)
    for tag, typ, count, value in entries:
        out += struct.pack("<HHI", tag, typ, count) + (struct.pack("<HH", value, 0) if typ == 3 else struct.pack("<I", value))
    out += struct.pack("<I", 0) + bytes(range(256)) * (pieces * piece // 256 + 1)
    out = out[:offsets_at]
    out += b"".join(struct.pack("<I", data_at + i * piece) for i in range(pieces))
    out += b"".join(struct.pack("<I", piece) for _ in range(pieces))
    return out


def images():
    import numpy as np
    from PIL import Image
    from ctrlfuse.v1 import fusion_pb2 as pb

    rng = np.random.default_rng(0)
    grey = rng.integers(0, 256, (12, 16), dtype=np.uint8)
    colour = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
    encoded = {}
    for name, arr in (("grey", grey), ("colour", colour)):
        for fmt in ("PNG", "JPEG", "TIFF", "BMP"):
            buf = io.BytesIO()
            Image.fromarray(arr).save(buf, fmt)
            encoded[f"{name}.{fmt.lower()}"] = buf.getvalue()
    buf = io.BytesIO()
    Image.fromarray((grey.astype(np.uint16) * 257)).save(buf, "PNG")
    encoded["grey16.png"] = buf.getvalue()
    encoded["tiled16.tiff"] = tiled_tiff(20, 12, 16, 16, 16)
    for name, data in encoded.items():
        write("image_decode", name, data)

    def request(prompt_setter):
        r = pb.FuseRequest(id="seed")
        r.infrared.encoded = encoded["grey.png"]
        r.visible.encoded = encoded["colour.jpeg"]
        prompt_setter(r.prompt)
        r.options.metrics.extend(["EN", "all"])
        r.options.return_masks.append(pb.MASK_KIND_FUSED)
        return r.SerializeToString()

    mask = io.BytesIO()
    Image.fromarray((grey > 128).astype(np.uint8) * 255).save(mask, "PNG")
    write("request", "mask", request(lambda p: setattr(p.mask, "encoded", mask.getvalue())))
    write("request", "rle", request(lambda p: (setattr(p.rle_mask, "width", 16), setattr(p.rle_mask, "height", 12),
                                               p.rle_mask.counts.extend([100, 50, 42]))))
    write("request", "boxes", request(lambda p: p.boxes.boxes.add(x0=1, y0=1, x1=8, y1=9)))
    write("request", "points", request(lambda p: p.points.points.add(x=3, y=4, foreground=True)))
    write("request", "text", request(lambda p: setattr(p.text, "text", "person . car .")))
    raw = pb.FuseRequest(id="raw")
    raw.infrared.raw.width, raw.infrared.raw.height, raw.infrared.raw.channels, raw.infrared.raw.bit_depth = 4, 3, 1, 16
    raw.infrared.raw.pixels = bytes(24)
    raw.visible.raw.width, raw.visible.raw.height, raw.visible.raw.channels, raw.visible.raw.bit_depth = 4, 3, 3, 8
    raw.visible.raw.pixels = bytes(36)
    raw.prompt.none.SetInParent()
    write("request", "raw", raw.SerializeToString())
    # RLE: width, height, then little-endian 16-bit counts.
    write("rle", "full", bytes([15, 11]) + struct.pack("<HHH", 100, 50, 42))
    write("rle", "empty", bytes([3, 3]) + struct.pack("<H", 16))
    write("rle", "short", bytes([7, 7]) + struct.pack("<HH", 1, 1))


def checkpoint():
    import collections
    import torch

    torch.manual_seed(0)
    for name, obj in (
        ("state_dict.pth", torch.nn.Linear(3, 2).state_dict()),
        ("wrapped.pth", {"model": collections.OrderedDict(w=torch.arange(6, dtype=torch.float16).view(2, 3)),
                         "epoch": 3, "lr": 1e-4, "names": ["a", "b"], "flag": True, "none": None}),
        ("int_tensors.pth", {"i": torch.arange(4, dtype=torch.int64), "b": torch.tensor([True, False]),
                             "u": torch.arange(3, dtype=torch.uint8), "view": torch.arange(8.0)[2:5]}),
    ):
        buf = io.BytesIO()
        torch.save(obj, buf)
        write("checkpoint", name, buf.getvalue())


if __name__ == "__main__":
    {"images": images, "checkpoint": checkpoint}[sys.argv[1]]()
