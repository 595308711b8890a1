#!/usr/bin/env python3
"""Runs Meta's official Segment Anything (the `segment-anything` package from
PyPI) on random weights and writes what the C++ parity tests compare with.

usage: sam_reference.py OUT.pth CASE KEY=VALUE...

KEY=VALUE give the SAM configuration (the C++ test passes its own SamConfig,
so both sides build the same sizes): img_size patch embed_dim depth heads
window global (comma list) out_chans mask_in_chans decoder_depth
decoder_heads decoder_mlp_dim iou_head_depth iou_head_hidden.

CASE:
  modules    image encoder, prompt encoder and mask decoder on tensors
  encoder    the image encoder alone (for the full-size vit_b check)
  predictor  SamPredictor end to end on uint8 images with box and point
             prompts, return_logits=True

OUT.pth is one torch.save dict: 'state.<name>' the official state_dict (loaded
by name on the C++ side), 'in.<name>' the inputs, 'out.<name>' the outputs.
"""
import sys
import numpy as np
import torch
from segment_anything.predictor import SamPredictor

from official_sam import build_sam

out_path, case = sys.argv[1], sys.argv[2]
cfg = dict(a.split("=", 1) for a in sys.argv[3:])
num = lambda k: int(cfg[k])
torch.manual_seed(20261201)

grid = num("img_size") // num("patch")
sam = build_sam(cfg)

result = {f"state.{k}": v.contiguous() for k, v in sam.state_dict().items()}
S = num("img_size")

with torch.no_grad():
    if case in ("modules", "encoder"):
        x = torch.randn(1, 3, S, S)
        result["in.image"] = x
        emb = sam.image_encoder(x)
        result["out.embedding"] = emb
    if case == "modules":
        pe = sam.prompt_encoder
        # Points with labels 1, 0 and -1 (padding), boxes, and a mask input.
        points = torch.rand(2, 3, 2) * S
        labels = torch.tensor([[1, 0, 1], [1, -1, 0]])
        boxes = torch.tensor([[3.0, 5.0, S * 0.6, S * 0.8], [S * 0.2, S * 0.1, S * 0.9, S * 0.5]])
        masks = torch.randn(2, 1, 4 * grid, 4 * grid)
        result.update({"in.points": points, "in.labels": labels, "in.boxes": boxes, "in.masks": masks})
        for tag, kwargs in {"points": dict(points=(points, labels), boxes=None, masks=None),
                            "boxes": dict(points=None, boxes=boxes, masks=None),
                            "all": dict(points=(points, labels), boxes=boxes, masks=masks)}.items():
            sparse, dense = pe(**kwargs)
            result[f"out.sparse_{tag}"] = sparse
            result[f"out.dense_{tag}"] = dense
        result["out.dense_pe"] = pe.get_dense_pe()
        # The mask decoder: one image embedding, two prompts (the official
        # decoder repeats the embedding per prompt).
        sparse, dense = pe(points=(points, labels), boxes=boxes, masks=None)
        for multi in (False, True):
            m, iou = sam.mask_decoder(image_embeddings=emb, image_pe=pe.get_dense_pe(),
                                      sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense,
                                      multimask_output=multi)
            result[f"out.masks_multi{int(multi)}"] = m
            result[f"out.iou_multi{int(multi)}"] = iou
    if case == "predictor":
        rng = np.random.default_rng(7)
        predictor = SamPredictor(sam)
        # Two images: one SAM must resize (PIL, bicubic), one already at the
        # input side on its long edge (no resize); smooth content, as images are.
        for tag, (h, w) in {"resized": (S * 3 // 4 - 5, S // 2 + 3), "native": (S * 3 // 4, S)}.items():
            base = rng.random((h // 4 + 1, w // 4 + 1, 3))
            img = np.kron(base, np.ones((4, 4, 1)))[:h, :w] * 200 + rng.random((h, w, 3)) * 55
            img = img.astype(np.uint8)
            predictor.set_image(img)  # RGB, HWC
            box = np.array([w * 0.2, h * 0.15, w * 0.7, h * 0.9], dtype=np.float32)
            pts = np.array([[w * 0.5, h * 0.5], [w * 0.1, h * 0.8]], dtype=np.float32)
            lbl = np.array([1, 0])
            result[f"in.{tag}_image"] = torch.from_numpy(img.copy())
            result[f"in.{tag}_box"] = torch.from_numpy(box)
            result[f"in.{tag}_points"] = torch.from_numpy(pts)
            result[f"in.{tag}_labels"] = torch.from_numpy(lbl)
            for kind, kw in {"box": dict(box=box), "points": dict(point_coords=pts, point_labels=lbl),
                             "both": dict(box=box, point_coords=pts, point_labels=lbl)}.items():
                logits, _, _ = predictor.predict(multimask_output=False, return_logits=True, **kw)
                result[f"out.{tag}_{kind}"] = torch.from_numpy(logits.copy())
            # What SamPredictor fed the encoder (Pillow's resize, through torchvision).
            result[f"out.{tag}_resized"] = torch.from_numpy(predictor.transform.apply_image(img).copy())

torch.save(result, out_path)
print("wrote", out_path, len(result), "entries")
