"""Send a mailing: a CSV of recipients, a subject and a body with placeholders, one message each.

Built only through the kind API (reports/kinds.py), as a team's own kind would be. What it adds
of its own: a preview of the first three messages, a rate limit, a footer, and a ledger
(reports/engine/ledger.py) that records each recipient before and after their message, so a mailing
whose worker died carries on without sending anyone a second copy. The one message that was
being handed to the mail server when the worker died cannot be known to have arrived or not:
it is not sent again, and the result names it ("in doubt") with the other rows that failed.
"""

import csv
import io
import smtplib
import time

from django import forms
from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.template.defaultfilters import filesizeformat
from django.utils.text import Truncator

from reports import kinds
from reports.engine.ledger import Ledger, State
from reports.engine.problems import InputProblem
from reports.forms import ReportForm
from reports.work import mailing

MAX_FILE_BYTES = 5 * 1024 * 1024
PREVIEWS = 3


class MailingForm(ReportForm):
    recipients = forms.FileField(
        label="Recipients (CSV)",
        help_text="One row per person: an email column and any others. Each column is a placeholder: "
        "a “First name” column is {{ first_name }}.",
    )
    subject = forms.CharField(label="Subject", max_length=200, initial="Hello {{ first_name }}")
    body = forms.CharField(
        label="Message",
        max_length=20_000,
        widget=forms.Textarea(attrs={"rows": 8}),
        initial="Dear {{ first_name|default:'customer' }},\n\n",
        help_text="Placeholders only ({{ column }}), with the filters upper, lower, title, capfirst and default.",
    )
    submit_label = "Send the mailing"
    preview_template = "reports/kinds/mailing_preview.html"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["notify_by_email"].label = "Email me when it has been sent"
        self.people: mailing.Recipients | None = None

    def clean_recipients(self):
        upload = self.cleaned_data["recipients"]
        if upload.size > MAX_FILE_BYTES:
            raise forms.ValidationError(
                f"This file is {filesizeformat(upload.size)}; a mailing's recipients may be up to "
                f"{filesizeformat(MAX_FILE_BYTES)}."
            )
        try:
            self.people = mailing.read_recipients(upload.read())
        except mailing.MailingProblem as problem:
            raise forms.ValidationError(str(problem)) from None
        finally:
            upload.seek(0)
        limit = max_recipients()
        if len(self.people.people) > limit:
            raise forms.ValidationError(
                f"This file has {len(self.people.people):,} recipients; a mailing may have up to {limit:,} "
                f"(at {settings.OFFLOAD_MAILING_RATE:g} messages a second, what a job can send within its "
                f"{settings.OFFLOAD_REPORT_SOFT_TIME_LIMIT // 60}-minute limit). Split the file."
            )
        return upload

    def clean(self):
        cleaned = super().clean()
        if self.people:
            for name in ("subject", "body"):
                if name in cleaned:
                    try:
                        mailing.compile_template(cleaned[name], "subject" if name == "subject" else "message",
                                                 self.people.columns)  # fmt: skip
                    except mailing.MailingProblem as problem:
                        self.add_error(name, str(problem))
        return cleaned

    def job_inputs(self) -> dict:
        upload = self.cleaned_data["recipients"]
        params = {
            "source_name": upload.name[:200], "source_size": upload.size, "subject": self.cleaned_data["subject"],
            "body": self.cleaned_data["body"], "recipients": len(self.people.people),
            "duplicates": self.people.duplicates,
        }  # fmt: skip
        return {"params": params, "input_file": upload}

    def preview(self) -> dict:
        """The first messages as they will be sent, and what will not be sent to whom."""
        subject = mailing.compile_template(self.cleaned_data["subject"], "subject", self.people.columns)
        body = mailing.compile_template(self.cleaned_data["body"], "message", self.people.columns)
        messages = [
            {"to": person.email, "subject": mailing.render(subject, person),
             "body": mailing.with_footer(mailing.render(body, person), settings.OFFLOAD_MAILING_FOOTER),
             "problem": mailing.address_problem(person.email)}
            for person in self.people.people[:PREVIEWS]
        ]  # fmt: skip
        invalid = sum(1 for person in self.people.people if mailing.address_problem(person.email))
        return {"messages": messages, "recipients": len(self.people.people), "duplicates": self.people.duplicates,
                "invalid": invalid, "rate": settings.OFFLOAD_MAILING_RATE}  # fmt: skip


def max_recipients() -> int:
    if not settings.OFFLOAD_MAILING_RATE:
        return settings.OFFLOAD_MAILING_MAX_RECIPIENTS
    within_limit = int(settings.OFFLOAD_MAILING_RATE * settings.OFFLOAD_REPORT_SOFT_TIME_LIMIT * 0.9)
    return min(settings.OFFLOAD_MAILING_MAX_RECIPIENTS, within_limit)


