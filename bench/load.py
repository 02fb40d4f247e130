"""HTTP load: a marketplace server in a subprocess on a free port, and wrk driving it through a list of paths.

wrk (C, one event loop per thread) is used rather than a Python client so that the load generator is not the
bottleneck on a two-core machine. A Lua script rotates through the paths and prints the latency percentiles and
counts as one JSON line from wrk's `done` callback.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

WRK_SCRIPT = r"""
local paths = {}
local counter = 0

init = function(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
  if args[2] ~= nil and args[2] ~= "" then wrk.headers["Authorization"] = "Bearer " .. args[2] end
end

request = function()
  counter = counter % #paths + 1
  return wrk.format("GET", paths[counter])
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "bytes": %d, "connect_errors": %d, "read_errors": %d, ' ..
    '"write_errors": %d, "status_errors": %d, "timeouts": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, ' ..
    '"mean_us": %f, "max_us": %d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.mean, latency.max))
end
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Server:
    """A server process started with `command` and the environment given; stopped with `stop()`."""

    command: list[str]
    environment: dict[str, str]
    log_path: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    rss_samples: list[int] = field(default_factory=list)
    _sampling: threading.Event = field(default_factory=threading.Event)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, ready_path: str = "/health", timeout: float = 120) -> float:
        """Start and wait until `ready_path` answers; returns the seconds it took."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("wb")
        started = time.perf_counter()
        self.process = subprocess.Popen([*self.command, "--port", str(self.port)],
                                        env={**os.environ, **self.environment}, stdout=log, stderr=subprocess.STDOUT)
        deadline = started + timeout
        with httpx.Client(base_url=self.base_url, timeout=5) as client:
            while time.perf_counter() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"the server stopped at start-up; see {self.log_path}")
                try:
                    if client.get(ready_path).status_code < 500:
                        return time.perf_counter() - started
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
        raise RuntimeError(f"the server did not answer {ready_path} within {timeout} s; see {self.log_path}")

    def rss(self) -> int:
        import psutil

        assert self.process is not None
        return int(psutil.Process(self.process.pid).memory_info().rss)

    def peak_rss(self) -> int | None:
        """The kernel's high-water mark of the process's resident memory (Linux), else the largest sample."""
        assert self.process is not None
        try:
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        except OSError:
            pass
        return max(self.rss_samples, default=None)

    def sample_rss(self, every_seconds: float = 0.25) -> threading.Thread:
        """Sample resident memory in the background until `stop()`."""
        def run() -> None:
            while not self._sampling.wait(every_seconds):
                try:
                    self.rss_samples.append(self.rss())
                except Exception:  # the process is gone: stop sampling
                    return

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._sampling.set()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def product_server(environment: Mapping[str, str], log_path: Path) -> Server:
    """`dps serve`, exactly as an operator starts it (uvicorn, one worker)."""
    dps = Path(sys.executable).with_name("dps")
    command = [str(dps)] if dps.exists() else [sys.executable, "-m", "dps.cli"]
    return Server([*command, "serve", "--host", "127.0.0.1"], dict(environment), log_path)


def ceiling_server(environment: Mapping[str, str], log_path: Path, *, bare: bool = False) -> Server:
    """The same app (or a bare Litestar app), served the same way, with one trivial JSON route
    (bench.ceiling_app)."""
    return Server([sys.executable, "-m", "bench.ceiling_app", "--host", "127.0.0.1", *(["--bare"] if bare else [])],
                  dict(environment), log_path)


@dataclass(frozen=True)
class LoadResult:
    requests: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    errors: int

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def run_wrk(base_url: str, paths: Sequence[str], work_dir: Path, *, connections: int, seconds: float,
            threads: int = 1, token: str = "") -> LoadResult:
    """Drive `paths` in turn for `seconds` over `connections` keep-alive connections."""
    work_dir.mkdir(parents=True, exist_ok=True)
    script, path_file = work_dir / "rotate.lua", work_dir / "paths.txt"
    script.write_text(WRK_SCRIPT)
    path_file.write_text("\n".join(paths) + "\n")
    command = ["wrk", f"-t{min(threads, connections)}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
               "--timeout", "30s", "-s", str(script), base_url, "--", str(path_file), token]
    completed = subprocess.run(command, capture_output=True, text=True, check=True)
    line = next((line for line in completed.stdout.splitlines() if line.startswith("WRK_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{completed.stdout}\n{completed.stderr}")
    data = json.loads(line.removeprefix("WRK_JSON "))
    errors = sum(data[key] for key in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts"))
    return LoadResult(data["requests"], data["duration_us"] / 1e6, data["p50_us"] / 1000, data["p95_us"] / 1000,
                      data["p99_us"] / 1000, data["mean_us"] / 1000, errors)
