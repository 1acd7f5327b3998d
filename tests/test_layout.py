"""The map of cti.py stays true: each section calls only those above it, and the module
docstring lists every section, in order (read with ast, nothing imported)."""
import ast
import re
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parent.parent / "cti.py"
BANNER = re.compile(r"^#{79}\n# (?P<title>.+?) #+\n#{79}$", re.MULTILINE)
PRELUDE = "(before the first banner)"


def banners(text: str) -> list[tuple[int, str]]:
    """(first line, title) of each ### banner, in order."""
    return [(text.count("\n", 0, m.start()) + 1, m["title"]) for m in BANNER.finditer(text)]


def module_statements(body):
    """The module's top-level statements, looking inside `if`/`try`/`with` (the platform's `if WINDOWS:`)."""
    for node in body:
        if isinstance(node, (ast.If, ast.Try, ast.With)):
            for field in ("body", "orelse", "finalbody"):
                yield from module_statements(getattr(node, field, []))
            for handler in getattr(node, "handlers", []):
                yield from module_statements(handler.body)
        else:
            yield node


def bound_names(node) -> set[str]:
    """The names a module-level statement defines."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
    return {n.id for t in targets if t is not None for n in ast.walk(t) if isinstance(n, ast.Name)}


def local_names(function) -> set[str]:
    """The names a function (or lambda) binds itself: its parameters and whatever it assigns or defines."""
    names = {a.arg for a in ast.walk(function.args) if isinstance(a, ast.arg)}
    for n in ast.walk(function):
        if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load):
            names.add(n.id)
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and n is not function:
            names.add(n.name)
        elif isinstance(n, ast.ExceptHandler) and n.name:
            names.add(n.name)
        elif isinstance(n, (ast.Import, ast.ImportFrom)):
            names |= {(alias.asname or alias.name).split(".")[0] for alias in n.names}
    return names


def upward_references(text: str) -> list[str]:
    """Each use of a module-level name from a section further down, as 'line: section uses name (section)'."""
    starts = banners(text)

    def section_of(line: int) -> tuple[int, str]:
        found = (-1, PRELUDE)
        for index, (start, title) in enumerate(starts):
            if start <= line:
                found = (index, title)
        return found

    tree = ast.parse(text)
    defined = {}
    for node in module_statements(tree.body):
        for name in bound_names(node):
            defined.setdefault(name, section_of(node.lineno))
    found = []

    def visit(node, section, local):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            local = local | local_names(node)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id not in local:
            where = defined.get(node.id)
            if where and where[0] > section[0]:
                found.append(f"{node.lineno}: {section[1]} uses {node.id} ({where[1]})")
        for child in ast.iter_child_nodes(node):
            visit(child, section, local)

    for node in tree.body:
        visit(node, section_of(node.lineno), frozenset())
    return found


def unmapped_sections(text: str) -> list[str]:
    """Banner titles the module docstring does not list, each on a line of its own in banner order."""
    docstring = ast.get_docstring(ast.parse(text))
    listed = [line.strip() for line in docstring.splitlines()]
    missing, position = [], -1
    for _, title in banners(text):
        if title not in listed[position + 1:]:
            missing.append(title)
        else:
            position = listed.index(title, position + 1)
    return missing


def test_no_section_calls_one_further_down():
    assert upward_references(SOURCE.read_text(encoding="utf-8")) == []


def test_the_docstring_lists_every_section_in_order():
    text = SOURCE.read_text(encoding="utf-8")
    assert len(banners(text)) >= 13
    assert unmapped_sections(text) == []


FAKE = '''"""A module.

  First
      what it holds
  Second
"""
###############################################################################
# First #######################################################################
###############################################################################
def low():
    return high()


def fine(high=1):
    return high + (lambda low: low)(2)


###############################################################################
# Second ######################################################################
###############################################################################
if True:
    def high():
        return low()
###############################################################################
# Third #######################################################################
###############################################################################
'''


def test_the_checks_find_what_they_are_for():
    """Each check fails on a file that breaks it: a call up into a later section (also one defined
    inside the platform's `if`), not a parameter or lambda of the same name; a banner not listed."""
    assert upward_references(FAKE) == ["11: First uses high (Second)"]
    assert unmapped_sections(FAKE) == ["Third"]
    assert unmapped_sections(FAKE.replace("  First\n", "").replace("  Second\n", "  Second\n  First\n")) == [
        "Second", "Third"]                                  # listed, but out of order


def section_text(docstring: str, title: str) -> str:
    """What the docstring's map says a section holds: the indented lines under its title."""
    return re.search(rf"^  {re.escape(title)}\n((?:    .*\n?)*)", docstring, re.MULTILINE)[1]


@pytest.mark.parametrize("room, section", [
    ("CARD_COLOURS", "UI: what the window says"),         # "the card shows the wrong colour"
    ("next_member_no", "Store: members.csv"),             # "a registration's number"
    ("Register", "Store: members.csv"),                   # the change a registration is (named as a word)
    ("MemberTable", "Store: members.csv"),                # "the pending file"
    ("WINDOWS", "Platform: Windows and X11"),
    ("file_problem", "Errors: what cti tells people, in one vocabulary"),
])
def test_the_map_names_the_room_where_it_is(room, section):
    """A name the map gives for a section is defined in that section."""
    text = SOURCE.read_text(encoding="utf-8")
    tree = ast.parse(text)
    assert re.search(rf"\b{room}\b", section_text(ast.get_docstring(tree), section))
    line = next(n.lineno for n in module_statements(tree.body) if room in bound_names(n))
    assert [title for start, title in banners(text) if start <= line][-1] == section


@pytest.mark.parametrize("name", ["survive_windows_destroyed_by_others", "x_tray_host", "parse_hwnd", "WINDOWS"])
def test_platform_code_lives_in_the_platform_section(name):
    text = SOURCE.read_text(encoding="utf-8")
    line = next(n.lineno for n in module_statements(ast.parse(text).body) if name in bound_names(n))
    assert [title for start, title in banners(text) if start <= line][-1] == "Platform: Windows and X11"


def test_the_platform_is_asked_in_one_place():
    """WINDOWS is the only os.name / sys.platform test; everything else asks it."""
    text = SOURCE.read_text(encoding="utf-8")
    assert re.findall(r".*(?:os\.name|sys\.platform) *[=!]=.*", text) == ['WINDOWS = os.name == "nt"']
