"""STYLE.md's import rules, checked on the source with ast: the folder is the layer."""

from __future__ import annotations

import ast
import functools
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "idp"
PURE = {"idp.authn.policy", "idp.authn.factors", "idp.authn.state"}


@functools.cache
def modules() -> list[tuple[str, set[str]]]:
    """Each module of idp and what it imports, parsed once per run (four tests read it)."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        name = name.removesuffix(".__init__")
        imported: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module)
                imported.update(f"{node.module}.{alias.name}" for alias in node.names)
        found.append((name, imported))
    return found


def under(name: str, *prefixes: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


@pytest.mark.parametrize(
    ("module", "imports"), modules(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_imports_follow_the_layers(module: str, imports: set[str]) -> None:
    if module in PURE:
        outside = {
            i
            for i in imports
            if not under(i, *PURE)
            and i.split(".")[0] not in sys.stdlib_module_names
            and i != "__future__"
        }
        assert not outside, f"{module} must stay pure (stdlib only): {outside}"
    if under(module, "idp.authn"):
        assert not any(under(i, "authlib") for i in imports), module
        forbidden = {"flask.request", "flask.session", "flask.g"}
        assert not imports & forbidden, f"{module} reads request globals: {imports & forbidden}"
    if under(module, "idp.models"):
        assert not any(under(i, "idp.web", "idp.authn", "idp.oidc") for i in imports), module
    if under(module, "idp.oidc"):
        assert not any(under(i, "idp.web") for i in imports), module
    if under(module, "idp.manage"):
        assert not any(under(i, "idp.web", "authlib") for i in imports), module
    if under(module, "idp.web"):
        assert not any(under(i, "authlib") for i in imports), f"{module} imports Authlib directly"


def test_only_one_module_imports_each_security_library() -> None:
    owners = {"pyotp": "idp.authn.totp", "webauthn": "idp.authn.webauthn"}
    for module, imports in modules():
        for library, owner in owners.items():
            if any(under(i, library) for i in imports):
                assert module == owner, f"{module} imports {library}; only {owner} may"


def test_one_module_owns_the_browser_session() -> None:
    """What the session holds is read and written in idp.web.browser (its store: web.session)."""
    owners = {"idp.web.browser", "idp.web.session"}
    for module, imports in modules():
        if "flask.session" in imports:
            assert module in owners, f"{module} reads flask.session; use idp.web.browser"


def test_one_error_family() -> None:
    """Every error a user or client may see is an IdpError with a stable code (STYLE.md 5)."""
    import importlib
    import inspect

    from idp.errors import IdpError

    # Start-up configuration and OS permission errors are not shown to users.
    outside = {"idp.config.ConfigError", "idp.oidc.key_files.ForeignWriterError"}
    for module, _ in modules():
        loaded = importlib.import_module(module)
        for name, cls in inspect.getmembers(loaded, inspect.isclass):
            if cls.__module__ != module or not issubclass(cls, Exception):
                continue
            if f"{module}.{name}" in outside:
                continue
            assert issubclass(cls, IdpError), f"{module}.{name} is not an IdpError"
            assert cls.code != IdpError.code or cls is IdpError, f"{module}.{name} needs a code"
