"""Flask-WTF forms: every form carries a CSRF token."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, Length

from idp.errors import IdpError


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


class TotpEnrollForm(FlaskForm):
    name = StringField("Name this app", validators=[Length(max=80)], default="Authenticator app")
    code = StringField("6-digit code", validators=[DataRequired(), Length(max=12)])
    remember = BooleanField("Do not challenge me on this device")
    submit = SubmitField("Turn on")


class RenameForm(FlaskForm):
    name = StringField("New name", validators=[DataRequired(), Length(max=80)])
    submit = SubmitField("Rename")


class PasswordChangeForm(FlaskForm):
    current = PasswordField("Current password", validators=[DataRequired(), Length(max=256)])
    new = PasswordField("New password", validators=[DataRequired(), Length(max=256)])
    submit = SubmitField("Change password")


class ForgotForm(FlaskForm):
    email = EmailField("Email address", validators=[DataRequired(), Length(max=320)])
    submit = SubmitField("Send me a reset link")


class NewPasswordForm(FlaskForm):
    password = PasswordField("New password", validators=[DataRequired(), Length(max=256)])
    submit = SubmitField("Set new password")


def refusal(error: IdpError) -> tuple[str, int]:
    """A refused form's message and status, for a page that shows it again next to its field.

    The one hand translation left in the views: every other refusal goes to the surface's
    error handler (idp/errors.py, the account and admin blueprints).
    """
    return error.message, error.status
