"""How the S3 client behaves when uploads and outputs live in an object store (settings.py
uses these when AWS_STORAGE_BUCKET_NAME is set; imported only then, as boto3 is slow to load)."""

from boto3.s3.transfer import TransferConfig
from botocore.config import Config


def client_config() -> Config:
    # A store that does not answer fails a request in seconds, not after boto3's minute-long waits.
    return Config(connect_timeout=5, read_timeout=60, retries={"max_attempts": 3, "mode": "standard"})


def transfer_config() -> TransferConfig:
    # Multipart transfers in 8 MiB parts, 4 at a time: a 1 GB upload holds ~32 MiB, not boto3's ~80.
    return TransferConfig(multipart_chunksize=8 * 1024 * 1024, max_concurrency=4)
