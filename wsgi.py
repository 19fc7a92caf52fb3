"""The one module-level app, for gunicorn: `gunicorn wsgi:app`."""

from idp import create_app

app = create_app()
