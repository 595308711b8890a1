"""The Open Inference Protocol (KServe v2) as a Triton user calls it:
tritonclient (PyPI) against a real ctrlfuse-server. Health and metadata,
ModelInfer with UINT8/UINT16 tensors and BYTES-encoded images giving the
same fused image as the native API (ctrlfuse-client), masks and metrics,
errors that name the tensor, and the calls counted in the server's metrics.

Usage: python kserve_test.py BUILD_DIR   (Python: scripts/requirements-kserve.txt)
"""
import io
import pathlib
import re
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

import numpy as np
import tritonclient.grpc as grpcclient
from PIL import Image
from tritonclient.utils import InferenceServerException

BUILD = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "build").resolve()


class KServeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = pathlib.Path(tempfile.mkdtemp())
        t = cls.tmp
        subprocess.run([BUILD / "tools/ctrlfuse-scenes", "--out", t / "s", "--count", "2", "--width", "64",
                        "--height", "48"], check=True, capture_output=True)
        cls.files = [open(t / "server.out", "w"), open(t / "server.log", "w")]
        cls.server = subprocess.Popen(
            [BUILD / "server/ctrlfuse-server", "--host=127.0.0.1", "--port=0", "--metrics_port=0",
             "--warmup_sizes=64x48", "--max_batch_size=2"], stdout=cls.files[0], stderr=cls.files[1])
        deadline = time.monotonic() + 300  # bounded wait for the ready line
        while "ready: SERVING" not in (t / "server.log").read_text():
            if cls.server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((t / "server.log").read_text())
            time.sleep(0.1)
        text = (t / "server.out").read_text()
        cls.port = int(re.search(r"^port (\d+)", text, re.M).group(1))
        cls.metrics_port = int(re.search(r"^metrics_port (\d+)", text, re.M).group(1))
        cls.client = grpcclient.InferenceServerClient(url=f"127.0.0.1:{cls.port}")
        load = lambda kind, i: np.asarray(Image.open(t / "s" / kind / f"000{i}.png"))
        cls.ir, cls.vis, cls.mask = load("ir", 0), load("vi", 0), load("mask", 0)

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        cls.server.terminate()
        assert cls.server.wait(timeout=60) == 0
        for f in cls.files:
            f.close()
        subprocess.run(["rm", "-rf", str(cls.tmp)])

    def tensor(self, name, array, datatype="UINT8"):
        t = grpcclient.InferInput(name, list(array.shape), datatype)
        t.set_data_from_numpy(array)
        return t

    def infer(self, inputs, outputs=None, **kw):
        requested = [grpcclient.InferRequestedOutput(o) for o in outputs] if outputs else None
        return self.client.infer("ctrlfuse", inputs, outputs=requested, **kw)

    def native(self, *extra):
        """The native API's fused image of pair 0 (ctrlfuse-client)."""
        out = self.tmp / ("native" + "".join(extra).replace("-", "_"))
        subprocess.run([BUILD / "client/ctrlfuse-client", f"--server=127.0.0.1:{self.port}", "--retries=0", "fuse",
                        "--ir", self.tmp / "s/ir/0000.png", "--vis", self.tmp / "s/vi/0000.png", "--out_dir", out,
                        "--masks=false", *extra], check=True, capture_output=True)
        return np.asarray(Image.open(out / "0000.png"))

    def test_health_and_metadata(self):
        self.assertTrue(self.client.is_server_live())
        self.assertTrue(self.client.is_server_ready())
        self.assertTrue(self.client.is_model_ready("ctrlfuse"))
        self.assertFalse(self.client.is_model_ready("resnet50"))
        server = self.client.get_server_metadata(as_json=True)
        self.assertEqual(server["name"], "ctrlfuse-serve")
        model = self.client.get_model_metadata("ctrlfuse", as_json=True)
        self.assertEqual([i["name"] for i in model["inputs"]], ["INFRARED", "VISIBLE", "MASK"])
        self.assertEqual(model["outputs"][0]["name"], "FUSED")
        with self.assertRaises(InferenceServerException) as e:
            self.client.get_model_metadata("resnet50")
        self.assertEqual(e.exception.status(), "StatusCode.NOT_FOUND")

    def test_uint8_tensors_fuse_exactly_as_the_native_api(self):
        r = self.infer([self.tensor("INFRARED", self.ir), self.tensor("VISIBLE", self.vis)])
        fused = r.as_numpy("FUSED")
        self.assertEqual(fused.shape, (48, 64))
        self.assertEqual(fused.dtype, np.uint8)
        np.testing.assert_array_equal(fused, self.native())
        mask = r.as_numpy("MASK")  # default outputs: FUSED and MASK
        self.assertEqual(mask.shape, (48, 64))
        self.assertTrue(set(np.unique(mask)) <= {0, 255})

    def test_encoded_images_as_bytes_and_a_mask_prompt(self):
        png = lambda a: (lambda b: (Image.fromarray(a).save(b, format="PNG"), b.getvalue())[1])(io.BytesIO())
        as_bytes = lambda name, a: self.tensor(name, np.array([png(a)], dtype=np.object_), "BYTES")
        r = self.infer([as_bytes("INFRARED", self.ir), as_bytes("VISIBLE", self.vis), self.tensor("MASK", self.mask)],
                       outputs=["FUSED", "PROMPT_MASK"])
        self.assertEqual([o.name for o in r.get_response().outputs], ["FUSED", "PROMPT_MASK"])
        np.testing.assert_array_equal(r.as_numpy("PROMPT_MASK"), self.mask)
        np.testing.assert_array_equal(r.as_numpy("FUSED"),
                                      self.native("--mask", str(self.tmp / "s/mask/0000.png")))

    def test_uint16_with_a_batch_dimension_colour_and_metrics(self):
        ir16 = (self.ir.astype(np.uint16) * 257)[None]  # [1, H, W]
        r = self.infer([self.tensor("INFRARED", ir16, "UINT16"), self.tensor("VISIBLE", self.vis[None])],
                       outputs=["FUSED"], parameters={"color": True, "metrics": "Qabf,SSIM"})
        self.assertEqual(r.as_numpy("FUSED").shape, (48, 64, 3))
        params = r.get_response().parameters
        self.assertEqual(sorted(params), ["metric.Qabf", "metric.SSIM"])
        self.assertTrue(0 <= params["metric.Qabf"].double_param <= 1)

    def test_bad_requests_name_the_tensor(self):
        def status(inputs, outputs=None, **kw):
            with self.assertRaises(InferenceServerException) as e:
                self.infer(inputs, outputs, **kw)
            return e.exception.status(), e.exception.message()

        code, msg = status([self.tensor("INFRARED", self.ir)])
        self.assertEqual(code, "StatusCode.INVALID_ARGUMENT")
        self.assertIn("inputs[VISIBLE]: missing", msg)
        code, msg = status([self.tensor("INFRARED", self.ir), self.tensor("VISIBLE", self.vis.astype(np.float32),
                                                                          "FP32")])
        self.assertIn("inputs[VISIBLE].datatype", msg)
        code, msg = status([self.tensor("INFRARED", self.ir), self.tensor("VISIBLE", self.vis)], outputs=["LOGITS"])
        self.assertIn("outputs[LOGITS]: unknown output", msg)
        code, msg = status([self.tensor("INFRARED", self.ir), self.tensor("VISIBLE", self.vis[:10])])
        self.assertEqual(code, "StatusCode.INVALID_ARGUMENT")  # sizes differ: the pipeline's own check
        with self.assertRaises(InferenceServerException) as e:
            self.client.infer("resnet50", [self.tensor("INFRARED", self.ir)])
        self.assertEqual(e.exception.status(), "StatusCode.NOT_FOUND")

    def test_calls_are_counted_in_the_servers_metrics(self):
        self.infer([self.tensor("INFRARED", self.ir), self.tensor("VISIBLE", self.vis)])
        text = urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=30).read().decode()
        ok = re.search(r'^ctrlfuse_requests_total\{code="OK",method="ModelInfer"\} (\S+)', text, re.M)
        self.assertIsNotNone(ok)
        self.assertGreaterEqual(float(ok.group(1)), 1)


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0]], verbosity=2)
