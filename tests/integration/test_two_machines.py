"""Web, beat and two workers as four machines that share nothing but PostgreSQL, Redis and an
S3-compatible object store (a real moto_server process): each runs in a working directory of its
own with its own empty MEDIA_ROOT and temporary directory. Jobs of every kind go end to end
through HTTP, every download comes back through the web machine, and afterwards no machine has a
file of a job on its disk and the bucket holds exactly what the jobs own."""

import io
import zipfile
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from project.embedded_redis import EmbeddedRedis
from reports.models import Job
from tests.conftest import BASE_DIR, start_asgi_server, start_beat, start_worker, stop_process
from tests.s3_server import files_under
from tests.support import csrf_headers, jpeg_bytes, people_csv, signed_in_client, wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="machines share a database server; SQLite is one machine's file (CI runs this on PostgreSQL)",
    ),
]

SALES_FORM = {"date_from": "2025-01-01", "date_to": "2025-03-31", "group_by": "region", "metric": "orders"}
IMAGE_OPTIONS = {"output_format": "JPEG", "quality": "80", "thumbnail_sizes": ["128"], "strip_metadata": "on"}


class Machine:
    """A folder standing in for a machine's disk: its working directory, MEDIA_ROOT, var/ and
    temporary directory, all empty at the start."""

    def __init__(self, root: Path, name: str):
        self.name = name
        self.home = root / name
        self.media = self.home / "media"
        for folder in (self.media, self.home / "var", self.home / "tmp"):
            folder.mkdir(parents=True)

    def settings(self, bucket_environment: dict) -> dict:
        return {
            **bucket_environment,
            "MEDIA_ROOT": str(self.media),
            "OFFLOAD_VAR_DIR": str(self.home / "var"),
            "OFFLOAD_DEMO_DATA_DIR": str(self.home / "var" / "demo-data"),
            "TMPDIR": str(self.home / "tmp"),
            "PYTHONPATH": str(BASE_DIR),  # the code is deployed; the working directory is the machine's
            "OFFLOAD_DEMO_ORDERS": "20000",
        }

    def job_files(self) -> list[Path]:
        """Files of jobs left on this machine: anything in its MEDIA_ROOT or temporary directory."""
        return files_under(self.media) + files_under(self.home / "tmp")


def final(job_id, timeout=120) -> Job:
    return wait_for(
        lambda: Job.objects.filter(pk=job_id, status__in=Job.FINAL_STATUSES).first(), timeout, f"job {job_id} to end"
    )


def newest_job(owner) -> Job:
    return Job.objects.filter(owner=owner).order_by("-created_at").first()


