"""The WSGI entry point: Zappa's `app_function` is `backend.wsgi.app`."""
from backend import create_app

app = create_app()
