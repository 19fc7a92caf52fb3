"""Flask-WTF forms: every form carries a CSRF token."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, Length


class PasswordForm(FlaskForm):
    email = EmailField("Email address", validators=[DataRequired(), Length(max=320)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=256)])
    submit = SubmitField("Continue")


class ConsentForm(FlaskForm):
    allow = SubmitField("Allow")
    deny = SubmitField("Don't allow")


class CodeForm(FlaskForm):
    code = StringField("Code", validators=[DataRequired(), Length(max=64)])
    remember = BooleanField("Do not challenge me on this device")
    submit = SubmitField("Verify")


class ConfirmForm(FlaskForm):
    submit = SubmitField("Confirm")
