"""CountyCare (县域基层健康服务): the Flask application factory."""
from __future__ import annotations

import importlib
import logging
import pkgutil
from pathlib import Path

from flask import Flask

from backend.config import Config

__all__ = ["create_app"]

ROOT = Path(__file__).resolve().parent.parent


def create_app(config: Config | None = None) -> Flask:
    if config is None:
        from backend.ssm import load_into_environ
        load_into_environ()  # secrets of a deployed stage, before Config reads the environment
        config = Config()
    _refuse_default_secret(config)
    app = Flask(__name__, template_folder=str(ROOT / "frontend" / "templates"),
                static_folder=str(ROOT / "frontend" / "static"), static_url_path="/static")
    app.config.update(
        COUNTYCARE=config,
        TESTING=config.testing,
        MAX_CONTENT_LENGTH=256 * 1024,
        JSON_AS_ASCII=False,
        SEND_FILE_MAX_AGE_DEFAULT=3600,
        CSRF_EXEMPT=set(),
    )
    from backend.api import JsonProvider
    app.json = JsonProvider(app)  # depth-limited parsing, no NaN/Infinity, non-ASCII kept
    _configure_logging()

    from backend.models.base import bind
    bind(host=config.dynamodb_endpoint or None, region=config.aws_region,
         prefix=config.table_prefix)

    from backend import errors, security
    from backend.services.sms import make_texter
    # One Texter: auth sends login codes through it (`send(phone, code)`), notices and
    # registration their texts (`send_text`).
    app.extensions["code_sender"] = make_texter(config)
    errors.register_error_handlers(app)
    security.install(app)

    import backend.routes as routes
    for info in sorted(pkgutil.iter_modules(routes.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"backend.routes.{info.name}")
        if hasattr(module, "bp"):
            app.register_blueprint(module.bp)

    from backend import web
    web.install(app)

    from backend.services import push
    push.install(app)
    return app


def _refuse_default_secret(config: Config) -> None:
    # A deployed stage must have its own key (SSM): the local default would make phone
    # hashes and rate-limit keys guessable.
    if config.stage not in {"local", "test"} and not config.testing \
            and config.secret_key == "local-development-only":
        raise RuntimeError("COUNTYCARE_SECRET_KEY is not set for stage " + config.stage)


def _configure_logging() -> None:
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=logging.INFO,
                            format="%(asctime)s %(levelname)s %(name)s %(message)s")
    for noisy in ("pynamodb", "botocore", "boto3", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
