"""Every visible string is marked for translation, and every marked string is in Spanish."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
CATALOGUES = ROOT / "idp" / "translations"
KEYWORDS = {
    "_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "lazy_gettext": None,
    "_l": None,
    "lazy_ngettext": (1, 2),
}
METHODS = [
    ("idp/**.py", "python"),
    ("templates/**.html", "jinja2"),
    ("templates/**.txt", "jinja2"),
]
# {% trans %}…{% endtrans %} (marked), then every other Jinja tag, expression and comment.
TRANS_BLOCK = re.compile(r"{%-?\s*trans\b.*?{%-?\s*endtrans\s*-?%}", re.DOTALL)
JINJA = re.compile(r"{{.*?}}|{%.*?%}|{#.*?#}", re.DOTALL)
LETTERS = re.compile(r"[^\W\d_]{2,}")
# Shown to people but not words of ours: commands, a mail header, product and method names.
ALLOWED = {"Subject:"}
# Elements whose text is code or data, not prose.
VERBATIM = {"script", "style", "code", "pre"}
VISIBLE_ATTRIBUTES = {"alt", "title", "placeholder", "aria-label"}


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self.verbatim = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in VERBATIM:
            self.verbatim += 1
        self.found += [v for k, v in attrs if k in VISIBLE_ATTRIBUTES and v]

    def handle_endtag(self, tag: str) -> None:
        if tag in VERBATIM:
            self.verbatim -= 1

    def handle_data(self, data: str) -> None:
        if not self.verbatim:
            self.found.append(data)


def unmarked(source: str, *, html: bool) -> list[str]:
    """Text a template shows that no {% trans %} or _() covers."""
    bare = JINJA.sub(" ", TRANS_BLOCK.sub(" ", source))
    if html:
        parser = _Text()
        parser.feed(bare)
        pieces = parser.found
    else:
        pieces = bare.splitlines()
    texts = (" ".join(piece.split()) for piece in pieces)
    return [t for t in texts if t and t not in ALLOWED and LETTERS.search(t)]


def _templates() -> list[Path]:
    return sorted(p for p in TEMPLATES.rglob("*") if p.suffix in {".html", ".txt"})


@pytest.mark.parametrize("path", _templates(), ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_every_visible_string_is_marked(path: Path) -> None:
    found = unmarked(path.read_text(), html=path.suffix == ".html")
    assert not found, f"{path.name}: wrap in {{% trans %}} or _(): {found}"


def test_the_checker_sees_an_unmarked_string() -> None:
    assert unmarked("<p>{{ _('Hello') }} <b>world</b></p>", html=True) == ["world"]
    assert unmarked('<img alt="A cat">{% trans %}Hi{% endtrans %}', html=True) == ["A cat"]
    assert unmarked("Subject: {% trans %}Hi{% endtrans %}\n\nBye {{ name }}", html=False) == ["Bye"]


def extracted() -> dict[object, set[str]]:
    """Every marked message (msgid, or (singular, plural)) and the files it comes from."""
    found: dict[object, set[str]] = {}
    options = {"**.html": {"trimmed": "true"}, "**.txt": {"trimmed": "true"}}
    for filename, _lineno, message, _comments, _context in extract_from_dir(
        ROOT, METHODS, options_map=options, keywords=KEYWORDS
    ):
        if filename.startswith(("templates/", "idp/")):
            key = message if isinstance(message, str) else tuple(message[:2])
            found.setdefault(key, set()).add(filename)
    return found


@pytest.fixture(scope="module")
def spanish():
    with (CATALOGUES / "es" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return read_po(fh)


def test_the_spanish_catalogue_has_every_message(spanish) -> None:
    missing = []
    for key, files in extracted().items():
        msgid = key[0] if isinstance(key, tuple) else key
        entry = spanish.get(msgid)
        strings = entry.string if entry is not None else None
        translated = all(strings) if isinstance(strings, tuple) else bool(strings)
        if entry is None or entry.fuzzy or not translated:
            missing.append(f"{msgid!r} ({', '.join(sorted(files))})")
    assert not missing, "untranslated in es/messages.po:\n" + "\n".join(missing)


def test_spanish_keeps_every_placeholder(spanish) -> None:
    placeholder = re.compile(r"%\((\w+)\)[sd]")
    for entry in spanish:
        if not entry.id:
            continue
        ids = entry.id if isinstance(entry.id, tuple) else (entry.id,)
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        wanted = set(placeholder.findall(ids[-1]))
        for text in strings:
            assert set(placeholder.findall(text)) <= wanted | set(placeholder.findall(ids[0]))
            assert wanted - {"count", "num"} <= set(placeholder.findall(text)), entry.id


def test_every_language_offered_has_a_catalogue() -> None:
    from idp.translations import LANGUAGES

    for language in LANGUAGES[1:]:
        assert (CATALOGUES / language / "LC_MESSAGES" / "messages.po").is_file(), language


def test_a_fresh_checkout_compiles_its_catalogues(tmp_path: Path) -> None:
    """Only .po files are committed: start-up (and `make translations`) writes the .mo."""
    import shutil

    from idp.translations import compile_catalogues

    shutil.copytree(CATALOGUES / "es", tmp_path / "es", ignore=shutil.ignore_patterns("*.mo"))
    assert compile_catalogues(tmp_path) == [tmp_path / "es" / "LC_MESSAGES" / "messages.mo"]
    assert compile_catalogues(tmp_path) == []  # up to date: nothing rewritten
