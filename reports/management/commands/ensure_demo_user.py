"""In DEBUG, on a database with no users, create a demo account and print how to sign in."""

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

USERNAME = "demo"


class Command(BaseCommand):
    help = "Create a demo account on a fresh development database and print its credentials."

    def handle(self, *args, **options):
        if not settings.DEBUG:
            return
        credentials = settings.VAR_DIR / "demo-account.txt"
        User = get_user_model()
        if not User.objects.exists():
            password = secrets.token_urlsafe(9)
            # Staff, so the admin and the Operations page work out of the box; the email address
            # lets "email me when it has finished" print its mail in the worker's console.
            User.objects.create_user(
                USERNAME, email="demo@localhost", password=password, is_staff=True, is_superuser=True
            )
            credentials.write_text(f"username: {USERNAME}\npassword: {password}\n")
            credentials.chmod(0o600)
            self.stdout.write(self.style.SUCCESS("Created a demo account."))
        if credentials.exists() and User.objects.filter(username=USERNAME).exists():
            username, password = (line.split(": ", 1)[1] for line in credentials.read_text().splitlines()[:2])
            shown = (
                credentials.relative_to(settings.BASE_DIR)
                if credentials.is_relative_to(settings.BASE_DIR)
                else credentials
            )
            self.stdout.write(f"Sign in as {username} / {password}  (kept in {shown})")
