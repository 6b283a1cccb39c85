"""A throwaway S3-compatible server for the tests and benchmarks: moto's standalone server
(from PyPI), a separate process answering real HTTP on 127.0.0.1:<free port>.

    with s3_server() as s3:
        s3.create_bucket("photos")
        config = s3.app_config("photos", "prefix")   # PHOTO_STORAGE, S3_ENDPOINT_URL, ...

The app reaches it through boto3 exactly as it would reach MinIO or AWS S3; credentials are
the fixed test ones moto accepts, passed in the environment as in production.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.pg_server import _free_port

ACCESS_KEY = "test-access-key"
SECRET_KEY = "test-secret-key"
REGION = "us-east-1"


class S3Unavailable(RuntimeError):
    pass


@dataclass
class S3Server:
    endpoint: str
    process: subprocess.Popen[bytes]

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )

    def create_bucket(self, name: str) -> None:
        self.client().create_bucket(Bucket=name)

    def app_config(self, bucket: str, prefix: str = "photos", endpoint: str | None = None) -> dict:
        """The app's settings for this bucket (endpoint: another address, e.g. a proxy)."""
        return {
            "PHOTO_STORAGE": f"s3://{bucket}/{prefix}",
            "S3_ENDPOINT_URL": endpoint or self.endpoint,
            "S3_REGION": REGION,
            "S3_TIMEOUT": 3,
        }

    @staticmethod
    def environment() -> dict[str, str]:
        """What boto3 reads for credentials, in any process that talks to the server."""
        return {
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": REGION,
        }


@contextlib.contextmanager
def s3_server(log: Path | None = None) -> Iterator[S3Server]:
    moto = Path(sys.executable).with_name("moto_server")
    if not moto.exists():
        raise S3Unavailable("moto_server not installed (pip install 'moto[server]')")
    port = _free_port()
    out = open(log or os.devnull, "ab")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(
        [str(moto), "-H", "127.0.0.1", "-p", str(port)],
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise S3Unavailable(f"moto_server exited with {process.returncode}")
            try:
                with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2):  # noqa: S310
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise S3Unavailable("moto_server did not answer within 30 s") from None
                time.sleep(0.1)
        yield S3Server(endpoint, process)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        out.close()