def send(params: dict, progress, files) -> dict:
    """Each recipient's message, once: begun in the ledger before it goes, done after."""
    with files.input() as path:
        try:
            people = mailing.read_recipients(path.read_bytes())
            subject = mailing.compile_template(params["subject"], "subject", people.columns)
            body = mailing.compile_template(params["body"], "message", people.columns)
        except mailing.MailingProblem as problem:
            raise InputProblem(str(problem)) from None
    ledger = Ledger(files.job_id, files.attempt)
    recorded = ledger.take_over()  # a dead attempt's recipients are skipped; its last one is in doubt
    total = len(people.people)
    interval = 1 / settings.OFFLOAD_MAILING_RATE if settings.OFFLOAD_MAILING_RATE else 0
    sent = sum(1 for state in recorded.values() if state == State.DONE)
    progress(100 * len(recorded) / total, f"{sent:,} of {total:,} sent")
    connection = get_connection()
    next_at = time.monotonic()
    try:
        for handled, person in enumerate(people.people, start=1):
            if person.key in recorded:
                continue
            problem = mailing.address_problem(person.email)
            if problem:
                ledger.failed(person.key, problem, person.row)
                continue
            try:
                message = EmailMessage(
                    mailing.render(subject, person),
                    mailing.with_footer(mailing.render(body, person), settings.OFFLOAD_MAILING_FOOTER),
                    to=[person.email.strip()],
                )
                message.message()  # built now: a value that breaks a header (a line break) fails its row only
            except Exception as error:  # a filter that cannot take this row's value, a bad header
                ledger.failed(person.key, f"The message could not be written for this row: {error}", person.row)
                continue
            time.sleep(max(0.0, next_at - time.monotonic()))
            next_at = time.monotonic() + interval
            ready(connection)  # a dropped connection found before the message is begun: nothing in doubt
            if not ledger.begin(person.key, person.row):  # committed before the message goes
                continue  # recorded meanwhile by an attempt that took over
            try:
                connection.send_messages([message])
            except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused) as refusal:
                ledger.failed(person.key, f"The mail server refused it: {refusal}", person.row)
                continue
            except smtplib.SMTPResponseException as refusal:  # the server answered, and did not take it
                if refusal.smtp_code >= 500:  # permanent for this message; the rest go on
                    ledger.failed(person.key, f"The mail server refused it: {refusal.smtp_code} "
                                  f"{refusal.smtp_error.decode(errors='replace')}", person.row)  # fmt: skip
                    continue
                ledger.forget(person.key)  # deferred (4xx): not accepted, so it goes again on the retry
                raise ConnectionError(f"The mail server deferred the message: {refusal}") from refusal
            except (smtplib.SMTPException, OSError) as error:
                # No answer came (the connection dropped or timed out mid-message): the server may
                # have taken it. Not sent again; the rest go on after a retry.
                ledger.in_doubt(person.key, LOST_ANSWER)
                raise ConnectionError(f"The mail server stopped answering: {error}") from error
            ledger.done(person.key)
            sent += 1
            progress(100 * handled / total, f"{sent:,} of {total:,} sent")
    finally:
        connection.close()
    return finish(params, people, ledger, files)


LOST_ANSWER = (
    "The connection to the mail server broke while this message was being handed over, so whether "
    "it was accepted is unknown; it was not sent again, so it is never sent twice."
)


def ready(connection) -> None:
    """An open connection that answers, before a message is begun: a failure here is before
    anything was sent, so the job is simply retried (ConnectionError is a temporary problem)."""
    try:
        smtp = getattr(connection, "connection", None)  # Django's SMTP backend; others have none
        if smtp is not None:
            try:
                if smtp.noop()[0] == 250:
                    return
            except (smtplib.SMTPException, OSError):
                pass
            connection.close()
        connection.open()
    except (smtplib.SMTPException, OSError) as error:
        raise ConnectionError(f"The mail server could not be reached: {error}") from error


def finish(params: dict, people: mailing.Recipients, ledger: Ledger, files) -> dict:
    counts = ledger.counts()
    unsent = ledger.entries(State.FAILED, State.IN_DOUBT)
    if unsent:
        table = io.StringIO()
        writer = csv.writer(table)
        writer.writerow(["row", "email", "outcome", "reason"])
        for entry in unsent:
            writer.writerow([entry.position, entry.key, entry.get_state_display(), entry.detail])
        files.save("not-sent.csv", "Rows not sent (CSV)", "text/csv", table.getvalue().encode())
    return {
        "subtitle": f"“{Truncator(params['subject']).chars(80)}” to {len(people.people):,} recipients",
        "sent": counts[State.DONE],
        "failed": counts[State.FAILED],
        "in_doubt": counts[State.IN_DOUBT],
        "duplicates": people.duplicates,
        "failures": [{"row": entry.position, "email": entry.key, "reason": entry.detail} for entry in unsent[:20]],
    }


def describe(params: dict) -> str:
    count = params.get("recipients", 0)
    return f"“{Truncator(params.get('subject', '')).chars(60)}” to {count:,} recipient{'s' if count != 1 else ''}"


MAILING = kinds.register(
    kinds.JobKind(
        name="mailing",
        title="Send a mailing",
        label="Mailing",
        description="Upload a CSV of recipients, write a subject and a message with placeholders, preview "
        "the first three, and send one message to each person, at a steady rate, never twice.",
        form=MailingForm,
        run=send,
        describe=describe,
        result_partial="reports/kinds/mailing_result.html",
        takes_upload=True,
        # Email to any address from this site's sender: only for those given the permission
        # (a superuser has it; grant it in the admin, or through a group).
        permission="reports.send_mailing",
        run_again_confirm="Send this mailing again, to every recipient?",
    )
)
