"""The object store's storage class and how its S3 client behaves (settings.py uses these when
AWS_STORAGE_BUCKET_NAME is set; imported only then, as boto3 is slow to load)."""

from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from storages.backends.s3 import S3Storage
from storages.utils import clean_name


def client_config() -> Config:
    # A store that does not answer fails a request in seconds, not after boto3's minute-long waits.
    return Config(connect_timeout=5, read_timeout=60, retries={"max_attempts": 3, "mode": "standard"})


def transfer_config() -> TransferConfig:
    # Multipart transfers in 8 MiB parts, 4 at a time and at most 4 read ahead into memory: an
    # upload of any size holds ~32 MiB of parts, not boto3's default ten (`make bench`, row 10).
    config = TransferConfig(multipart_chunksize=8 * 1024 * 1024, max_concurrency=4)
    config.max_in_memory_upload_chunks = 4  # s3transfer's setting, which boto3's constructor does not take
    return config


class ObjectStorage(S3Storage):
    """django-storages' S3 backend, but an upload already on disk goes up from its path.

    From a file object s3transfer reads each part whole into memory before sending it; from a
    path it reads a part as it sends it. On a 1 GB upload the web process's RSS rises by about
    12 MiB rather than 60 (measured with boto3 against moto's server, docs/benchmarks.md row 10).
    """

    def _save(self, name, content):
        if not hasattr(content, "temporary_file_path"):  # Django's uploads spooled to disk have one
            return super()._save(name, content)
        cleaned = clean_name(name)
        key = self._normalize_name(cleaned)
        params = self._get_write_parameters(key, content)
        if self.gzip and params["ContentType"] in self.gzip_content_types:
            return super()._save(name, content)
        self.bucket.Object(key).upload_file(
            content.temporary_file_path(), ExtraArgs=params, Config=self.transfer_config
        )
        return cleaned
