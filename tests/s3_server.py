"""A real S3-compatible server for the tests: moto's standalone server in a process of its own,
started the way the suite starts its Redis. Nothing in the process under test is patched: it
talks S3 over HTTP to this server, as it would to AWS, MinIO or R2."""

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import boto3

from project.embedded_redis import free_port
from tests.support import wait_for

# moto accepts any credentials; these only have to be the same on both sides.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "offload-test", "AWS_SECRET_ACCESS_KEY": "offload-test-secret"}
REGION = "us-east-1"


class S3Server:
    def __init__(self, log_path: Path):
        self.log_path = log_path
        self.port = 0
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "S3Server":
        self.port = free_port()
        moto_server = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or "moto_server"
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(
                [moto_server, "-H", "127.0.0.1", "-p", str(self.port)],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        wait_for(self.answers, 30, "the S3 server (moto) to start")
        return self

    def answers(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"moto_server exited early:\n{self.log_path.read_text()}")
        try:
            self.client().list_buckets()
        except Exception:
            return False
        return True

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def client(self):
        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def new_bucket(self) -> str:
        name = f"offload-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str) -> set[str]:
        paginator = self.client().get_paginator("list_objects_v2")
        return {item["Key"] for page in paginator.paginate(Bucket=bucket) for item in page.get("Contents", [])}

    def environment(self, bucket: str) -> dict[str, str]:
        """The variables that point a process of the project at `bucket` on this server."""
        return {
            "AWS_STORAGE_BUCKET_NAME": bucket,
            "AWS_S3_ENDPOINT_URL": self.url,
            "AWS_S3_REGION_NAME": REGION,
            **CREDENTIALS,
        }


def files_under(folder: Path) -> list[Path]:
    return [path for path in Path(folder).rglob("*") if path.is_file()] if os.path.isdir(folder) else []
