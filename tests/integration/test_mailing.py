"""The mailing kind against a real SMTP server process (aiosmtpd, its Maildir handler) and real
workers: what arrives is counted from the server's own mailbox. A 1,000-recipient mailing
arrives once each, even with its worker killed in the middle; the form's preview and send work
through a real web server."""

import mailbox
import re
import socket
import subprocess
import sys
from collections import Counter

import pytest
import redis
from celery import Celery
from django.contrib.auth.models import Permission
from django.core.files.base import ContentFile

from project.embedded_redis import free_port
from reports.engine import leases
from reports.engine.ledger import State
from reports.models import Job, LedgerEntry
from tests.conftest import start_asgi_server, start_beat, stop_process
from tests.integration.test_faults import final, kill_whole_worker
from tests.support import csrf_headers, signed_in_client, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

QUICK = {"OFFLOAD_LEASE_SECONDS": 4, "OFFLOAD_RESCUE_CHECK_SECONDS": 1}


class SmtpServer:
    """`python -m aiosmtpd` on a free port, keeping every message it accepts in a Maildir."""

    def __init__(self, folder):
        self.port, self.maildir = free_port(), folder / "maildir"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{self.port}",
             "-c", "aiosmtpd.handlers.Mailbox", str(self.maildir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        )  # fmt: skip
        wait_for(self.answers, 30, "the SMTP server to listen")
        self.url = f"smtp://127.0.0.1:{self.port}"

    def answers(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), 1).close()
            return True
        except OSError:
            return False

    def received(self) -> Counter:
        """How many messages each address was sent, read back from the server's mailbox."""
        return Counter(message["To"] for message in mailbox.Maildir(self.maildir, create=False))

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture
def smtp(tmp_path):
    server = SmtpServer(tmp_path)
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def leases_on_own_redis(own_redis, monkeypatch):
    """This process reads the leases where the test's workers keep them."""
    monkeypatch.setattr(leases, "_client", redis.Redis.from_url(own_redis.url))


def recipients(count: int) -> bytes:
    return ("email,first_name\n" + "".join(f"person{i:04d}@example.com,P{i}\n" for i in range(count))).encode()


def send_mailing(broker_url: str, owner, content: bytes) -> Job:
    """A mailing job and its task on this test's broker, as the form would make it."""
    job = Job.objects.create(owner=owner, kind="mailing", params={
        "subject": "News for {{ first_name }}", "body": "Dear {{ first_name }},\nthe news.",
        "recipients": content.count(b"\n") - 1, "duplicates": 0, "source_name": "people.csv",
    })  # fmt: skip
    job.input_file.save("input.csv", ContentFile(content))
    producer = Celery(broker=broker_url, set_as_current=False)
    producer.send_task("reports.tasks.run_report", args=[str(job.pk)], task_id=job.task_id, queue="reports")
    producer.close()
    return job


def sent_so_far(job: Job) -> int:
    return LedgerEntry.objects.filter(job=job, state=State.DONE).count()


def test_a_1000_recipient_mailing_arrives_once_each_with_its_worker_killed_in_the_middle(
    own_redis, workers, smtp, user, tmp_path
):
    mail = {"EMAIL_URL": smtp.url, "OFFLOAD_MAILING_RATE": 150, **QUICK}
    first = workers("w1", concurrency=1, **mail)
    beat = start_beat(own_redis.url, tmp_path / "beat.log", "--max-interval", "1", **QUICK)
    try:
        job = send_mailing(own_redis.url, user, recipients(1000))
        wait_for(lambda: sent_so_far(job) >= 300, 60, "300 messages to go")
        kill_whole_worker(first)
        killed_after = sent_so_far(job)
        workers("w2", concurrency=1, **mail)
        job = final(job.pk, timeout=120)
    finally:
        stop_process(beat)
    assert job.status == Job.Status.SUCCEEDED, job.error_message
    assert job.restarts == 1 and killed_after < 1000

    received = smtp.received()
    expected = {f"person{i:04d}@example.com" for i in range(1000)}
    assert set(received) <= expected
    assert max(received.values()) == 1, [address for address, times in received.items() if times > 1]
    in_doubt = set(LedgerEntry.objects.filter(job=job, state=State.IN_DOUBT).values_list("key", flat=True))
    assert len(in_doubt) <= 1  # at most the one message being handed over when the worker died
    assert expected - set(received) <= in_doubt  # nobody missed, but perhaps that one
    assert (job.result["sent"], job.result["in_doubt"], job.result["failed"]) == (
        1000 - len(in_doubt),
        len(in_doubt),
        0,
    )
    print(f"\nkilled after {killed_after} sent; {len(received)} arrived, each once; in doubt: {len(in_doubt)}")


def test_preview_then_send_through_the_web_server_and_the_result_lists_what_was_not_sent(
    own_redis, workers, smtp, user, tmp_path
):
    user.user_permissions.add(Permission.objects.get(codename="send_mailing"))
    workers("w1", concurrency=1, EMAIL_URL=smtp.url, OFFLOAD_MAILING_RATE=0)
    server = start_asgi_server(own_redis.url, tmp_path / "uvicorn.log")
    try:
        ada = signed_in_client(server.url, "ada", "correct horse battery")
        content = recipients(20) + b"not-an-address,Nobody\nPERSON0003@example.com,Repeat\n"
        form = {"subject": "Hello {{ first_name }}", "body": "Dear {{ first_name|lower }},\nNews."}
        files = {"recipients": ("people.csv", content, "text/csv")}
        preview = ada.post("/reports/mailing/", data={**form, "preview": "1"}, files=files, headers=csrf_headers(ada))
        assert "Preview: the first 3 of 21" in preview.text and "Dear p2,\nNews." in preview.text
        assert not Job.objects.exists() and not smtp.received()

        sent = ada.post("/reports/mailing/", data=form, files=files, headers=csrf_headers(ada))
        job_id = re.search(r"/jobs/([0-9a-f-]{36})/", sent.headers["HX-Push-Url"]).group(1)
        job = final(job_id, timeout=60)
        page = ada.get(f"/jobs/{job_id}/").text
    finally:
        stop_process(server)
    assert job.status == Job.Status.SUCCEEDED
    assert (job.result["sent"], job.result["failed"], job.result["duplicates"]) == (20, 1, 1)
    assert sum(smtp.received().values()) == 20
    assert "<dt>Sent</dt><dd>20</dd>" in page and "“not-an-address” is not a valid email address." in page
    assert "Rows not sent (CSV)" in page