def test_machines_sharing_only_postgresql_redis_and_a_bucket_run_every_kind_of_job(tmp_path, s3_server):
    get_user_model().objects.create_user("ada", password="correct horse battery")
    user = get_user_model().objects.get(username="ada")
    bucket = s3_server.new_bucket()
    store = s3_server.environment(bucket)
    web, beat_machine, first, second = (Machine(tmp_path, name) for name in ("web", "beat", "worker-1", "worker-2"))
    redis_server = EmbeddedRedis(tmp_path / "redis", persist=False).start()
    processes = []
    try:
        processes.append(
            start_beat(
                redis_server.url, beat_machine.home / "beat.log", cwd=beat_machine.home, **beat_machine.settings(store)
            )  # fmt: skip
        )
        for machine in (first, second):
            processes.append(
                start_worker(
                    redis_server.url,
                    machine.home / "worker.log",
                    name=machine.name,
                    concurrency=1,
                    app="project",
                    cwd=machine.home,
                    **machine.settings(store),
                )  # fmt: skip
            )
        server = start_asgi_server(redis_server.url, web.home / "uvicorn.log", cwd=web.home, **web.settings(store))
        processes.append(server)
        client = signed_in_client(server.url, "ada", "correct horse battery")

        # --- one job of each kind, through HTTP as htmx sends them
        response = client.post("/reports/sales-summary/", data=SALES_FORM, headers=csrf_headers(client))
        assert response.status_code == 200, response.text[:300]
        sales = newest_job(user)
        csv_content = people_csv(3000)
        response = client.post(
            "/reports/csv-profile/",
            files={"file": ("people.csv", csv_content, "text/csv")},
            headers=csrf_headers(client),
        )
        assert response.status_code == 200, response.text[:300]
        profile = newest_job(user)
        images = [("images", (name, content, "image/jpeg")) for name, content in
                  [("a.jpg", jpeg_bytes(800, 600)), ("broken.jpg", b"not a photo"), ("c.jpg", jpeg_bytes(600, 400))]]  # fmt: skip
        response = client.post("/reports/images/", data=IMAGE_OPTIONS, files=images, headers=csrf_headers(client))
        assert response.status_code == 200, response.text[:300]
        batch = newest_job(user)
        assert len({sales.pk, profile.pk, batch.pk}) == 3

        for job in (sales, profile, batch):
            assert final(job.pk).status == Job.Status.SUCCEEDED, (job.kind, final(job.pk).error_message)
        assert [item.status for item in batch.images.all()] == ["done", "failed", "done"]

        # --- every download, through the web machine, is the object in the bucket
        s3 = s3_server.client()
        for job in (sales, profile, batch):
            for artifact in job.artifacts.all():
                response = client.get(artifact.get_absolute_url())
                assert response.status_code == 200, artifact.name
                assert response.content == s3.get_object(Bucket=bucket, Key=artifact.file.name)["Body"].read()
        done = list(batch.images.filter(status="done"))
        for item in done:
            for url in (
                f"/jobs/{batch.pk}/images/{item.position}/",
                f"/jobs/{batch.pk}/images/{item.position}/preview/",
            ):
                response = client.get(url)
                assert response.status_code == 200 and response.headers["content-type"].startswith("image/"), url
        archive = zipfile.ZipFile(
            io.BytesIO(client.get(batch.artifacts.get(name="images.zip").get_absolute_url()).content)
        )
        assert sorted(archive.namelist()) == sorted(
            [item.output_name for item in done] + [f"thumbnails/image-00{n}-128px.jpg" for n in (1, 3)]
        )
        for item in done:
            assert archive.read(item.output_name) == s3.get_object(Bucket=bucket, Key=item.output.name)["Body"].read()

        # --- the bucket holds exactly what the jobs own, and no machine keeps a file of theirs
        expected = {f"jobs/{sales.pk}/{name}" for name in
                    ("sales-summary.csv", "sales-summary.xlsx", "sales-summary.pdf", "chart.svg")}  # fmt: skip
        expected |= {f"uploads/{profile.pk}/input.csv"} | {
            f"jobs/{profile.pk}/csv-profile.{extension}" for extension in ("csv", "xlsx", "pdf")
        }
        expected |= {f"uploads/{batch.pk}/image-00{n}" for n in (1, 2, 3)}
        expected |= {f"jobs/{batch.pk}/images/00{n}.jpg" for n in (1, 3)}
        # A preview is WebP, or the output itself when that is small: the item names which.
        assert all(
            item.preview.name.startswith(f"jobs/{batch.pk}/images/{item.position:03d}-preview.") for item in done
        )
        expected |= {item.preview.name for item in done}
        expected |= {f"jobs/{batch.pk}/image-00{n}-128px.jpg" for n in (1, 3)} | {f"jobs/{batch.pk}/images.zip"}
        assert s3_server.keys(bucket) == expected
        for machine in (web, beat_machine, first, second):
            assert machine.job_files() == [], machine.name

        # --- Run again copies the input inside the store; deleting every job empties the bucket
        response = client.post(f"/jobs/{profile.pk}/run-again/", headers=csrf_headers(client))
        assert response.status_code == 200, response.text[:300]
        again = newest_job(user)
        assert again.pk != profile.pk and final(again.pk).status == Job.Status.SUCCEEDED
        assert final(again.pk).result["rows"] == final(profile.pk).result["rows"] == 3000
        for job in Job.objects.filter(owner=user):
            assert client.post(f"/jobs/{job.pk}/delete/", headers=csrf_headers(client)).status_code == 200
        assert not Job.objects.exists()
        assert s3_server.keys(bucket) == set()
        for machine in (web, beat_machine, first, second):
            assert machine.job_files() == [], machine.name
        client.close()
    finally:
        for process in processes:
            stop_process(process)
        redis_server.stop()
