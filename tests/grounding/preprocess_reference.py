"""Reference for GroundingPreprocessTest: the official predict path's image
transform (util/inference.py's load_image: datasets/transforms.py's
RandomResize([800], max_size=1333), ToTensor, Normalize) on random RGB
images of several shapes; writes in.image.K (uint8 HWC) and out.tensor.K.

    preprocess_reference.py OUT
"""
import sys

import official_groundingdino as og

og.load()
import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

import groundingdino.datasets.transforms as T  # noqa: E402

SIZES = [(640, 480), (480, 640), (1333, 1000), (300, 2000), (1000, 800), (97, 61)]  # (w, h)


def main():
    transform = T.Compose([T.RandomResize([800], max_size=1333), T.ToTensor(),
                           T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    rng = np.random.default_rng(4)
    data = {}
    for k, (w, h) in enumerate(SIZES):
        # Smooth content plus noise: resampling differences show on edges and flats alike.
        yy, xx = np.mgrid[0:h, 0:w]
        base = (127 + 100 * np.sin(xx[..., None] / 17.0 + yy[..., None] / 23.0 + np.arange(3)))
        image = np.clip(base + rng.normal(0, 20, (h, w, 3)), 0, 255).astype(np.uint8)
        tensor, _ = transform(Image.fromarray(image), None)
        data[f"in.image.{k}"] = torch.from_numpy(image)
        data[f"out.tensor.{k}"] = tensor
    torch.save(data, sys.argv[1])


if __name__ == "__main__":
    main()
