"""deploy/ as a cluster would get it: both overlays (and TLS) render with
kubectl kustomize and validate against the Kubernetes API schemas
(kubernetes-validate, strict) and the Prometheus Operator kinds' schemas
(tests/deploy/schemas); the validators are shown to catch broken manifests;
the properties the deployment relies on hold (GPU scheduling, security,
probes sized from measured warm-up, drain within the grace period, the
Service, HPA and adapter agreeing); promtool checks and unit-tests the rules;
the dashboard is well formed.

Run by ctest (label deploy) with the deployment checks' Python
(scripts/requirements-deploy.txt):  python manifests_test.py
"""
import copy
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import unittest

import jsonschema
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
BIN = pathlib.Path(sys.executable).parent
KUBECTL = str(BIN / "kubectl")
VALIDATE = str(BIN / "kubernetes-validate")
SCHEMAS = {
    "ServiceMonitor": json.loads((ROOT / "tests/deploy/schemas/servicemonitor.json").read_text()),
    "PrometheusRule": json.loads((ROOT / "tests/deploy/schemas/prometheusrule.json").read_text()),
}
# Measured warm-up (docs/deploy.md, "Sizing"), 2026-12-01: the slowest
# configuration the overlays run, vit_h on the CPU at 640x480 with batch
# sizes 1-2, on this project's 2-core machine (2 threads): 5 min 7 s. The
# startup probe must allow twice that.
MEASURED_SLOWEST_WARMUP_S = 307


def render(path):
    out = subprocess.run([KUBECTL, "kustomize", str(path)], check=True, capture_output=True, text=True).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def by_kind(docs, kind):
    found = [d for d in docs if d["kind"] == kind]
    assert len(found) == 1, f"{len(found)} {kind} objects"
    return found[0]


def validate(docs):
    """kubernetes-validate --strict on the built-in kinds, our schemas on the
    operator's; returns the list of problems (empty when valid)."""
    problems = []
    builtin = [d for d in docs if d["kind"] not in SCHEMAS]
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        yaml.safe_dump_all(builtin, f)
    r = subprocess.run([VALIDATE, "--strict", "--quiet", f.name], capture_output=True, text=True)
    os.unlink(f.name)
    if r.returncode != 0:
        problems.append(r.stdout + r.stderr)
    for d in docs:
        if d["kind"] in SCHEMAS:
            try:
                jsonschema.validate(d, SCHEMAS[d["kind"]])
            except jsonschema.ValidationError as e:
                problems.append(f"{d['kind']}/{d['metadata']['name']}: {e.message} at {list(e.absolute_path)}")
    return problems


def server(docs):
    return by_kind(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]


def arg(container, name):
    values = [a.split("=", 1)[1] for a in container["args"] if a.startswith(f"--{name}=")]
    assert len(values) <= 1, f"--{name} given {len(values)} times"
    return values[0] if values else None


class Overlay:
    def __init__(self, tmp, components):
        """A kustomization in `tmp` on the gpu overlay plus `components`."""
        self.path = pathlib.Path(tmp)
        rel = lambda p: os.path.relpath(p, self.path)
        (self.path / "kustomization.yaml").write_text(yaml.safe_dump({
            "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
            "resources": [rel(DEPLOY / "overlays/gpu")],
            "components": [rel(DEPLOY / "components" / c) for c in components]}))


class ManifestsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cpu = render(DEPLOY / "overlays/cpu")
        cls.gpu = render(DEPLOY / "overlays/gpu")
        cls.tmp = tempfile.mkdtemp()
        Overlay(cls.tmp, ["tls", "mtls"])
        cls.tls = render(cls.tmp)
        cls.monitoring = render(DEPLOY / "monitoring")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp)

    def test_every_overlay_validates(self):
        for name, docs in [("cpu", self.cpu), ("gpu", self.gpu), ("gpu+tls+mtls", self.tls),
                           ("monitoring", self.monitoring)]:
            with self.subTest(overlay=name):
                self.assertEqual(validate(docs), [])
        kinds = sorted(d["kind"] for d in self.gpu)
        self.assertEqual(kinds, sorted([
            "Namespace", "ServiceAccount", "PersistentVolumeClaim", "Deployment", "Service",
            "PodDisruptionBudget", "NetworkPolicy", "HorizontalPodAutoscaler", "ServiceMonitor",
            "PrometheusRule"]))
        for d in self.gpu:
            if d["kind"] != "Namespace":
                self.assertEqual(d["metadata"]["namespace"], "ctrlfuse", d["kind"])
            self.assertEqual(d["metadata"]["labels"]["app.kubernetes.io/name"], "ctrlfuse-serve", d["kind"])

    def test_the_validators_catch_broken_manifests(self):
        def broken(mutate):
            docs = copy.deepcopy(self.gpu)
            mutate(docs)
            return validate(docs)
        # A string where the API wants an integer.
        self.assertNotEqual(broken(lambda d: server(d)["ports"][0].update(containerPort="50051")), [])
        # A misspelt field (strict: the API server would drop it silently).
        self.assertNotEqual(broken(lambda d: server(d).update(imagePullPolicyy="Always")), [])
        # A required field missing.
        self.assertNotEqual(broken(lambda d: by_kind(d, "Deployment")["spec"].pop("selector")), [])
        # The operator kinds: a misspelt field, a bad duration, a rule with no expr.
        self.assertNotEqual(broken(lambda d: by_kind(d, "ServiceMonitor")["spec"]["endpoints"][0].update(intervall="15s")), [])
        self.assertNotEqual(broken(lambda d: by_kind(d, "ServiceMonitor")["spec"]["endpoints"][0].update(interval="15 s")), [])
        self.assertNotEqual(broken(lambda d: by_kind(d, "PrometheusRule")["spec"]["groups"][0]["rules"][0].pop("expr")), [])

    def test_gpu_overlay_schedules_on_gpu_nodes_with_fp16_and_bigger_batches(self):
        pod = by_kind(self.gpu, "Deployment")["spec"]["template"]["spec"]
        c = server(self.gpu)
        self.assertEqual(c["resources"]["limits"]["nvidia.com/gpu"], "1")
        self.assertIn({"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}, pod["tolerations"])
        self.assertEqual(pod["nodeSelector"], {"nvidia.com/gpu.present": "true"})
        self.assertEqual(arg(c, "device"), "cuda")
        self.assertEqual(arg(c, "precision"), "fp16")
        self.assertGreater(int(arg(c, "max_batch_size")), int(arg(server(self.cpu), "max_batch_size")))
        self.assertTrue(c["image"].endswith("-cuda"), c["image"])

    def test_cpu_overlay_runs_on_the_cpu_with_threads_from_the_cpu_request(self):
        c = server(self.cpu)
        self.assertEqual(arg(c, "device"), "cpu")
        self.assertNotIn("nvidia.com/gpu", c["resources"]["limits"])
        self.assertNotIn("tolerations", by_kind(self.cpu, "Deployment")["spec"]["template"]["spec"])
        self.assertTrue(c["image"].endswith("-cpu"), c["image"])
        self.assertEqual(arg(c, "threads"), "$(CPU_REQUEST)")
        env = {e["name"]: e for e in c["env"]}
        for name in ["CPU_REQUEST", "OMP_NUM_THREADS", "MKL_NUM_THREADS"]:
            self.assertEqual(env[name]["valueFrom"]["resourceFieldRef"],
                             {"containerName": "server", "resource": "requests.cpu", "divisor": "1"}, name)
        self.assertIn("cpu", c["resources"]["requests"])

    def test_pods_run_unprivileged_on_a_read_only_root(self):
        for docs in [self.cpu, self.gpu, self.tls]:
            pod = by_kind(docs, "Deployment")["spec"]["template"]["spec"]
            self.assertTrue(pod["securityContext"]["runAsNonRoot"])
            self.assertNotEqual(pod["securityContext"]["runAsUser"], 0)
            self.assertEqual(pod["securityContext"]["seccompProfile"], {"type": "RuntimeDefault"})
            self.assertFalse(pod["automountServiceAccountToken"])
            for c in pod["containers"] + pod["initContainers"]:
                sc = c["securityContext"]
                self.assertFalse(sc["allowPrivilegeEscalation"], c["name"])
                self.assertTrue(sc["readOnlyRootFilesystem"], c["name"])
                self.assertEqual(sc["capabilities"], {"drop": ["ALL"]}, c["name"])
                self.assertIn("limits", c["resources"], c["name"])
        self.assertEqual(by_kind(self.gpu, "Namespace")["metadata"]["labels"]["pod-security.kubernetes.io/enforce"],
                         "restricted")

    def test_probes_allow_the_measured_warm_up_and_liveness_survives_a_drain(self):
        for docs in [self.cpu, self.gpu]:
            c = server(docs)
            startup = c["startupProbe"]
            budget = startup["periodSeconds"] * startup["failureThreshold"]
            self.assertGreaterEqual(budget, 2 * MEASURED_SLOWEST_WARMUP_S)
            self.assertEqual(startup["grpc"], {"port": 50051})
            self.assertEqual(c["readinessProbe"]["grpc"], {"port": 50051})
            # Liveness on /healthz (200 while draining), not gRPC health
            # (NOT_SERVING while draining), and not the default 1 s timeout.
            self.assertEqual(c["livenessProbe"]["httpGet"], {"path": "/healthz", "port": "metrics"})
            for p in ["startupProbe", "readinessProbe", "livenessProbe"]:
                self.assertGreaterEqual(c[p]["timeoutSeconds"], 5, p)

    def test_the_drain_fits_in_the_grace_period_and_updates_keep_capacity(self):
        d = by_kind(self.gpu, "Deployment")
        c = server(self.gpu)
        pre_stop = float(c["lifecycle"]["preStop"]["exec"]["command"][1])
        drain = float(arg(c, "drain_seconds"))
        self.assertGreater(d["spec"]["template"]["spec"]["terminationGracePeriodSeconds"], pre_stop + drain)
        self.assertEqual(d["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"], 0)
        pdb = by_kind(self.gpu, "PodDisruptionBudget")
        self.assertEqual(pdb["spec"]["maxUnavailable"], 1)
        self.assertEqual(pdb["spec"]["selector"]["matchLabels"], d["spec"]["selector"]["matchLabels"])
        self.assertGreaterEqual(by_kind(self.gpu, "HorizontalPodAutoscaler")["spec"]["minReplicas"], 2)

    def test_the_service_is_headless_and_every_selector_finds_the_pods(self):
        d = by_kind(self.gpu, "Deployment")
        pod_labels = d["spec"]["template"]["metadata"]["labels"]
        svc = by_kind(self.gpu, "Service")
        self.assertEqual(svc["spec"]["clusterIP"], "None")
        self.assertEqual({p["name"]: p["port"] for p in svc["spec"]["ports"]}, {"grpc": 50051, "metrics": 9464})
        for selector in [svc["spec"]["selector"], d["spec"]["selector"]["matchLabels"],
                         by_kind(self.gpu, "NetworkPolicy")["spec"]["podSelector"]["matchLabels"]]:
            self.assertLessEqual(selector.items(), pod_labels.items())
        mon = by_kind(self.gpu, "ServiceMonitor")
        self.assertLessEqual(mon["spec"]["selector"]["matchLabels"].items(), svc["metadata"]["labels"].items())
        self.assertEqual(mon["spec"]["endpoints"][0]["port"], "metrics")
        claim = [v for v in d["spec"]["template"]["spec"]["volumes"] if v["name"] == "models"][0]
        self.assertEqual(claim["persistentVolumeClaim"]["claimName"],
                         by_kind(self.gpu, "PersistentVolumeClaim")["metadata"]["name"])

    def test_network_policy_lets_clients_reach_grpc_and_only_prometheus_reach_metrics(self):
        rules = by_kind(self.gpu, "NetworkPolicy")["spec"]["ingress"]
        by_port = {r["ports"][0]["port"]: r["from"] for r in rules}
        self.assertEqual(sorted(by_port), ["grpc", "metrics"])
        self.assertEqual(by_port["metrics"], [{
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}}])

    def test_the_hpa_scales_on_the_metric_the_adapter_serves(self):
        hpa = by_kind(self.gpu, "HorizontalPodAutoscaler")
        metric = hpa["spec"]["metrics"][0]["pods"]["metric"]["name"]
        adapter = [d for d in self.monitoring if d["metadata"]["name"] == "adapter-config"][0]
        config = yaml.safe_load(adapter["data"]["config.yaml"])
        self.assertEqual([r["name"]["as"] for r in config["rules"]], [metric])
        values = yaml.safe_load((DEPLOY / "monitoring/prometheus-adapter/values.yaml").read_text())
        self.assertEqual(values["rules"]["custom"], config["rules"])  # the Helm values say the same
        self.assertEqual(adapter["metadata"]["namespace"], "monitoring")

    def test_tls_component_mounts_the_secret_and_passes_the_server_its_files(self):
        pod = by_kind(self.tls, "Deployment")["spec"]["template"]["spec"]
        c = pod["containers"][0]
        mount = [m for m in c["volumeMounts"] if m["name"] == "tls"][0]
        self.assertTrue(mount["readOnly"])
        volume = [v for v in pod["volumes"] if v["name"] == "tls"][0]
        self.assertEqual(volume["secret"]["secretName"], "ctrlfuse-tls")
        for flag, key in [("tls_cert", "tls.crt"), ("tls_key", "tls.key"), ("tls_client_ca", "ca.crt")]:
            self.assertEqual(arg(c, flag), f"{mount['mountPath']}/{key}")
        # The kubelet's gRPC probe cannot speak TLS: readiness moves to /readyz.
        self.assertEqual(c["readinessProbe"]["httpGet"], {"path": "/readyz", "port": "metrics"})
        self.assertEqual(c["startupProbe"]["httpGet"], {"path": "/readyz", "port": "metrics"})
        self.assertIsNone(arg(server(self.gpu), "tls_cert"))

    def test_promtool_checks_and_unit_tests_the_rules(self):
        rule = by_kind(self.gpu, "PrometheusRule")
        with tempfile.TemporaryDirectory() as tmp:
            rules = pathlib.Path(tmp) / "rules.yaml"
            rules.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
            shutil.copy(DEPLOY / "monitoring/rules-tests.yaml", tmp)
            for cmd in [["promtool", "check", "rules", "rules.yaml"], ["promtool", "test", "rules", "rules-tests.yaml"]]:
                r = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True)
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            # promtool test is live: a wrong threshold fails it.
            text = rules.read_text().replace("> 0.05", "> 0.5")
            rules.write_text(text)
            r = subprocess.run(["promtool", "test", "rules", "rules-tests.yaml"], cwd=tmp, capture_output=True, text=True)
            self.assertNotEqual(r.returncode, 0)
        alerts = {r["alert"] for g in rule["spec"]["groups"] for r in g["rules"] if "alert" in r}
        tested = {t["alertname"] for test in yaml.safe_load((DEPLOY / "monitoring/rules-tests.yaml").read_text())["tests"]
                  for t in test.get("alert_rule_test", []) if t.get("exp_alerts")}
        self.assertEqual(tested, alerts)  # every alert is shown to fire

    def test_the_dashboard_is_well_formed(self):
        cm = [d for d in self.monitoring if d["metadata"]["name"] == "ctrlfuse-dashboard"][0]
        self.assertEqual(cm["metadata"]["labels"]["grafana_dashboard"], "1")
        dash = json.loads(cm["data"]["ctrlfuse-dashboard.json"])
        panels = [p for p in dash["panels"] if p["type"] != "row"]
        self.assertGreaterEqual(len(panels), 20)
        self.assertEqual(len({p["id"] for p in dash["panels"]}), len(dash["panels"]))
        for p in panels:
            self.assertTrue(p["targets"], p["title"])
            self.assertEqual(p["datasource"]["uid"], "${datasource}", p["title"])
            for t in p["targets"]:
                self.assertTrue(t["expr"].strip(), p["title"])
        names = {v["name"] for v in dash["templating"]["list"]}
        self.assertEqual(names, {"datasource", "namespace", "pod"})


if __name__ == "__main__":
    unittest.main(verbosity=2)
