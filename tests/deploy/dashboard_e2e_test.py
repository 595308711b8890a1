"""The dashboard and the alerts against live data: a real ctrlfuse-server
under load, scraped by a real Prometheus that has loaded the PrometheusRule's
groups. Every dashboard panel's expression and every rule must evaluate
without error and return data; so must the prometheus-adapter rule the HPA
scales on. GPU panels and rules are the exception on this CPU machine: they
must evaluate and return nothing (a CPU server exports no GPU series); the
GPU series themselves are tested with an NVML stand-in in
tests/server/metrics_endpoint_test.cc.

Run by ctest (label deploy):  python dashboard_e2e_test.py BUILD_DIR
"""
import json
import os
import pathlib
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "build").resolve()
DEPLOY = ROOT / "deploy"
# The labels Kubernetes service discovery gives a pod's target.
TARGET_LABELS = {"namespace": "ctrlfuse", "pod": "ctrlfuse-serve-0"}
GPU_ONLY = re.compile(r"ctrlfuse_gpu_|ctrlfuse:gpu_")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_line(process, path, pattern, seconds=300):
    """Polls the log at `path` until a line matches; fails if the process
    exits first. Bounded; no fixed sleeps."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        text = path.read_text() if path.exists() else ""
        m = re.search(pattern, text, re.M)
        if m:
            return m
        if process.poll() is not None:
            raise AssertionError(f"{process.args[0]} exited ({process.returncode}):\n{text}")
        time.sleep(0.2)
    raise AssertionError(f"no /{pattern}/ in {path} after {seconds} s")


class DashboardE2ETest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = pathlib.Path(tempfile.mkdtemp())
        cls.procs = []
        t = cls.tmp
        subprocess.run([BUILD / "tools/ctrlfuse-scenes", "--out", t / "s", "--count", "3", "--width", "64",
                        "--height", "48"], check=True, capture_output=True)
        # Small queue so that an overload burst is rejected; pad buckets so
        # that padding is observed.
        cls.files = [open(t / "server.out", "w"), open(t / "server.log", "w"), open(t / "prometheus.log", "w")]
        out, log, prom_log = cls.files
        cls.server = subprocess.Popen(
            [BUILD / "server/ctrlfuse-server", "--host=127.0.0.1", "--port=0", "--metrics_port=0",
             "--warmup_sizes=64x48", "--pad_buckets=64x48,96x64", "--max_batch_size=4", "--max_queued=4"],
            stdout=out, stderr=log)
        cls.procs.append(cls.server)
        wait_for_line(cls.server, t / "server.log", r"ready: SERVING")
        cls.port = int(wait_for_line(cls.server, t / "server.out", r"^port (\d+)").group(1))
        cls.metrics_port = int(wait_for_line(cls.server, t / "server.out", r"^metrics_port (\d+)").group(1))

        # The rules as the Prometheus Operator would load them; evaluated every
        # second here instead of every 30 s.
        rule = yaml.safe_load((DEPLOY / "base/prometheusrule.yaml").read_text())
        groups = rule["spec"]["groups"]
        for g in groups:
            g["interval"] = "1s"
        cls.rules = [r for g in groups for r in g["rules"]]
        (t / "rules.yaml").write_text(yaml.safe_dump({"groups": groups}))
        (t / "prometheus.yml").write_text(yaml.safe_dump({
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(t / "rules.yaml")],
            "scrape_configs": [{"job_name": "ctrlfuse-serve", "static_configs": [
                {"targets": [f"127.0.0.1:{cls.metrics_port}"], "labels": TARGET_LABELS}]}]}))
        cls.prom_port = free_port()
        cls.prom = subprocess.Popen(
            ["prometheus", f"--config.file={t / 'prometheus.yml'}", f"--storage.tsdb.path={t / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{cls.prom_port}", "--log.level=warn"],
            stdout=subprocess.DEVNULL, stderr=prom_log)
        cls.procs.append(cls.prom)
        cls.load()
        # Prometheus scrapes on its own schedule: poll its API (bounded) until
        # it has the final count of fused images and the rules have run on it.
        fused = cls.scraped_fused
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                r = cls.query('ctrlfuse_images_fused_total{job="ctrlfuse-serve"}')
                if r and float(r[0]["value"][1]) == fused and cls.query("ctrlfuse:requests:rate5m"):
                    break
            except OSError:
                pass
            time.sleep(0.5)
        else:
            raise AssertionError(f"Prometheus did not see {fused} fused images:\n" + (t / "prometheus.log").read_text())

    @classmethod
    def load(cls):
        """Each kind of traffic the panels show: fused pairs (mask, box,
        quality metrics, a repeated pair for cache hits, two sizes for
        padding), a stream, invalid input, and a burst beyond the queue."""
        t = cls.tmp
        c = [str(BUILD / "client/ctrlfuse-client"), f"--server=127.0.0.1:{cls.port}", "--retries=0"]
        pair = ["--ir", str(t / "s/ir/0000.png"), "--vis", str(t / "s/vi/0000.png")]
        run = lambda *a: subprocess.run(c + list(a), capture_output=True, text=True)
        fused = 0
        for i in range(3):
            r = run("fuse", "--ir", str(t / f"s/ir/000{i}.png"), "--vis", str(t / f"s/vi/000{i}.png"),
                    "--mask", str(t / f"s/mask/000{i}.png"), "--metrics=all", "--out_dir", str(t / "o"))
            assert r.returncode == 0, r.stderr
            fused += 1
        assert run("fuse", *pair, "--boxes", "5,5,40,30", "--out_dir", str(t / "o")).returncode == 0
        fused += 1
        r = run("stream", "--ir_dir", str(t / "s/ir"), "--vis_dir", str(t / "s/vi"), "--out_dir", str(t / "st"))
        assert r.returncode == 0, r.stderr
        fused += 3
        r = run("load", *pair, "--mask", str(t / "s/mask/0000.png"), "--count=12", "--concurrency=2")
        assert r.returncode == 0, r.stdout + r.stderr
        fused += 12
        # 96x64 images: another bucket; a 80x60 pair is padded to it.
        subprocess.run([BUILD / "tools/ctrlfuse-scenes", "--out", t / "p", "--count", "1", "--width", "80",
                        "--height", "60"], check=True, capture_output=True)
        assert run("fuse", "--ir", str(t / "p/ir/0000.png"), "--vis", str(t / "p/vi/0000.png"),
                   "--out_dir", str(t / "o")).returncode == 0
        fused += 1
        # Invalid: the visible image is not an image.
        assert run("fuse", "--ir", str(t / "s/ir/0000.png"), "--vis", str(t / "prometheus.yml"),
                   "--out_dir", str(t / "o")).returncode != 0
        # Bursts of 32 at once against a queue of 4: some are rejected.
        cls.rejected = 0
        for _ in range(2):
            report = json.loads(run("load", *pair, "--count=32", "--concurrency=32", "--json").stdout)
            fused += int(report["codes"].get("OK", 0))
            cls.rejected += int(report["codes"].get("UNAVAILABLE", 0))
        cls.scraped_fused = fused

    @classmethod
    def query(cls, expr):
        url = f"http://127.0.0.1:{cls.prom_port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(url, timeout=30) as r:
            body = json.load(r)
        if body["status"] != "success":
            raise AssertionError(f"{expr}: {body}")
        return body["data"]["result"]

    @classmethod
    def tearDownClass(cls):
        for p in cls.procs:
            p.send_signal(signal.SIGTERM)
        for p in cls.procs:
            p.wait(timeout=60)
        for f in cls.files:
            f.close()
        subprocess.run(["rm", "-rf", str(cls.tmp)])

    def grafana(self, expr):
        """A panel's expression as Grafana would send it for this target."""
        return (expr.replace("$__rate_interval", "1m").replace("$namespace", TARGET_LABELS["namespace"])
                .replace("$pod", ".*"))

    def test_the_load_reached_the_failure_paths(self):
        # Invalid input always; rejections depend on how the burst meets the
        # executor (not asserted: the rejected series exists at 0 either way).
        self.assertTrue(self.query('ctrlfuse_failures_total{reason="invalid"} > 0'))
        rejected = self.query('ctrlfuse_failures_total{reason="rejected"}')
        self.assertEqual(float(rejected[0]["value"][1]), self.rejected)

    def test_every_dashboard_panel_returns_data(self):
        dash = json.loads((DEPLOY / "monitoring/grafana/ctrlfuse-dashboard.json").read_text())
        panels = [p for p in dash["panels"] if p["type"] != "row"]
        checked = 0
        for p in panels:
            for target in p["targets"]:
                expr = self.grafana(target["expr"])
                with self.subTest(panel=p["title"], expr=expr):
                    result = self.query(expr)  # raises on a parse or evaluation error
                    if GPU_ONLY.search(expr):
                        self.assertEqual(result, [], "a CPU server exports no GPU series")
                    else:
                        self.assertTrue(result, "no data")
                        checked += 1
        self.assertGreaterEqual(checked, 40)
        # The dashboard's variables resolve too.
        for v in dash["templating"]["list"]:
            if v["type"] == "query":
                m = re.fullmatch(r"label_values\((.*), (\w+)\)", v["query"]["query"])
                self.assertTrue(m, v["query"])
                series = self.query(self.grafana(m.group(1)))
                self.assertIn(m.group(2), series[0]["metric"], v["name"])

    def test_every_rule_evaluates_and_every_signal_returns_data(self):
        url = f"http://127.0.0.1:{self.prom_port}/api/v1/rules"
        with urllib.request.urlopen(url, timeout=30) as r:
            loaded = [rule for g in json.load(r)["data"]["groups"] for rule in g["rules"]]
        self.assertEqual(len(loaded), len(self.rules))
        for rule in loaded:
            with self.subTest(rule=rule["name"]):
                self.assertEqual(rule["health"], "ok", rule.get("lastError"))
        names = set(m for m in self.query('{job="ctrlfuse-serve"}') for m in [m["metric"]["__name__"]])
        for rule in self.rules:
            name = rule.get("record") or rule["alert"]
            with self.subTest(rule=name):
                if "record" in rule:
                    result = self.query(rule["record"])
                    if GPU_ONLY.search(rule["record"]):
                        self.assertEqual(result, [])
                    else:
                        self.assertTrue(result, "recorded nothing")
                else:
                    # An alert compares signals with a threshold: each series
                    # or recording rule it reads must return data.
                    tokens = set(re.findall(r"\b(ctrlfuse[:_][a-z0-9_:]+|process_[a-z_]+|up)\b", rule["expr"]))
                    self.assertTrue(tokens)
                    for tok in tokens:
                        if GPU_ONLY.search(tok):
                            continue
                        self.assertTrue(self.query(tok), f"{tok} has no data")
                        if ":" not in tok and tok != "up":
                            self.assertIn(tok, names)

    def test_the_autoscaling_metric_returns_data_per_pod(self):
        config = yaml.safe_load((DEPLOY / "monitoring/prometheus-adapter/config.yaml").read_text())
        rule = config["rules"][0]
        self.assertTrue(self.query(rule["seriesQuery"]))
        # What prometheus-adapter sends for the HPA's pods metric.
        matchers = f'namespace="{TARGET_LABELS["namespace"]}",pod=~"{TARGET_LABELS["pod"]}"'
        expr = rule["metricsQuery"].replace("<<.LabelMatchers>>", matchers).replace("<<.GroupBy>>", "pod")
        result = self.query(expr)
        self.assertEqual([r["metric"] for r in result], [{"pod": TARGET_LABELS["pod"]}])
        self.assertGreaterEqual(float(result[0]["value"][1]), 0)


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0]], verbosity=2)
