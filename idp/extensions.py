"""Unbound Flask extensions; create_app binds them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy.orm import DeclarativeBase

from idp.rate_limiter import PerAppLimiter


class Base(DeclarativeBase):
    """Declarative base for every model."""


db = SQLAlchemy(model_class=Base)
if TYPE_CHECKING:
    # db.Model is made at run time from Base; type checkers see the declarative base itself.
    Model = Base
else:
    Model = db.Model
migrate = Migrate()
csrf = CSRFProtect()
limiter = PerAppLimiter(key_func=get_remote_address)  # state per app: idp.rate_limiter
