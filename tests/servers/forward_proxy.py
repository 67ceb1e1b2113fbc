"""A real forward proxy for the proxy tests: proxy.py (the PyPI package) in a child process.

It listens on 127.0.0.1 on a port it picks itself (``--port 0``) and reports through
``--port-file``; optionally with Basic authentication (``--basic-auth``) or behind TLS
(``--cert-file``/``--key-file``: an https:// proxy). It relays CONNECT tunnels byte for byte,
so what the origin server sees inside a tunnel is exactly what the client sent there.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from yarl import URL

_START_TIMEOUT = 20.0
_STOP_TIMEOUT = 10.0


class ForwardProxy:
    """One proxy.py process; ``url`` is ``http://127.0.0.1:PORT`` (``https://`` with TLS)."""

    def __init__(
        self,
        *,
        basic_auth: str | None = None,
        certfile: Path | None = None,
        keyfile: Path | None = None,
    ) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="hc-proxy-")
        self._port_file = Path(self._dir.name) / "port"
        self._log = Path(self._dir.name) / "proxy.log"
        args = [
            sys.executable,
            "-m",
            "proxy",
            "--hostname",
            "127.0.0.1",
            "--port",
            "0",
            "--port-file",
            str(self._port_file),
            "--num-workers",
            "1",
            "--num-acceptors",
            "1",
            "--log-level",
            "WARNING",
            "--log-file",
            str(self._log),
        ]
        if basic_auth is not None:
            args += ["--basic-auth", basic_auth]
        if certfile is not None and keyfile is not None:
            args += ["--cert-file", str(certfile), "--key-file", str(keyfile)]
        self._args = args
        self._scheme = "https" if certfile is not None else "http"
        self._process: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def url(self) -> URL:
        return URL.build(scheme=self._scheme, host="127.0.0.1", port=self.port)

    def start(self) -> ForwardProxy:
        # The proxy must not itself go through a proxy named in the test run's environment.
        env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
        self._process = subprocess.Popen(
            self._args,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its worker processes share its process group
        )
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"proxy.py exited at start: {self.log()}")
            text = self._port_file.read_text() if self._port_file.exists() else ""
            if text.strip():
                self.port = int(text.split()[0])
                return self
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"proxy.py did not start within {_START_TIMEOUT}s")

    def log(self) -> str:
        return self._log.read_text() if self._log.exists() else ""

    def stop(self) -> None:
        process = self._process
        if process is not None and process.poll() is None:
            # The group we created for it: the proxy and its own workers, nothing else.
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(_STOP_TIMEOUT)
        self._process = None
        self._dir.cleanup()
