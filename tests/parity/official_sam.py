"""Builds Meta's official Segment Anything (the `segment-anything` package
from PyPI) at the sizes a C++ SamConfig gives, on random weights: shared by
the parity references (sam_reference.py, ctrlfuse_reference.py).

cfg: a dict of strings from KEY=VALUE arguments: img_size patch embed_dim
depth heads window global (comma list) out_chans mask_in_chans decoder_depth
decoder_heads decoder_mlp_dim iou_head_depth iou_head_hidden.
"""
from functools import partial

import torch
from segment_anything.modeling import (ImageEncoderViT, MaskDecoder, PromptEncoder, Sam, TwoWayTransformer)


def build_sam(cfg):
    num = lambda k: int(cfg[k])
    grid = num("img_size") // num("patch")
    sam = Sam(
        image_encoder=ImageEncoderViT(
            depth=num("depth"), embed_dim=num("embed_dim"), img_size=num("img_size"), mlp_ratio=4,
            norm_layer=partial(torch.nn.LayerNorm, eps=1e-6), num_heads=num("heads"), patch_size=num("patch"),
            qkv_bias=True, use_rel_pos=True, global_attn_indexes=[int(i) for i in cfg["global"].split(",")],
            window_size=num("window"), out_chans=num("out_chans")),
        prompt_encoder=PromptEncoder(
            embed_dim=num("out_chans"), image_embedding_size=(grid, grid),
            input_image_size=(num("img_size"), num("img_size")), mask_in_chans=num("mask_in_chans")),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=3,
            transformer=TwoWayTransformer(depth=num("decoder_depth"), embedding_dim=num("out_chans"),
                                          mlp_dim=num("decoder_mlp_dim"), num_heads=num("decoder_heads")),
            transformer_dim=num("out_chans"), iou_head_depth=num("iou_head_depth"),
            iou_head_hidden_dim=num("iou_head_hidden")),
        pixel_mean=[123.675, 116.28, 103.53], pixel_std=[58.395, 57.12, 57.375]).eval()
    # The official init leaves the relative-position tables and pos_embed at
    # zero and every norm at identity: randomise them, so the comparison
    # exercises them.
    with torch.no_grad():
        for name, p in sam.named_parameters():
            if "rel_pos" in name or name.endswith("pos_embed"):
                p.copy_(torch.randn_like(p) * 0.1)
            elif "norm" in name and p.dim() == 1:
                p.copy_((1.0 if name.endswith("weight") else 0.0) + torch.randn_like(p) * 0.1)
    return sam
