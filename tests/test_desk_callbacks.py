"""The callback list (折り返し), the hand-off to the salon's own system, Ctrl+C, and what the card
shows after a restart: on the real Tk window (Xvfb), with cti.db on disk and real second processes."""

import sys
from pathlib import Path

import pytest

import cti
from conftest import MEMBER, UNKNOWN, caller, poll_until, press, pump, screenshot


def open_callbacks(app):
    window = app.window.open_callbacks()
    return window, [window.list.item(i, "values") for i in window.list.get_children()]


def test_calls_not_yet_returned_are_listed_and_marked_with_who_and_when(app):
    app.call(MEMBER)
    app.call(UNKNOWN)
    app.call(MEMBER)
    app.call(None, "private")                                          # no number: nobody to call back
    assert app.window.card.callbacks["text"] == "不在 2"
    window, rows = open_callbacks(app)
    assert [(r[1], r[2], r[3], r[4]) for r in rows] == [("2回", "0596-31-0005", "ペンギン貴子", "未"),
                                                         ("1回", "090-8765-4321", "未登録", "未")]
    assert window.list.selection() == (MEMBER,)
    window.by.set("佐藤")
    assert window.button_done.invoke()
    assert app.window.card.banner["text"] == "折り返し済にしました: ペンギン貴子 様"
    assert app.window.card.callbacks["text"] == "不在 1"
    rows = [window.list.item(i, "values") for i in window.list.get_children()]
    assert rows[0][2] == "090-8765-4321" and rows[1][4].startswith("折り返し済 ") and rows[1][4].endswith(" 佐藤")
    screenshot(window, "callbacks.png")                                  # docs/callbacks.png in the README
    press(window, "Escape")
    assert not window.winfo_exists()


def test_the_callback_list_survives_a_restart(make_app, tmp_path):
    first = make_app()
    first.call(UNKNOWN)
    first.window.stop()
    first.db.close()
    again = make_app()                                                 # the same folder: the same cti.db
    assert again.window.card.callbacks["text"] == "不在 1"
    assert caller(again)["number"] == "090-8765-4321"                  # the card shows the last call again
    assert again.window.card["background"] != cti.CARD_HIGHLIGHT       # not as a new call


def test_an_answered_call_is_not_on_the_list(app):
    """A source that tells (SIP's CANCEL with "Call completed elsewhere") takes the call off."""
    app.events.put(cti.Call(MEMBER, protocol="sip", key="k1", received=cti.datetime.now()))
    assert pump(app.root, lambda: app.window.card.callbacks["text"] == "不在 1")
    app.events.put(cti.Call(MEMBER, protocol="sip", key="k1", answered=True))
    assert pump(app.root, lambda: app.window.card.callbacks["text"] == "不在 0")


def test_ctrl_c_copies_the_number_on_the_card(app):
    app.call(MEMBER)
    press(app.root, "Control-c")
    assert app.root.clipboard_get() == MEMBER
    assert app.window.card.banner["text"] == "番号をコピーしました: 0596-31-0005"


RECORDER = "import sys, json; open(sys.argv[1], 'a').write(json.dumps(sys.argv[2:]) + '\\n')"


@pytest.fixture
def handoff_app(make_app, tmp_path, monkeypatch):
    """A [handoff] with a URL and a program: the 'browser' (BROWSER) and the 'POS' are real second
    processes that write what they were given."""
    browser = tmp_path / "browser.sh"
    browser.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$1\" >> {tmp_path / 'opened.txt'}\n")
    browser.chmod(0o755)
    monkeypatch.setenv("BROWSER", str(browser))
    monkeypatch.setattr(cti.webbrowser, "_tryorder", None)           # read BROWSER again, as a fresh process does
    (tmp_path / "pos.py").write_text(RECORDER)

    def make(auto=False):
        return make_app(handoff_url="https://salon.example.jp/search?tel={number}&name={name}",
                        handoff_program=Path(sys.executable), handoff_auto=auto,
                        handoff_arguments=(str(tmp_path / "pos.py"), str(tmp_path / "given.txt"),
                                           "/tel", "{number_hyphen}", "/name={name}", "{member_no}"))
    return make


def test_the_hand_off_button_and_key_give_the_caller_to_the_salons_system(handoff_app, tmp_path):
    app = handoff_app()
    assert app.window.card.handoff["text"] == "カルテを開く (F11)"
    app.call(MEMBER)
    press(app.root, "F11")
    given = tmp_path / "given.txt"
    assert poll_until(lambda: given.exists() and given.read_text(), 10)
    assert cti.json.loads(given.read_text().splitlines()[0]) == ["/tel", "0596-31-0005", "/name=ペンギン貴子", "AC00001"]
    opened = tmp_path / "opened.txt"
    assert poll_until(lambda: opened.exists() and opened.read_text(), 10)
    assert opened.read_text().strip() == ("https://salon.example.jp/search?tel=0596310005&name="
                                          "%E3%83%9A%E3%83%B3%E3%82%AE%E3%83%B3%E8%B2%B4%E5%AD%90")
    assert app.window.card.banner["text"] == "カルテを開く: ペンギン貴子 様 を渡しました"
    screenshot(app.root, "handoff.png")                                  # docs/handoff.png in the README
    app.call(UNKNOWN)
    app.window.card.handoff.invoke()                                   # an unknown caller: the number only
    assert poll_until(lambda: len(given.read_text().splitlines()) == 2, 10)
    assert cti.json.loads(given.read_text().splitlines()[1]) == ["/tel", "090-8765-4321", "/name=", ""]
    app.call(None, "private")
    assert app.window.card.handoff.instate(["disabled"])


def test_the_hand_off_runs_by_itself_on_a_member_call(handoff_app, tmp_path):
    app = handoff_app(auto=True)
    app.call(UNKNOWN)                                                  # not a member: not handed on
    app.call(MEMBER)
    given = tmp_path / "given.txt"
    assert poll_until(lambda: given.exists() and given.read_text(), 10)
    assert len(given.read_text().splitlines()) == 1 and "AC00001" in given.read_text()


def test_a_broken_hand_off_template_is_told_at_start(tmp_path):
    ini = tmp_path / "cti.ini"
    ini.write_text("[handoff]\nurl = https://x.example/?tel={tel}\narguments = /n {name\n", encoding="utf-8")
    config, problems = cti.load_config(ini)
    assert not config.handoff
    assert problems == ["[handoff] url = https://x.example/?tel={tel}: {tel} は使えません（使えるのは {number} "
                        "{number_hyphen} {member_no} {name}）",
                        "[handoff] arguments = /n {name: { と } の対が合っていません（{number} のように書きます）"]


def test_a_confirmation_stays_in_view_and_nothing_flashes_as_a_call(app):
    """登録しました was replaced at once by the re-read of the file it wrote, and the card turned yellow
    (たった今) as for a new call: watched here for 3 s (the re-read comes within 2 s)."""
    app.call(UNKNOWN)
    pump(app.root, lambda: app.window.card["background"] != cti.CARD_HIGHLIGHT, timeout=5)
    dialog = app.window.open_register()
    dialog.vars["name"].set("新井さくら")
    dialog.button_ok.invoke()
    seen = set()
    deadline = cti.time.monotonic() + 3
    while cti.time.monotonic() < deadline:
        app.root.update()
        seen.add((app.window.card.banner["text"], app.window.card["background"] == cti.CARD_HIGHLIGHT))
        cti.time.sleep(0.02)
    assert seen == {("登録しました: AC00009 新井さくら 様", False)}, seen
