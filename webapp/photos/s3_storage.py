"""Photos in an S3-compatible object store (AWS S3, MinIO, Ceph, Garage, ...), through boto3.

Chosen by `PHOTO_STORAGE=s3://bucket/prefix`; the endpoint, region and timeout come from
`S3_ENDPOINT_URL`, `S3_REGION` and `S3_TIMEOUT`, the credentials from boto3's usual chain
(`AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`, a profile, an instance role). The bucket stays
private: objects are written without any ACL and read back only by the app, after its scope
check. Keys are the same content-addressed keys as the folder's, under the prefix, so writing
a photo again (a retried upload) writes the same object again.
"""

from __future__ import annotations

import functools
import hashlib
from base64 import b64encode
from collections.abc import Callable
from typing import Any, TypeVar

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

from webapp.photos.storage import ObjectNotFound, StorageUnavailable, validate_key

T = TypeVar("T")

_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}


@functools.cache
def s3_client(endpoint_url: str | None, region: str, timeout: float) -> Any:
    """One client per process and endpoint (making one costs tens of milliseconds; a client is
    safe to share between threads). Standard retries: a few quick attempts, then the caller
    answers 503 and the phone tries again later."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url or None,
        region_name=region,
        config=BotoConfig(
            connect_timeout=timeout,
            read_timeout=timeout,
            retries={"mode": "standard", "max_attempts": 3},
            s3={"addressing_style": "path"},
        ),
    )


class S3Storage:
    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""

    def __repr__(self) -> str:
        return f"S3Storage(s3://{self.bucket}/{self.prefix})"

    def _key(self, key: str) -> str:
        return self.prefix + validate_key(key)

    def _call(self, action: Callable[[], T], key: str | None = None) -> T:
        try:
            return action()
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if key is not None and code in _NOT_FOUND:
                raise ObjectNotFound(key) from error
            raise StorageUnavailable(f"object store refused: {code or error}") from error
        except BotoCoreError as error:  # no connection, timeout, a broken answer
            raise StorageUnavailable(f"object store unreachable: {error}") from error

    def put(self, key: str, data: bytes, content_type: str) -> None:
        name = self._key(key)
        # Content-MD5: the store refuses bytes damaged on the way instead of keeping them.
        digest = b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()
        self._call(
            lambda: self.client.put_object(
                Bucket=self.bucket,
                Key=name,
                Body=data,
                ContentType=content_type,
                ContentMD5=digest,
            )
        )

    def get(self, key: str) -> bytes:
        name = self._key(key)
        answer = self._call(lambda: self.client.get_object(Bucket=self.bucket, Key=name), key)
        return self._call(lambda: answer["Body"].read())

    def exists(self, key: str) -> bool:
        name = self._key(key)
        try:
            self._call(lambda: self.client.head_object(Bucket=self.bucket, Key=name), key)
        except ObjectNotFound:
            return False
        return True

    def delete(self, key: str) -> None:
        name = self._key(key)
        self._call(lambda: self.client.delete_object(Bucket=self.bucket, Key=name))

    def check(self) -> None:
        """Raise StorageUnavailable unless the bucket answers (for /healthz)."""
        self._call(lambda: self.client.head_bucket(Bucket=self.bucket))

    def list_keys(self) -> list[str]:
        """Every key under the prefix, without it (for backups)."""
        found: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        pages = self._call(lambda: list(paginator.paginate(Bucket=self.bucket, Prefix=self.prefix)))
        for page in pages:
            found.extend(item["Key"][len(self.prefix) :] for item in page.get("Contents", []))
        return found
