"""Job kinds: what Offload runs, declared one module each (docs/job-kinds.md).

A kind is a `JobKind` given to `register()`: its name and description, its form, the function a
worker runs, and, where it differs from a plain kind, its result partial, queue and hooks. Every
feature (the live bar, push or poll, cancel, retries, Run again, history, schedules, notices,
limits, the admin and the Operations pages) comes from the engine, which reads the kind from here
and knows none by name.

Kinds are found at start-up: each installed app's `job_kinds` module (or package, every module in
it) is imported, as Django's admin finds `admin.py`. The web process imports only the
declarations; the function a worker runs is named by dotted path, so its libraries load in
workers alone.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from django import forms

    from reports.models import Job

# The task that starts a job of a plain kind: it runs the kind's function under a lease.
RUN_JOB_TASK = "reports.tasks.run_report"
DEFAULT_RESULT = "reports/kinds/default_result.html"


def no_description(params: dict) -> str:
    return ""


@dataclass(frozen=True)
class JobKind:
    """Everything Offload needs to know of a kind of job.

    `run` is the function a worker runs, as a dotted path (or the function itself):
    ``run(params, progress, files) -> dict``, given the job's parameters (what the form's
    `job_inputs()` returned), a progress callback ``progress(percent, step="")`` and the job's
    files (`jobs.JobFiles`: `save()` a download, open the uploaded `input()`); it returns the
    summary the page shows as `job.result`, a JSON-able dict. A problem with the person's input is
    raised as `reports.engine.problems.InputProblem(sentence)`: the job fails with that sentence.
    """

    name: str  # stored on each job; letters, digits and underscores, at most 32
    title: str  # its form's heading and its card on the home page
    description: str
    form: "type[forms.Form]"
    run: str | Callable[..., dict] | None
    slug: str = ""  # its form's URL: /reports/<slug>/; the name with dashes unless given
    label: str = ""  # what one job of it is called (My jobs, notices, emails); the title unless given
    describe: Callable[[dict], str] = no_description  # one line about a job, from its params
    result_partial: str = DEFAULT_RESULT  # a template (or template#partial) given `job`
    queue: str = "reports"
    takes_upload: bool = False
    # A permission ("app_label.codename") a person needs to see and use it: for kinds with effects
    # outside Offload (sending email). Without it its card is not shown and its form is a 404.
    permission: str = ""
    # Asked before Run again (htmx's confirm), for a kind whose second run is not harmless.
    run_again_confirm: str = ""
    # A schedule's parameters made into one run's, given the run's date in the schedule's time
    # zone: a period relative to the run ("the last 7 days") worked out into that run's dates.
    for_run: "Callable[[dict, date], dict] | None" = None

    # Hooks, for kinds whose work is more than one function (image batches use each of them):
    task: str = RUN_JOB_TASK  # the Celery task that starts a job, by name, given the job's id
    leased: bool = True  # run under a lease, so a dead worker's job is rescued within a minute
    copy_inputs: "Callable[[Job, Job], None] | None" = None  # Run again: rows beyond the upload
    reset_inputs: "Callable[[Job], None] | None" = None  # an operator's retry: inputs as new
    live_partial: str = ""  # shown under the bar while it runs
    etag_state: "Callable[[Job], Any] | None" = None  # what else the live fragment shows
    # With leased=False: beat's rescue check calls it to send again the kind's own leased work
    # whose worker died (an image batch's images); it returns how many it sent.
    rescue: "Callable[[], int] | None" = None

    def __post_init__(self):
        if not self.slug:
            object.__setattr__(self, "slug", self.name.replace("_", "-"))
        if not self.label:
            object.__setattr__(self, "label", self.title)

    def worker_function(self) -> Callable[..., dict]:
        """The function a worker runs, imported on first use (in a worker, not the web process)."""
        return import_string(self.run) if isinstance(self.run, str) else self.run


REGISTRY: dict[str, JobKind] = {}


class UnknownKind(LookupError):
    pass


def register(kind: JobKind) -> JobKind:
    """Declare a kind (once per process: importing its module again declares nothing new)."""
    if len(kind.name) > 32 or not kind.name.replace("_", "").isalnum():
        raise ValueError(f"A kind's name is letters, digits and underscores, at most 32: {kind.name!r}")
    clash = next((other for other in REGISTRY.values() if other.slug == kind.slug and other.name != kind.name), None)
    if clash:
        raise ValueError(f"Kinds {clash.name!r} and {kind.name!r} share the slug {kind.slug!r}")
    REGISTRY[kind.name] = kind
    return kind


def unregister(name: str) -> None:
    REGISTRY.pop(name, None)


def get(name: str) -> JobKind:
    try:
        return REGISTRY[name]
    except KeyError:
        raise UnknownKind(f"No job kind {name!r} is registered") from None


def shown(name: str) -> JobKind:
    """The kind to show a job of: its declaration, or for a kind no longer declared (a team
    removed it) a stand-in with a readable name and the default result, so its old jobs still
    open (they cannot run again)."""
    return REGISTRY.get(name) or JobKind(name=name, title=label(name), description="", form=None, run=None, slug="-")


def allowed(kind: JobKind, user) -> bool:
    return not kind.permission or user.has_perm(kind.permission)


def by_slug(slug: str) -> JobKind:
    for kind in REGISTRY.values():
        if kind.slug == slug:
            return kind
    raise UnknownKind(f"No job kind has the slug {slug!r}")


def in_sentence(label: str) -> str:
    """A kind's label inside a sentence: "your sales summary", but "your CSV profile"."""
    if len(label) > 1 and label[1].isupper():
        return label
    return label[:1].lower() + label[1:]


def all_kinds() -> list[JobKind]:
    return list(REGISTRY.values())


def names() -> list[str]:
    return list(REGISTRY)


def choices() -> list[tuple[str, str]]:
    """For model and form fields (a callable, so a new kind needs no migration)."""
    return [(kind.name, kind.label) for kind in REGISTRY.values()]


def label(name: str) -> str:
    """What a job of this kind is called; a kind no longer declared keeps a readable name."""
    kind = REGISTRY.get(name)
    return kind.label if kind else name.replace("_", " ").capitalize()


def discover() -> None:
    """Import every installed app's `job_kinds` module or package (each module in a package)."""
    import pkgutil
    from importlib import import_module

    from django.apps import apps
    from django.utils.module_loading import module_has_submodule

    for app in apps.get_app_configs():
        if not module_has_submodule(app.module, "job_kinds"):
            continue
        package = import_module(f"{app.name}.job_kinds")
        for module in pkgutil.iter_modules(getattr(package, "__path__", [])):
            import_module(f"{package.__name__}.{module.name}")


def check_queues(app_configs=None, **kwargs) -> list:
    """A Django system check: a kind whose queue no plain worker consumes would wait forever."""
    from django.conf import settings
    from django.core.checks import Warning

    return [
        Warning(
            f"Job kind {kind.name!r} uses queue {kind.queue!r}, which is not in CELERY_TASK_QUEUES: "
            "a plain `celery -A project worker` does not consume it, so its jobs would wait.",
            hint=f"Add {kind.queue!r} to CELERY_TASK_QUEUES, or start a worker with -Q {kind.queue}.",
            id="offload.W001",
        )
        for kind in REGISTRY.values()
        if kind.queue not in settings.CELERY_TASK_QUEUES
    ]
