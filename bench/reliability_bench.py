"""Overload, soak and drain-at-peak figures for docs/reliability.md, against a
real ctrlfuse-server process (tiny model, CPU) from an independent Python
gRPC client (the project's generated stubs, no project client code).

  overload  capacity measured closed-loop, then 4x that rate offered for
            DURATION s (default 60): accepted requests answered, rejections
            by code, calls lost (no status), server RSS each second.
  soak      one FuseStream for DURATION s (default 1800) at RATE frames/s
            (default 6, i.e. 10,800 frames): frames answered, RSS sampled.
  drain     SIGTERM while 4x capacity is offered: every call ends OK or with
            a retryable refusal; calls reset without a status are counted.

Run with the Python client's venv: $PYCLIENT_PY bench/reliability_bench.py
MODE BUILD_DIR [--duration S] [--rate R] [--out FILE.json].
"""
import argparse
import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import grpc
import numpy as np
from PIL import Image

from ctrlfuse.v1 import fusion_pb2 as pb
from ctrlfuse.v1 import fusion_pb2_grpc as pb_grpc

W, H = 64, 48  # the demo scene size the tiny model serves in ~20 ms


def png(arr):
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG")
    return buf.getvalue()


def scene_requests(n=16):
    rng = np.random.default_rng(1)
    out = []
    for i in range(n):
        r = pb.FuseRequest(id=f"s{i}")
        r.infrared.encoded = png(rng.integers(0, 256, (H, W), dtype=np.uint8))
        r.visible.encoded = png(rng.integers(0, 256, (H, W, 3), dtype=np.uint8))
        mask = np.zeros((H, W), np.uint8)
        mask[10:30, 20:40] = 255
        r.prompt.mask.encoded = png(mask)
        out.append(r)
    return out


class Server:
    def __init__(self, build, extra):
        args = [os.path.join(build, "server/ctrlfuse-server"), "--port=0", "--metrics_port=-1", "--host=127.0.0.1",
                f"--warmup_sizes={W}x{H}", "--drain_seconds=60", "--cache_mb=0"] + extra
        self.log = open(f"/tmp/reliability_server_{os.getpid()}.log", "w")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.log, text=True)
        self.port = None
        for line in self.proc.stdout:
            if line.startswith("port "):
                self.port = int(line.split()[1])
                break
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.port}")
        grpc.channel_ready_future(self.channel).result(timeout=120)
        from grpc_health.v1 import health_pb2, health_pb2_grpc
        watch = health_pb2_grpc.HealthStub(self.channel).Watch(health_pb2.HealthCheckRequest())
        for status in watch:
            if status.status == health_pb2.HealthCheckResponse.SERVING:
                watch.cancel()
                break

    def rss_mib(self):
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1)) / 1024
        except (OSError, AttributeError):
            return None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=120)


class Sampler(threading.Thread):
    def __init__(self, server, every=1.0):
        super().__init__(daemon=True)
        self.server, self.every, self.samples, self.stop = server, every, [], threading.Event()
        self.t0 = time.monotonic()

    def run(self):
        while not self.stop.is_set():
            rss = self.server.rss_mib()
            if rss is not None:
                self.samples.append((round(time.monotonic() - self.t0, 1), round(rss, 1)))
            self.stop.wait(self.every)


def classify(err):
    """'ok', a refusal ('UNAVAILABLE: queue full', ...) or 'reset' (no server status)."""
    if err is None:
        return "ok"
    code, details = err.code(), err.details() or ""
    if code == grpc.StatusCode.UNAVAILABLE and "failed to connect" in details:
        return "UNAVAILABLE: no server listening (sent after it exited)"
    server_said = any(s in details for s in ("queue full", "draining", "warming up", "deadline", "too many"))
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED,
                grpc.StatusCode.DEADLINE_EXCEEDED) and server_said:
        return f"{code.name}: {details.split(' (')[0].split(':')[0]}"
    return f"reset: {code.name}: {details[:60]}"


