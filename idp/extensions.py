"""Unbound Flask extensions; create_app binds them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy.orm import DeclarativeBase

from idp.client_address import client_bucket
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
# Keyed per client (IPv6 per /64: idp.client_address); state per app: idp.rate_limiter.
limiter = PerAppLimiter(key_func=client_bucket)
