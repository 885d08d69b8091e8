"""A mailing's pure parts: its recipients read from a CSV file, and its subject and body as
templates in a sandbox of Django's template engine.

The sandbox has placeholders (`{{ first_name }}`) and five filters (upper, lower, title,
capfirst, default), and nothing else: no tags at all, so no `{% include %}`, `{% extends %}`
or `{% load %}` that could read a file or bring in a library that reaches the database. A
message's context holds only the recipient's own columns, as text.
"""

import csv
import io
import re
from dataclasses import dataclass

from django import template
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.template import Context, Engine
from django.template import defaultfilters as filters
from django.template.base import VariableNode

# The sandbox's only library (Engine(builtins=[__name__]) reads `register` from this module).
register = template.Library()
ALLOWED_FILTERS = ("upper", "lower", "title", "capfirst", "default")
for _name in ALLOWED_FILTERS:
    register.filter(_name, getattr(filters, _name))

EMAIL_HEADERS = {"email", "e_mail", "email_address", "mail"}


class SandboxEngine(Engine):
    # Django's engine always adds its default tags and filters; a mailing's templates get none.
    default_builtins = []


ENGINE = SandboxEngine(builtins=[__name__], libraries={}, loaders=[], autoescape=False, string_if_invalid="")


class MailingProblem(ValueError):
    """Something about the file or the templates the person can fix: a sentence for them."""


@dataclass(frozen=True)
class Recipient:
    row: int  # its line in the file (the header is line 1)
    email: str
    values: dict[str, str]

    @property
    def key(self) -> str:
        return self.email.strip().lower()


@dataclass(frozen=True)
class Recipients:
    columns: list[str]
    people: list[Recipient]  # each address once, as first written
    duplicates: int


def column_name(header: str) -> str:
    """A header as a placeholder can name it: "First name" is {{ first_name }}."""
    return re.sub(r"\W+", "_", header.strip().lower()).strip("_")


def read_recipients(content: bytes) -> Recipients:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise MailingProblem(
            "This file is not UTF-8 text. Save it as “CSV UTF-8” (Excel) or with UTF-8 encoding, and upload it again."
        ) from None
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = csv.reader(io.StringIO(text), dialect)
    header = next(rows, None)
    if not header or not any(cell.strip() for cell in header):
        raise MailingProblem("The file is empty: its first row should name the columns, e.g. email,first_name.")
    columns = [column_name(cell) for cell in header]
    email_at = next((i for i, name in enumerate(columns) if name in EMAIL_HEADERS), None)
    if email_at is None:
        raise MailingProblem(
            "The file has no email column: its first row should name one “email”, e.g. email,first_name."
        )
    people, seen, duplicates = [], set(), 0
    for line, cells in enumerate(rows, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        values = {name: (cells[i].strip() if i < len(cells) else "") for i, name in enumerate(columns) if name}
        recipient = Recipient(line, values[columns[email_at]], values)
        if recipient.key and recipient.key in seen:
            duplicates += 1
            continue
        seen.add(recipient.key)
        people.append(recipient)
    if not people:
        raise MailingProblem("The file has a header but no recipients.")
    return Recipients([name for name in columns if name], people, duplicates)


def compile_template(source: str, what: str, columns: list[str]) -> template.Template:
    """The subject's or body's template, or a sentence saying what is wrong with it."""
    try:
        compiled = ENGINE.from_string(source)
    except template.TemplateSyntaxError as error:
        message = str(error)
        if "Invalid block tag" in message or "{%" in source:
            raise MailingProblem(
                f"The {what} uses a {{% tag %}}, which a mailing does not allow: only placeholders such as "
                f"{{{{ first_name }}}}, with the filters {', '.join(ALLOWED_FILTERS)}."
            ) from None
        raise MailingProblem(f"The {what} could not be read: {message}") from None
    unknown = sorted({name for name in placeholders(compiled) if name not in columns})
    if unknown:
        named = ", ".join(f"{{{{ {name} }}}}" for name in unknown)
        raise MailingProblem(
            f"The {what} uses {named}, which {'is not a column' if len(unknown) == 1 else 'are not columns'} "
            f"of the file. Its columns: {', '.join(columns)}."
        )
    return compiled


def placeholders(compiled: template.Template) -> set[str]:
    """The columns a template names (the first part of each {{ variable }})."""
    names = set()
    for node in compiled.nodelist.get_nodes_by_type(VariableNode):
        variable = node.filter_expression.var
        lookup = getattr(variable, "var", variable)
        if isinstance(lookup, str):
            names.add(lookup.split(".")[0])
    return names


def render(compiled: template.Template, recipient: Recipient) -> str:
    return compiled.render(Context(recipient.values, autoescape=False))


def address_problem(email: str) -> str:
    """Why a message cannot go to this address ("" if it can)."""
    if not email.strip():
        return "No email address on this row."
    try:
        validate_email(email.strip())
    except ValidationError:
        return f"“{email}” is not a valid email address."
    return ""


def with_footer(body: str, footer: str) -> str:
    return f"{body.rstrip()}\n\n-- \n{footer}\n" if footer else body
