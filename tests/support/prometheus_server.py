"""A real Prometheus (Debian's `prometheus` package) on 127.0.0.1, started and stopped by
the test, and its HTTP query API."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import yaml
from modelship_serving.triton.server import free_port, stop_process

START_TIMEOUT_SECONDS = 30.0


class PrometheusServer:
    """`prometheus` with the scrape configs given, its data in a temporary folder."""

    def __init__(self, binary: str, scrape_configs: list[dict[str, Any]]) -> None:
        self.binary, self.scrape_configs = binary, scrape_configs
        self.url = ""
        self._process: subprocess.Popen[bytes] | None = None
        self._scratch: Path | None = None

    def __enter__(self) -> PrometheusServer:
        self._scratch = Path(tempfile.mkdtemp(prefix="modelship-prometheus-"))
        config = {
            "global": {
                "scrape_interval": "1s",
                "scrape_timeout": "1s",
                "evaluation_interval": "1s",
            },
            "scrape_configs": self.scrape_configs,
        }
        (self._scratch / "prometheus.yml").write_text(yaml.safe_dump(config))
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        with (self._scratch / "prometheus.log").open("wb") as log:
            self._process = subprocess.Popen(
                [
                    self.binary,
                    f"--config.file={self._scratch / 'prometheus.yml'}",
                    f"--storage.tsdb.path={self._scratch / 'data'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            self._wait_until_ready()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise AssertionError(f"prometheus exited:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2):
                    return
            except OSError:
                time.sleep(0.2)
        raise AssertionError(
            f"prometheus not ready in {START_TIMEOUT_SECONDS}s:\n{self.log_tail()}"
        )

    def log_tail(self) -> str:
        log = (self._scratch or Path("/nonexistent")) / "prometheus.log"
        return "\n".join(log.read_text().splitlines()[-30:]) if log.exists() else ""

    def api(self, path: str, **params: str) -> dict[str, Any]:
        """GET an /api/v1 endpoint; the parsed answer, errors included (status 'error')."""
        url = f"{self.url}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                return dict(json.loads(response.read()))
        except urllib.error.HTTPError as error:  # 400/422: a query that does not parse or run
            return dict(json.loads(error.read()))

    def query(self, expr: str) -> dict[str, Any]:
        return self.api("query", query=expr)

    def __exit__(self, *exc_info: object) -> None:
        if self._process is not None:
            stop_process(self._process)
            self._process = None
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
