"""The mailing kind: its recipients file, its sandboxed templates, its form (every bad input a
sentence in place), its preview, and its work called directly with Django's in-memory mail
backend (tests/integration/test_mailing.py sends through a real SMTP server process)."""

import pytest
from django.contrib.auth.models import Permission
from django.core import mail
from django.core.files.base import ContentFile
from django.urls import reverse

from reports import kinds
from reports.engine import jobs
from reports.engine.ledger import Ledger, State
from reports.models import Job, LedgerEntry
from reports.work import mailing
from tests.support import HTMX, csv_upload

pytestmark = pytest.mark.django_db

PEOPLE = b"email,First name,city\nada@example.com,Ada,London\ngrace@example.com,Grace,Arlington\n"


@pytest.fixture(autouse=True)
def may_send(user):
    """Mailings need the send_mailing permission; the tests' user has it unless a test takes it away."""
    user.user_permissions.add(Permission.objects.get(codename="send_mailing"))


@pytest.fixture(autouse=True)
def in_memory_mail(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.OFFLOAD_MAILING_RATE = 0
    settings.OFFLOAD_MAILING_FOOTER = "Reply unsubscribe to stop."


def people(count: int, extra: str = "") -> bytes:
    return ("email,first_name\n" + "".join(f"person{i}@example.com,P{i}\n" for i in range(count)) + extra).encode()


def form_data(content: bytes = PEOPLE, **fields) -> dict:
    return {"recipients": csv_upload(content, "people.csv"), "subject": "Hello {{ first_name }}",
            "body": "Dear {{ first_name }} of {{ city|upper }},\nNews.", **fields}  # fmt: skip


# --- The file and the templates -----------------------------------------------------------------


def test_columns_become_placeholders_and_repeated_addresses_count_once():
    read = mailing.read_recipients(b"\xef\xbb\xbfE-mail;First name\nA@x.org;Ada\na@X.org ;Again\nb@x.org;Bo\n")
    assert read.columns == ["e_mail", "first_name"]
    assert [person.email for person in read.people] == ["A@x.org", "b@x.org"] and read.duplicates == 1
    assert read.people[1].row == 4 and read.people[1].values == {"e_mail": "b@x.org", "first_name": "Bo"}


@pytest.mark.parametrize(
    ("content", "sentence"),
    [
        (b"name,city\nAda,London\n", "The file has no email column"),
        ("email,name\nzoë@example.com,Zoë\n".encode("latin-1"), "This file is not UTF-8 text"),
        (b"", "The file is empty"),
        (b"email,name\n", "The file has a header but no recipients."),
    ],
)
def test_a_file_that_cannot_be_a_mailing_says_why(content, sentence):
    with pytest.raises(mailing.MailingProblem, match=sentence):
        mailing.read_recipients(content)


@pytest.mark.parametrize(
    "source",
    [
        '{% include "/etc/passwd" %}',
        "{% load static %}{% static 'x' %}",
        "{% extends 'base.html' %}",
        "{% for x in y %}{% endfor %}",
        "{% debug %}",
    ],  # fmt: skip
)
def test_no_tag_reaches_a_file_the_database_or_a_library(source):
    with pytest.raises(mailing.MailingProblem, match="does not allow: only placeholders"):
        mailing.compile_template(source, "message", ["email"])


def test_placeholders_render_with_the_allowed_filters_and_nothing_else():
    person = mailing.Recipient(2, "ada@example.com", {"email": "ada@example.com", "first_name": "ada", "city": ""})
    compiled = mailing.compile_template("{{ first_name|capfirst }} from {{ city|default:'somewhere' }}", "x",
                                        ["email", "first_name", "city"])  # fmt: skip
    assert mailing.render(compiled, person) == "Ada from somewhere"
    with pytest.raises(mailing.MailingProblem, match="Invalid filter: 'safe'"):
        mailing.compile_template("{{ first_name|safe }}", "message", ["first_name"])
    with pytest.raises(mailing.MailingProblem, match=r"uses \{\{ last_name \}\}, which is not a column"):
        mailing.compile_template("Dear {{ last_name }}", "message", ["email", "first_name"])
    assert mailing.render(mailing.compile_template("<b>{{ first_name }}</b> & co", "x", ["first_name"]), person) == (
        "<b>ada</b> & co"  # plain text: nothing escaped
    )


# --- The form -----------------------------------------------------------------------------------


def test_the_mailing_has_its_card_and_its_form(owner_client):
    assert "Send a mailing" in owner_client.get(reverse("home")).content.decode()
    form = owner_client.get(reverse("report_form", args=["mailing"])).content.decode()
    assert "Recipients (CSV)" in form and ">Preview<" in form and "Send the mailing" in form


def test_preview_shows_the_first_three_messages_as_they_will_go_and_sends_nothing(owner_client):
    content = people(5, "not-an-address,Nobody\nperson0@EXAMPLE.com,Again\n")
    response = owner_client.post(reverse("report_form", args=["mailing"]),
                                 {**form_data(content, body="Dear {{ first_name }},\nNews."), "preview": "1"}, **HTMX)  # fmt: skip
    page = response.content.decode()
    assert response.status_code == 200
    assert "Preview: the first 3 of 6" in page
    assert (
        page.count('class="card mail"') == 3
        and "Hello P0" in page
        and "Dear P2,\nNews.\n\n-- \nReply unsubscribe" in page
    )
    assert "1 repeated address will get one message each" in page and "1 row without a valid address" in page
    assert not Job.objects.exists() and not mail.outbox


@pytest.mark.parametrize(
    ("fields", "sentence"),
    [
        ({"recipients": csv_upload(b"name\nAda\n", "x.csv")}, "The file has no email column"),
        ({"recipients": csv_upload("email\nzoë@x.org\n".encode("cp1252"), "x.csv")}, "not UTF-8 text"),
        ({"body": "Hi {% include 'x' %}"}, "which a mailing does not allow"),
        ({"subject": "Hi {{ surname }}"}, "which is not a column of the file"),
        ({"body": "Hi {{ first_name|nope }}"}, "Invalid filter: &#x27;nope&#x27;"),
    ],
)
def test_bad_input_is_a_sentence_in_the_form_and_nothing_is_made(owner_client, fields, sentence):
    response = owner_client.post(reverse("report_form", args=["mailing"]), {**form_data(), **fields}, **HTMX)
    assert sentence in response.content.decode()
    assert not Job.objects.exists()


def test_too_many_recipients_for_the_time_a_job_may_run_is_refused_with_the_arithmetic(owner_client, settings):
    settings.OFFLOAD_MAILING_RATE = 1
    settings.OFFLOAD_REPORT_SOFT_TIME_LIMIT = 60
    response = owner_client.post(reverse("report_form", args=["mailing"]), form_data(people(60)), **HTMX)
    assert "This file has 60 recipients; a mailing may have up to 54" in response.content.decode()


# --- The work -----------------------------------------------------------------------------------


def mailing_job(user, content: bytes, subject="Hello {{ first_name }}", body="Dear {{ first_name }}") -> Job:
    job = Job.objects.create(owner=user, kind="mailing", status=Job.Status.RUNNING,
                             params={"subject": subject, "body": body, "recipients": 0, "source_name": "p.csv"})  # fmt: skip
    job.input_file.save("input.csv", ContentFile(content))
    return job


def run(job: Job) -> dict:
    return kinds.get("mailing").worker_function()(job.params, lambda *args: None, jobs.JobFiles(job))


def test_each_person_gets_one_message_and_bad_rows_are_listed_without_stopping_the_rest(user):
    job = mailing_job(user, people(4, "broken@,Bad\nPERSON1@example.com,Repeat\n"))
    result = run(job)
    assert sorted(message.to[0] for message in mail.outbox) == [f"person{i}@example.com" for i in range(4)]
    first = next(message for message in mail.outbox if message.to == ["person0@example.com"])
    assert first.subject == "Hello P0" and first.body == "Dear P0\n\n-- \nReply unsubscribe to stop.\n"
    assert (result["sent"], result["failed"], result["in_doubt"], result["duplicates"]) == (4, 1, 0, 1)
    assert result["failures"] == [{"row": 6, "email": "broken@", "reason": "“broken@” is not a valid email address."}]
    not_sent = job.artifacts.get(name="not-sent.csv").file.read().decode()
    assert "6,broken@,Failed" in not_sent


def test_an_attempt_after_a_dead_one_skips_who_was_sent_and_names_the_one_in_flight_without_resending(user):
    job = mailing_job(user, people(5))
    ledger = Ledger(job.pk)
    for i in range(2):  # the dead attempt sent two, and was handing the third to the server
        ledger.begin(f"person{i}@example.com", i + 2)
        ledger.done(f"person{i}@example.com")
    ledger.begin("person2@example.com", 4)
    result = run(job)
    assert sorted(message.to[0] for message in mail.outbox) == ["person3@example.com", "person4@example.com"]
    assert (result["sent"], result["in_doubt"]) == (4, 1)
    assert LedgerEntry.objects.get(job=job, key="person2@example.com").state == State.IN_DOUBT
    assert "In doubt" in job.artifacts.get(name="not-sent.csv").file.read().decode()


def test_a_message_the_server_refuses_for_good_is_listed_and_the_rest_go(user, monkeypatch):
    import smtplib

    from django.core.mail.backends.locmem import EmailBackend

    real_send = EmailBackend.send_messages

    def refuse_grace(self, messages):
        if messages[0].to == ["person1@example.com"]:
            raise smtplib.SMTPRecipientsRefused({"person1@example.com": (550, b"No such user")})
        return real_send(self, messages)

    monkeypatch.setattr(EmailBackend, "send_messages", refuse_grace)
    result = run(mailing_job(user, people(3)))
    assert (result["sent"], result["failed"]) == (2, 1)
    assert "The mail server refused it" in result["failures"][0]["reason"]


def test_a_row_whose_value_breaks_a_header_fails_alone(user):
    content = b'email,first_name\na@example.com,Ada\nb@example.com,"Bo\nBcc: everyone@example.com"\nc@example.com,Cy\n'
    result = run(mailing_job(user, content))
    assert sorted(message.to[0] for message in mail.outbox) == ["a@example.com", "c@example.com"]
    assert (result["sent"], result["failed"], result["in_doubt"]) == (2, 1, 0)
    assert "could not be written for this row" in result["failures"][0]["reason"]


def test_an_attempt_that_was_superseded_stops_before_it_sends_again(user):
    job = mailing_job(user, people(2))
    Job.objects.filter(pk=job.pk).update(attempt=2)  # the rescue check handed the job to attempt 2
    superseded = Ledger(job.pk, attempt=1)
    with pytest.raises(jobs.JobNotRunning):
        superseded.begin("person0@example.com", 2)
    current = Ledger(job.pk, attempt=2)
    assert current.begin("person0@example.com", 2) is True
    current.done("person0@example.com")
    assert current.begin("person0@example.com", 2) is False  # recorded: never begun twice
    current.failed("person0@example.com", "late news")  # a done item's outcome stands
    assert LedgerEntry.objects.get(job=job).state == State.DONE


def test_a_connection_lost_mid_message_leaves_that_one_in_doubt_and_the_retry_sends_the_rest_once(user, monkeypatch):
    import smtplib

    from django.core.mail.backends.locmem import EmailBackend

    real_send = EmailBackend.send_messages
    dropped = []

    def drop_once(self, messages):
        if messages[0].to == ["person1@example.com"] and not dropped:
            dropped.append(True)
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        return real_send(self, messages)

    monkeypatch.setattr(EmailBackend, "send_messages", drop_once)
    job = mailing_job(user, people(4))
    with pytest.raises(ConnectionError):  # a temporary problem: the task retries the job
        run(job)
    result = run(job)  # the retry
    assert sorted(message.to[0] for message in mail.outbox) == [
        "person0@example.com", "person2@example.com", "person3@example.com",
    ]  # fmt: skip
    assert (result["sent"], result["in_doubt"]) == (3, 1)
    assert "whether it was accepted is unknown" in result["failures"][0]["reason"]


def test_without_the_permission_there_is_no_mailing_and_no_run_again_of_one(owner_client, user):
    job = mailing_job(user, people(2))
    Job.objects.filter(pk=job.pk).update(status=Job.Status.SUCCEEDED)
    page = owner_client.get(job.get_absolute_url()).content.decode()
    assert 'hx-confirm="Send this mailing again, to every recipient?"' in page
    user.user_permissions.clear()
    assert "Send a mailing" not in owner_client.get(reverse("home")).content.decode()
    assert owner_client.get(reverse("report_form", args=["mailing"])).status_code == 404
    assert owner_client.post(reverse("report_form", args=["mailing"]), form_data()).status_code == 404
    assert owner_client.post(reverse("job_run_again", args=[job.pk])).status_code == 403
    assert Job.objects.count() == 1 and not mail.outbox