def offered_load(stub, requests, rate, duration, stop_at=None, server=None):
    """Open-loop calls at `rate`/s for `duration` s (or until `server` has
    exited); returns outcome counts and the number sent."""
    counts, lock, threads = {}, threading.Lock(), []
    t0 = time.monotonic()

    def one(req):
        try:
            stub.Fuse(req, timeout=30)
            k = "ok"
        except grpc.RpcError as e:
            k = classify(e)
        with lock:
            counts[k] = counts.get(k, 0) + 1

    i = 0
    while time.monotonic() - t0 < duration and (server is None or server.proc.poll() is None):
        target = t0 + i / rate
        now = time.monotonic()
        if target > now:
            time.sleep(target - now)
        if stop_at and time.monotonic() - t0 >= stop_at[0] and not stop_at[1].is_set():
            stop_at[1].set()
        t = threading.Thread(target=one, args=(requests[i % len(requests)],), daemon=True)
        t.start()
        threads.append(t)
        i += 1
    for t in threads:
        t.join()
    return counts, i


def capacity(stub, requests, seconds=15, concurrency=4):
    done, lock, t_end = [0], threading.Lock(), time.monotonic() + seconds

    def loop(k):
        while time.monotonic() < t_end:
            stub.Fuse(requests[k % len(requests)], timeout=60)
            with lock:
                done[0] += 1

    ts = [threading.Thread(target=loop, args=(k,)) for k in range(concurrency)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return done[0] / seconds


def overload(args, drain=False):
    server = Server(args.build, ["--max_batch_size=4", "--max_queue_delay_ms=5", "--max_queued=16"])
    stub, reqs = pb_grpc.FusionServiceStub(server.channel), scene_requests()
    cap = capacity(stub, reqs)
    sampler = Sampler(server)
    sampler.start()
    stop_at = None
    if drain:
        stop_at = (args.duration / 2, threading.Event())
        threading.Thread(target=lambda: (stop_at[1].wait(), server.proc.send_signal(signal.SIGTERM)),
                         daemon=True).start()
    counts, sent = offered_load(stub, reqs, 4 * cap, args.duration, stop_at, server)
    sampler.stop.set()
    code = server.stop()
    rss = [r for _, r in sampler.samples]
    return {"mode": "drain" if drain else "overload", "capacity_per_s": round(cap, 2),
            "offered_per_s": round(4 * cap, 2), "duration_s": args.duration, "sent": sent, "outcomes": counts,
            "reset_without_status": sum(v for k, v in counts.items() if k.startswith("reset")),
            "exit_code": code, "rss_mib_first_last_max": [rss[0], rss[-1], max(rss)] if rss else None,
            "rss_curve": sampler.samples}


def soak(args):
    server = Server(args.build, ["--max_batch_size=4"])
    stub, reqs = pb_grpc.FusionServiceStub(server.channel), scene_requests()
    sampler = Sampler(server, every=10)
    sampler.start()
    frames = int(args.duration * args.rate)
    t0 = time.monotonic()

    def gen():
        for i in range(frames):
            target = t0 + i / args.rate
            now = time.monotonic()
            if target > now:
                time.sleep(target - now)
            yield reqs[i % len(reqs)]

    ok = refused = 0
    for r in stub.FuseStream(gen(), timeout=args.duration + 600):
        if r.code == 0:
            ok += 1
        else:
            refused += 1
    sampler.stop.set()
    code = server.stop()
    rss = [r for _, r in sampler.samples]
    return {"mode": "soak", "duration_s": round(time.monotonic() - t0, 1), "frames": frames, "answered_ok": ok,
            "refused": refused, "exit_code": code, "rss_mib_first_last_max": [rss[0], rss[-1], max(rss)],
            "rss_curve": sampler.samples}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["overload", "soak", "drain"])
    p.add_argument("build")
    p.add_argument("--duration", type=float)
    p.add_argument("--rate", type=float, default=6)
    p.add_argument("--out")
    args = p.parse_args()
    if args.duration is None:
        args.duration = 1800 if args.mode == "soak" else 60
    result = {"overload": overload, "soak": soak, "drain": lambda a: overload(a, drain=True)}[args.mode](args)
    result["machine"] = f"{os.cpu_count()} cores, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    text = json.dumps(result, indent=1)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    summary = {k: v for k, v in result.items() if k != "rss_curve"}
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    sys.exit(main())
