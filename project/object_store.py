"""How the S3 client behaves when uploads and outputs live in an object store (settings.py
uses these when AWS_STORAGE_BUCKET_NAME is set; imported only then, as boto3 is slow to load)."""

from boto3.s3.transfer import TransferConfig
from botocore.config import Config


def client_config() -> Config:
    # A store that does not answer fails a request in seconds, not after boto3's minute-long waits.
    return Config(connect_timeout=5, read_timeout=60, retries={"max_attempts": 3, "mode": "standard"})


def transfer_config() -> TransferConfig:
    # Multipart transfers in 8 MiB parts, 4 at a time and at most 4 read ahead into memory: an
    # upload of any size holds ~32 MiB of parts, not boto3's default ten (`make bench`, row 10).
    config = TransferConfig(multipart_chunksize=8 * 1024 * 1024, max_concurrency=4)
    config.max_in_memory_upload_chunks = 4  # s3transfer's setting, which boto3's constructor does not take
    return config
