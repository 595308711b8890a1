"""Fixtures: real ctrlfuse-server processes (the tiny bundled model) on
localhost, plaintext and TLS, and synthetic scenes from ctrlfuse-scenes.
CTRLFUSE_BUILD_DIR names the build tree (scripts/test.sh sets it)."""
import os
import pathlib
import re
import subprocess
import tempfile
import time

import numpy as np
import pytest
from PIL import Image

BUILD = pathlib.Path(os.environ.get("CTRLFUSE_BUILD_DIR", pathlib.Path(__file__).resolve().parents[3] / "build"))


def _start(tmp, name, *flags):
    out, log = tmp / f"{name}.out", tmp / f"{name}.log"
    p = subprocess.Popen([BUILD / "server/ctrlfuse-server", "--host=127.0.0.1", "--port=0", "--metrics_port=-1",
                          "--warmup_sizes=64x48", "--max_batch_size=2", *flags],
                         stdout=open(out, "w"), stderr=open(log, "w"))
    deadline = time.monotonic() + 300  # bounded wait for the log line, no fixed sleep
    while "ready: SERVING" not in log.read_text():
        if p.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"server {name} did not start:\n{log.read_text()}")
        time.sleep(0.1)
    port = int(re.search(r"^port (\d+)", out.read_text(), re.M).group(1))
    return p, port


@pytest.fixture(scope="session")
def tmp():
    with tempfile.TemporaryDirectory() as d:
        yield pathlib.Path(d)


@pytest.fixture(scope="session")
def scenes(tmp):
    subprocess.run([BUILD / "tools/ctrlfuse-scenes", "--out", tmp / "s", "--count", "3", "--width", "64",
                    "--height", "48"], check=True, capture_output=True)
    load = lambda kind, i: np.asarray(Image.open(tmp / "s" / kind / f"000{i}.png"))
    return {"dir": tmp / "s", "ir": [load("ir", i) for i in range(3)], "vis": [load("vi", i) for i in range(3)],
            "mask": [load("mask", i) for i in range(3)]}


@pytest.fixture(scope="session")
def server(tmp):
    p, port = _start(tmp, "plain")
    yield f"127.0.0.1:{port}"
    p.terminate()
    assert p.wait(timeout=60) == 0


@pytest.fixture(scope="session")
def certs(tmp):
    d = tmp / "certs"
    d.mkdir()
    run = lambda *a: subprocess.run(["openssl", *a], cwd=d, check=True, capture_output=True)
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test CA", "-keyout", "ca.key",
        "-out", "ca.pem")
    for who in ["server", "client"]:
        run("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={who}", "-keyout", f"{who}.key", "-out",
            f"{who}.csr")
        (d / f"{who}.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
        run("x509", "-req", "-in", f"{who}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
            "-extfile", f"{who}.ext", "-out", f"{who}.pem")
    return d


@pytest.fixture(scope="session")
def tls_server(tmp, certs):
    p, port = _start(tmp, "tls", f"--tls_cert={certs / 'server.pem'}", f"--tls_key={certs / 'server.key'}",
                     f"--tls_client_ca={certs / 'ca.pem'}")
    yield f"localhost:{port}"
    p.terminate()
    assert p.wait(timeout=60) == 0
