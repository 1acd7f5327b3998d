"""Caller-ID decoders: byte-exact vectors, the sample captures, chunking, noise, CRC, every format's rules."""

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

import cti
from conftest import FakeClock, FakeMonotonic, aloha_record

HERE = Path(__file__).resolve().parent
CTI_PY = HERE.parent / "cti.py"
CAPTURES = HERE / "data"          # copies of ../shared/data/captures, so a checkout tests on its own
PROTOCOL_DOC = HERE.parents[1] / "shared" / "docs" / "callerid-protocols.md"
CAPTURE_FILES = {"nd.bin": "nd", "aloha.bin": "aloha", "modem.txt": "modem", "ncid.txt": "ncid",
                 "whozz.txt": "whozz"}

NOW = datetime(2026, 11, 25, 12, 0)


fixed_now = FakeClock(NOW)


def calls(events):
    return [e for e in events if isinstance(e, cti.Call)]


def summary(events):
    """(number, reason, name, time) of each call: what a test compares."""
    return [(c.number, c.reason, c.name, c.time) for c in calls(events)]


def feed_all(decoder, *chunks, final=True):
    events = []
    for chunk in chunks:
        events += decoder.feed(chunk)
    return events + decoder.flush(final=final) if final else events


def decoder(protocol, **kw):
    kw.setdefault("now", fixed_now)
    return cti.make_decoder(protocol, **kw)


###############################################################################
# Number Display test vectors (callerid-protocols.md §1.4)

NUMBER_0312 = [(0x02, b"0312345678")]
# name -> (params, on-wire bytes exactly as in §1.4, CRC, expected (number, reason))
ND_VECTORS = {
    "fixed": (NUMBER_0312,
              "90 81 87 90 82 C0 0C 82 0A 30 33 B1 B2 33 B4 35 36 B7 B8 90 03 FB 52",
              0x52FB, ("0312345678", None)),
    "mobile": ([(0x02, b"09012345678")],
               "90 81 87 90 82 C0 8D 82 8B 30 39 30 B1 B2 33 B4 35 36 B7 B8 90 03 47 9C",
               0x9C47, ("09012345678", None)),
    "P": ([(0x04, b"P")], "90 81 87 90 82 C0 03 84 81 50 90 03 1E EE", 0xEE1E, (None, "private")),
    "O": ([(0x04, b"O")], "90 81 87 90 82 C0 03 84 81 CF 90 03 A0 2D", 0x2DA0, (None, "out_of_area")),
    "C": ([(0x04, b"C")], "90 81 87 90 82 C0 03 84 81 C3 90 03 03 88", 0x8803, (None, "payphone")),
    "S": ([(0x04, b"S")], "90 81 87 90 82 C0 03 84 81 53 90 03 7A 01", 0x017A, (None, "conflict")),
    "ext-info": (NUMBER_0312 + [(0x21, b"\x02\x00\x01")],
                 "90 81 87 90 82 C0 11 82 0A 30 33 B1 B2 33 B4 35 36 B7 B8 21 03 82 00 81 90 03 D5 F7",
                 0xF7D5, ("0312345678", None)),
    "date+number": ([(0x01, b"11241230")] + NUMBER_0312,
                    "90 81 87 90 82 C0 96 81 88 B1 B1 B2 B4 B1 B2 33 30 82 0A 30 33 B1 B2 33 B4 35 36 B7 B8 "
                    "90 03 6E 15", 0x156E, ("0312345678", None)),
}
STRIPPED_FIXED = "10 01 07 10 02 40 0C 02 0A 30 33 31 32 33 34 35 36 37 38 10 03 FB 52"


def vector(name) -> bytes:
    return bytes.fromhex(ND_VECTORS[name][1])


def test_crc16_kermit_check_value():
    assert cti.crc16_kermit(b"123456789") == 0x2189
    assert cti.crc16_kermit(b"") == 0


def test_even_parity():
    assert [cti.even_parity(b) for b in (0x10, 0x01, 0x07, 0x02, 0x40, 0x30, 0x31, 0x06, 0x15)] == \
           [0x90, 0x81, 0x87, 0x82, 0xC0, 0x30, 0xB1, 0x06, 0x95]
    assert all(cti.has_even_parity(cti.even_parity(b)) for b in range(256))


@pytest.mark.parametrize("name", ND_VECTORS)
def test_nd_vector_bytes_are_exactly_as_documented(name, nd_frame):
    params, wire, crc, _ = ND_VECTORS[name]
    frame = nd_frame(params)
    assert frame == bytes.fromhex(wire)
    assert frame[-2:] == bytes([crc & 0xFF, crc >> 8])          # low byte first
    assert cti.crc16_kermit(frame[2:-2]) == crc
    assert cti.crc16_kermit(frame[2:]) == 0                      # residue over header..CRC


@pytest.mark.skipif(not PROTOCOL_DOC.exists(), reason="../shared/docs is not beside this checkout")
def test_the_vectors_here_are_the_documents_vectors():
    doc = " ".join(PROTOCOL_DOC.read_text(encoding="utf-8").split())
    for _, wire, _, _ in ND_VECTORS.values():
        assert wire in doc
    assert STRIPPED_FIXED.rsplit(" ", 2)[0] in doc


@pytest.mark.parametrize("name", ND_VECTORS)
def test_nd_vector_decodes(name):
    _, _, _, expected = ND_VECTORS[name]
    events = decoder("nd").feed(vector(name))
    assert summary(events) == [expected + (None, None)]
    assert calls(events)[0].protocol == "nd"
    assert not [e for e in events if isinstance(e, cti.Garbled)]


def test_nd_frame_with_parity_stripped_by_the_device(nd_frame):
    frame = nd_frame(NUMBER_0312, parity=False)
    assert frame == bytes.fromhex(STRIPPED_FIXED)
    assert summary(decoder("nd").feed(frame)) == [("0312345678", None, None, None)]


@pytest.mark.parametrize("name", ND_VECTORS)
def test_nd_frame_split_at_every_byte_boundary(name):
    frame = vector(name)
    _, _, _, expected = ND_VECTORS[name]
    for cut in range(1, len(frame)):
        d = decoder("nd")
        assert summary(d.feed(frame[:cut]) + d.feed(frame[cut:])) == [expected + (None, None)], cut
    d = decoder("nd")
    assert summary(sum((d.feed(frame[i:i + 1]) for i in range(len(frame))), [])) == [expected + (None, None)]


def test_two_frames_in_one_chunk():
    events = decoder("nd").feed(vector("fixed") + vector("mobile"))
    assert [c.number for c in calls(events)] == ["0312345678", "09012345678"]


def test_noise_before_and_between_frames():
    noise = bytes([0x44, 0x20, 0x82, 0x3C, 0xFD, 0xE6, 0xF1, 0x00, 0xFF])
    events = decoder("nd").feed(noise + vector("fixed") + noise + vector("P") + b"\x90\x90\x10" + vector("mobile"))
    assert summary(events) == [("0312345678", None, None, None), (None, "private", None, None),
                               ("09012345678", None, None, None)]
    garbled = [e for e in events if isinstance(e, cti.Garbled)]
    assert garbled[0].offset == 0 and "9 バイトの雑音" in garbled[0].message


@pytest.mark.parametrize("name", ["fixed", "mobile", "P", "ext-info", "date+number"])
def test_every_single_bit_flip_is_rejected_and_the_next_frame_still_decodes(name):
    frame = vector(name)
    good = vector("S")
    for i in range(len(frame)):
        for bit in range(8):
            bad = bytearray(frame)
            bad[i] ^= 1 << bit
            events = decoder("nd").feed(bytes(bad))
            assert calls(events) == [], (i, bit)       # never a call, let alone a wrong number
            events = decoder("nd").feed(bytes(bad) + good)
            assert summary(events) == [(None, "conflict", None, None)], (i, bit)


@pytest.mark.parametrize("name", ["fixed", "mobile", "O"])
def test_a_wrong_crc_is_never_a_call(name):
    frame = vector(name)
    for crc in (0x0000, 0xFFFF, int.from_bytes(frame[-2:], "big")):     # incl. the CRC sent high byte first
        bad = frame[:-2] + crc.to_bytes(2, "little")
        assert bad != frame
        assert calls(decoder("nd").feed(bad)) == []


def test_a_frame_that_lost_its_last_crc_byte_does_not_swallow_the_next_frame():
    events = decoder("nd").feed(vector("fixed")[:-1] + vector("mobile"))
    assert summary(events) == [("09012345678", None, None, None)]


def test_noise_that_looks_like_a_frame_start_does_not_hide_a_frame():
    for noise in (b"\x90\x81\x33\x90\x03", b"\x90\x81\x33\x90", b"\x10\x01\x41\x10\x10", b"\x90\x81" * 3):
        events = decoder("nd").feed(noise + vector("mobile"))
        assert summary(events) == [("09012345678", None, None, None)], noise


def test_dle_doubling_of_a_message_length_of_16(nd_frame):
    frame = nd_frame([(0x02, b"02004512345671")])        # 14 digits: message length 16 = DLE
    assert frame[5:8] == bytes([0xC0, 0x90, 0x90])         # service 40, then the length sent as 90 90
    assert summary(decoder("nd").feed(frame)) == [("02004512345671", None, None, None)]


def test_dle_doubling_inside_the_parameters(nd_frame):
    frame = nd_frame([(0x02, b"0312345678901234")])      # parameter length 16, message length 18
    assert bytes([0x82, 0x90, 0x90]) in frame
    for cut in range(1, len(frame)):
        d = decoder("nd")
        assert [c.number for c in calls(d.feed(frame[:cut]) + d.feed(frame[cut:]))] == ["0312345678901234"]


def test_unknown_parameters_are_skipped_by_their_length(nd_frame):
    frame = nd_frame([(0x07, b"\x31\x32\x33"), (0x09, b"0612345678"), (0x02, b"0596310005"), (0x13, b"x")])
    assert [c.number for c in calls(decoder("nd").feed(frame))] == ["0596310005"]


def test_frame_without_number_or_reason_is_not_a_call(nd_frame):
    events = decoder("nd").feed(nd_frame([(0x21, b"\x02\x00\x01")]))
    assert calls(events) == []
    assert [e.message for e in events] == ["番号も非通知理由もないフレームです"]


@pytest.mark.parametrize("number", ["0120444555", "05012345678", "09087654321", "08001234567", "0570123456"])
def test_nd_numbers(number, nd_frame):
    assert [c.number for c in calls(decoder("nd").feed(nd_frame([(0x02, number.encode())])))] == [number]


###############################################################################
# The sample captures

def expected_calls(name):
    text = (CAPTURES / f"{name}.expected.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def assert_calls_match(actual: list[dict], expected: list[dict]):
    assert len(actual) == len(expected), (actual, expected)
    for got, want in zip(actual, expected):
        assert set(got) == {"number", "reason", "name", "time"}
        assert (got["number"], got["reason"], got["name"]) == (want["number"], want["reason"], want["name"])
        if want["time"] is not None and want["time"].startswith("-"):
            assert got["time"] is not None and got["time"].endswith(want["time"]), (got, want)
            assert len(got["time"]) == len("YYYY") + len(want["time"])
        else:
            assert got["time"] == want["time"]


def test_every_capture_has_its_expected_output():
    assert sorted(p.name for p in CAPTURES.iterdir() if not p.name.endswith(".expected.jsonl")) == \
           sorted(CAPTURE_FILES)


@pytest.mark.parametrize("how", ["named", "auto"])
@pytest.mark.parametrize("name", CAPTURE_FILES)
def test_capture_decodes_to_its_expected_calls(name, how):
    raw = (CAPTURES / name).read_bytes()
    events = cti.decode_capture(raw, CAPTURE_FILES[name] if how == "named" else "auto")
    assert_calls_match([json.loads(c.to_json()) for c in calls(events)], expected_calls(name))
    assert {c.protocol for c in calls(events)} == {CAPTURE_FILES[name]}


def test_capture_problems_are_reported():
    def messages(name):
        events = cti.decode_capture((CAPTURES / name).read_bytes(), CAPTURE_FILES[name])
        return [e.message for e in events if isinstance(e, cti.Garbled)]
    assert any("パリティ誤り" in m for m in messages("nd.bin"))          # the frame with a flipped bit
    assert any("受信エラー (E)" in m for m in messages("aloha.bin"))
    assert any("(B)" in m for m in messages("whozz.txt"))


def test_capture_years_follow_the_clock():
    events = cti.decode_capture((CAPTURES / "modem.txt").read_bytes(), "modem", now=fixed_now)
    assert calls(events)[0].time == datetime(2026, 11, 24, 10, 15)
    events = cti.decode_capture((CAPTURES / "modem.txt").read_bytes(), "modem",
                                now=lambda: datetime(2027, 1, 3, 9, 0))
    assert calls(events)[0].time == datetime(2026, 11, 24, 10, 15)    # November is last year in January


@pytest.mark.parametrize("name", CAPTURE_FILES)
def test_capture_split_at_every_byte_boundary(name):
    raw = (CAPTURES / name).read_bytes()
    protocol = CAPTURE_FILES[name]

    def run(*chunks):
        d = decoder(protocol, repeat_window=float("inf"))
        events = feed_all(d, *chunks)
        return [c.to_json() for c in calls(events)], [e.data for e in events if isinstance(e, cti.Reply)]

    whole = run(raw)
    assert len(whole[0]) == len(expected_calls(name))
    for cut in range(1, len(raw)):
        assert run(raw[:cut], raw[cut:]) == whole, cut
    assert run(*(raw[i:i + 1] for i in range(len(raw)))) == whole


@pytest.mark.parametrize("name", CAPTURE_FILES)
def test_cli_decodes_the_capture(name):
    out = subprocess.run([sys.executable, str(CTI_PY), "--decode", str(CAPTURES / name),
                          "--protocol", CAPTURE_FILES[name]], capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr.decode()
    lines = out.stdout.decode("utf-8").splitlines()
    assert_calls_match([json.loads(line) for line in lines], expected_calls(name))


def test_cli_decodes_standard_input_with_auto_detection():
    raw = (CAPTURES / "nd.bin").read_bytes()
    out = subprocess.run([sys.executable, str(CTI_PY), "--decode", "-"], input=raw, capture_output=True, timeout=60)
    assert out.returncode == 0
    assert_calls_match([json.loads(line) for line in out.stdout.decode().splitlines()], expected_calls("nd.bin"))
    assert "バイト目" in out.stderr.decode("utf-8")          # what could not be decoded, with its offset


def test_cli_unreadable_file_exits_2(tmp_path):
    out = subprocess.run([sys.executable, str(CTI_PY), "--decode", str(tmp_path / "none.bin")],
                         capture_output=True, timeout=60)
    assert out.returncode == 2
    assert out.stdout == b""


def test_debug_log_hex_capture_decodes():
    frames = [vector("fixed"), vector("P"), vector("mobile")]
    stream = b"\x00\x44" + b"".join(frames)
    lines = ["2026-11-25 11:59:59,500 INFO cti 装置: COM3 に接続しました。着信を待っています (connected)"]
    for i in range(0, len(stream), 7):                   # the reader logs whatever each read returned
        lines.append(f"2026-11-25 12:00:00,{i:03d} DEBUG cti RX {stream[i:i + 7].hex(' ')}")
        if i == 14:
            lines.append("2026-11-25 12:00:00,100 INFO cti 着信 (nd)")
    log_text = ("\r\n".join(lines) + "\r\n").encode("utf-8")
    assert cti.capture_bytes(log_text) == stream
    assert [c.number or c.reason for c in calls(cti.decode_capture(log_text, "nd"))] == \
           ["0312345678", "private", "09012345678"]
    assert [c.number or c.reason for c in calls(cti.decode_capture(log_text))] == \
           ["0312345678", "private", "09012345678"]


def test_capture_bytes_keeps_a_plain_capture():
    for name in CAPTURE_FILES:
        raw = (CAPTURES / name).read_bytes()
        assert cti.capture_bytes(raw) == raw


###############################################################################
# Reasons and numbers, per format

REASON_LETTERS = {"P": "private", "O": "out_of_area", "C": "payphone", "S": "conflict"}


@pytest.mark.parametrize("letter", REASON_LETTERS)
def test_reason_nd(letter, nd_frame):
    assert summary(decoder("nd").feed(nd_frame([(0x04, letter.encode())]))) == \
           [(None, REASON_LETTERS[letter], None, None)]


@pytest.mark.parametrize("letter", REASON_LETTERS)
def test_reason_aloha(letter):
    events = decoder("aloha").feed(aloha_record(f"112431015{letter}"))
    assert summary(events) == [(None, REASON_LETTERS[letter], None, datetime(2026, 11, 24, 10, 15))]


@pytest.mark.parametrize("letter", REASON_LETTERS)
def test_reason_modem(letter):
    events = feed_all(decoder("modem"), f"RING\r\n\r\nDATE = 1124\r\nTIME = 1015\r\nNMBR = {letter}\r\nRING\r\n".encode())
    assert summary(events) == [(None, REASON_LETTERS[letter], None, datetime(2026, 11, 24, 10, 15))]


@pytest.mark.parametrize("number", ["0120444555", "05012345678", "09087654321"])
def test_numbers_in_every_text_format(number):
    aloha = calls(decoder("aloha").feed(aloha_record(f"112431015{number}")))
    modem = calls(feed_all(decoder("modem"), f"DATE=1124\r\nTIME=1015\r\nNMBR={number}\r\nRING\r\n".encode()))
    ncid = calls(decoder("ncid").feed(
        f"CID: *DATE*11242026*TIME*1015*LINE*-*NMBR*{number}*MESG*NONE*NAME*NO NAME*\r\n".encode()))
    whozz = calls(decoder("whozz").feed(
        f"^^<U>000001<S>345678$01 I S 0000 G A1 11/24 10:15 AM {number:<15}TANAKA\r\n".encode()))
    for events in (aloha, modem, ncid, whozz):
        assert [(c.number, c.reason, c.time) for c in events] == [(number, None, datetime(2026, 11, 24, 10, 15))]


###############################################################################
# アロハ adapters

def test_aloha_acks_a_good_record():
    events = decoder("aloha").feed(aloha_record("020131010" "08012345678"))
    assert events[0] == cti.Reply(b"\x06")
    assert summary(events) == [("08012345678", None, None, datetime(2026, 2, 1, 10, 10))]


def test_aloha_naks_a_parity_error_and_takes_the_resent_record():
    good = aloha_record("112431015" "0451234567")
    bad = bytearray(good)
    bad[12] ^= 0x01                            # one data bit: the byte's parity is now odd
    d = decoder("aloha", clock=FakeMonotonic())
    events = d.feed(bytes(bad))
    assert [e for e in events if isinstance(e, cti.Reply)] == [cti.Reply(b"\x95")]   # NAK with even parity
    assert calls(events) == []
    events = d.feed(good)
    assert events[0] == cti.Reply(b"\x06")
    assert [c.number for c in calls(events)] == ["0451234567"]


def test_aloha_every_flipped_bit_is_naked_never_a_wrong_call():
    good = aloha_record("112431015" "0451234567")
    for i in range(1, len(good) - 1):
        for bit in range(8):
            bad = bytearray(good)
            bad[i] ^= 1 << bit
            events = decoder("aloha").feed(bytes(bad))
            assert [c.number for c in calls(events)] in ([], ["0451234567"]), (i, bit)
            if bit == 7 or bin(bad[i]).count("1") % 2:
                assert cti.Reply(b"\x95") in events and calls(events) == [], (i, bit)


def test_aloha_error_record_is_not_a_call_but_acked():
    events = decoder("aloha").feed(aloha_record("112431015E"))
    assert events[0] == cti.Reply(b"\x06")
    assert calls(events) == []
    assert "受信エラー (E)" in events[1].message


def test_aloha_record_read_on_a_7e1_port_has_no_parity_bits():
    events = decoder("aloha").feed(aloha_record("112431015" "0596310005", parity=False))
    assert events[0] == cti.Reply(b"\x06")
    assert [c.number for c in calls(events)] == ["0596310005"]


def test_aloha_record_split_and_with_noise():
    record = aloha_record("112431015" "0120444555")
    for cut in range(1, len(record)):
        d = decoder("aloha")
        events = d.feed(b"\xff\x00" + record[:cut]) + d.feed(record[cut:] + b"\x13")
        assert [c.number for c in calls(events)] == ["0120444555"], cut
        assert [e for e in events if isinstance(e, cti.Reply)] == [cti.Reply(b"\x06")]


def test_aloha_record_cut_short_by_the_next_one():
    events = decoder("aloha").feed(aloha_record("1124310")[:-1] + aloha_record("112431015" "0451234567"))
    assert [c.number for c in calls(events)] == ["0451234567"]


###############################################################################
# Modems

def test_modem_one_call_per_ring_cycle():
    text = (b"RING\r\n\r\nRING\r\n\r\n"                                   # rings without caller ID: no call
            b"RING\r\n\r\nDATE = 1124\r\nTIME = 1015\r\nNMBR = 0451234567\r\nRING\r\n\r\nRING\r\n\r\nRING\r\n"
            b"\r\nDATE = 1124\r\nTIME = 1016\r\nNMBR = 0451234567\r\nRING\r\n")
    events = feed_all(decoder("modem"), text)
    assert summary(events) == [("0451234567", None, None, datetime(2026, 11, 24, 10, 15)),
                               ("0451234567", None, None, datetime(2026, 11, 24, 10, 16))]


@pytest.mark.parametrize("sep", ["=", " = ", "  =  ", "= "])
def test_modem_tag_spacing(sep):
    text = f"DATE{sep}1124\r\nTIME{sep}1102\r\nNMBR{sep}09087654321\r\nRING\r\n".encode()
    assert summary(feed_all(decoder("modem"), text)) == [("09087654321", None, None, datetime(2026, 11, 24, 11, 2))]


def test_modem_name_after_the_number_is_kept():
    text = b"RING\r\n\r\nDATE = 1124\r\nTIME = 1015\r\nNMBR = 0451234567\r\nNAME = TANAKA HANAKO\r\n\r\nRING\r\n"
    for cut in range(1, len(text)):
        d = decoder("modem")
        assert summary(d.feed(text[:cut]) + d.feed(text[cut:])) == \
               [("0451234567", None, "TANAKA HANAKO", datetime(2026, 11, 24, 10, 15))], cut


@pytest.mark.parametrize("name", ["O", "P", "NO NAME", ""])
def test_modem_no_name(name):
    text = f"DATE = 1124\r\nTIME = 1130\r\nNMBR = 09087654321\r\nNAME = {name}\r\nRING\r\n".encode()
    assert summary(feed_all(decoder("modem"), text)) == [("09087654321", None, None, datetime(2026, 11, 24, 11, 30))]


def test_modem_ddn_nmbr_and_noise_lines():
    text = b"ATZ\r\nOK\r\nAT+VCID=1\r\nOK\r\nRING\r\nDATE=1124\r\nTIME=0905\r\nDDN_NMBR=0596310005\r\nRING\r\n"
    assert summary(feed_all(decoder("modem"), text)) == [("0596310005", None, None, datetime(2026, 11, 24, 9, 5))]


def test_modem_idle_flush_completes_a_block_with_a_number():
    d = decoder("modem")
    assert d.feed(b"RING\r\n\r\nDATE = 1124\r\nTIME = 1015\r\nNMBR = 0451234567\r\n") == []
    assert summary(d.flush()) == [("0451234567", None, None, datetime(2026, 11, 24, 10, 15))]
    assert d.flush() == []
    assert calls(d.feed(b"RING\r\n")) == []                   # the next ring is not a second call


def test_modem_idle_flush_keeps_a_block_without_a_number():
    d = decoder("modem")
    assert d.feed(b"RING\r\n\r\nDATE = 1124\r\nTIME = 1015\r\n") == []
    assert d.flush() == []                                     # NMBR has not come yet: keep waiting
    assert d.feed(b"NMBR = 09087654321\r\n") == []
    assert summary(d.flush()) == [("09087654321", None, None, datetime(2026, 11, 24, 10, 15))]


def test_modem_end_of_input_completes_the_last_block():
    d = decoder("modem")
    d.feed(b"DATE = 1124\r\nTIME = 1015\r\nNMBR = 0451234567")
    assert [c.number for c in calls(d.flush(final=True))] == ["0451234567"]
    d = decoder("modem")
    d.feed(b"DATE = 1124\r\nTIME = 1015\r\n")
    assert d.flush(final=True) == []


def test_modem_reception_error_is_not_a_call():
    events = feed_all(decoder("modem"), b"DATE = 1124\r\nTIME = 1015\r\nNMBR = E\r\nRING\r\n")
    assert calls(events) == []
    assert "受信エラー (E)" in events[0].message


###############################################################################
# CallerID.com (Whozz Calling)

WHOZZ_HEADER = "^^<U>000001<S>345678$"


def whozz(record: str) -> bytes:
    return (WHOZZ_HEADER + record + "\r\n").encode()


def test_whozz_only_good_inbound_start_records_are_calls():
    records = [
        "01 I S 0000 G A1 11/24 03:20 PM 0451234567     TANAKA         ",
        "01 R             11/24 15:20:31",                                    # detail record
        "01 I E 0042 G A2 11/24 03:21 PM 0451234567     TANAKA         ",     # end record
        "02 O S 0000 G A0 11/24 03:30 PM 05099998888                   ",     # outbound
        "01 I S 0000 B A1 11/24 03:40 PM 0120444555     ??             ",     # bad checksum
        "01 I B 0000 G A1 11/24 03:45 PM 0120444555     SUZUKI         ",     # B record
        "01 I S 0000 G A1 11/24 03:50 PM 09087654321                   ",
    ]
    events = decoder("whozz").feed(b"".join(whozz(r) for r in records))
    assert summary(events) == [("0451234567", None, "TANAKA", datetime(2026, 11, 24, 15, 20)),
                               ("09087654321", None, None, datetime(2026, 11, 24, 15, 50))]
    assert [e.message for e in events if isinstance(e, cti.Garbled)] == ["チェックサム誤りの記録 (B) を捨てました"]


@pytest.mark.parametrize("clock, hour, minute", [
    ("03:20 PM", 15, 20), ("12:05 AM", 0, 5), ("12:30 PM", 12, 30), ("11:59 PM", 23, 59), ("09:00 AM", 9, 0),
])
def test_whozz_twelve_hour_time(clock, hour, minute):
    events = decoder("whozz").feed(whozz(f"01 I S 0000 G A1 11/24 {clock} 0451234567     TANAKA         "))
    assert [c.time for c in calls(events)] == [datetime(2026, 11, 24, hour, minute)]


def test_whozz_hyphenated_number_and_private():
    events = decoder("whozz").feed(whozz("01 I S 0000 G A1 11/24 10:00 AM 090-8765-4321  YAMADA TARO    ") +
                                   whozz("01 I S 0000 G A1 11/24 10:05 AM Private                       "))
    assert summary(events) == [("09087654321", None, "YAMADA TARO", datetime(2026, 11, 24, 10, 0)),
                               (None, "private", None, datetime(2026, 11, 24, 10, 5))]


###############################################################################
# NCID

def test_ncid_cidlog_is_history_cid_and_forwarded_cid_are_calls():
    text = (b"200 Server: ncidd (NCID) 1.13\r\n210 API: 1.11 Feature Set 1 2 3 4\r\n"
            b"CIDLOG: *DATE*11232026*TIME*1700*LINE*-*NMBR*05099998888*MESG*NONE*NAME*NO NAME*\r\n"
            b"250 End of call log\r\n300 End of connection startup\r\n"
            b"CID: *DATE*11242026*TIME*1405*LINE*-*NMBR*09087654321*MESG*NONE*NAME*SATO*\r\n"
            b"CIDINFO: *LINE*-*RING*1*TIME*14:05:02*\r\n"
            b"HUP: *DATE*11242026*TIME*1411*LINE*-*NMBR*0000000000*MESG*NONE*NAME*NO NAME*\r\n"
            b"+CID: *DATE*11242026*TIME*1420*LINE*-*NMBR*0120444555*MESG*NONE*NAME*-*\r\n")
    assert summary(decoder("ncid").feed(text)) == [
        ("09087654321", None, "SATO", datetime(2026, 11, 24, 14, 5)),
        ("0120444555", None, None, datetime(2026, 11, 24, 14, 20))]


@pytest.mark.parametrize("value, reason", [
    ("PRIVATE", "private"), ("ANONYMOUS", "private"), ("OUT-OF-AREA", "out_of_area"),
    ("NO-NUMBER", "out_of_area"), ("-", "out_of_area"), ("", "out_of_area"),
])
def test_ncid_reasons(value, reason):
    line = f"CID: *DATE*11242026*TIME*1410*LINE*-*NMBR*{value}*MESG*NONE*NAME*NO NAME*\r\n".encode()
    assert summary(decoder("ncid").feed(line)) == [(None, reason, None, datetime(2026, 11, 24, 14, 10))]


@pytest.mark.parametrize("date, expected", [
    ("11242026", datetime(2026, 11, 24, 14, 10)),      # mmddyyyy
    ("24112026", datetime(2026, 11, 24, 14, 10)),      # ddmmyyyy: the first two digits exceed 12
    ("13012025", datetime(2025, 1, 13, 14, 10)),
    ("05062024", datetime(2024, 5, 6, 14, 10)),        # ambiguous: read as mmddyyyy
])
def test_ncid_date_order(date, expected):
    line = f"CID: *DATE*{date}*TIME*1410*LINE*-*NMBR*0451234567*MESG*NONE*NAME*NO NAME*\r\n".encode()
    assert [c.time for c in calls(decoder("ncid").feed(line))] == [expected]


###############################################################################
# auto

@pytest.mark.parametrize("name", CAPTURE_FILES)
@pytest.mark.parametrize("noise", [b"", b"\x00\xff\x13\x11 ~garbage~ \xfe", b"\r\n\x00\x00\r\n"])
def test_auto_detects_the_format_after_noise(name, noise):
    raw = (CAPTURES / name).read_bytes()
    d = decoder("auto", repeat_window=float("inf"))
    events = []
    for i in range(0, len(noise + raw), 5):
        events += d.feed((noise + raw)[i:i + 5])
    events += d.flush(final=True)
    assert d.detected == CAPTURE_FILES[name]
    assert_calls_match([json.loads(c.to_json()) for c in calls(events)], expected_calls(name))


def test_auto_gives_up_on_endless_noise_without_growing():
    d = decoder("auto")
    events = []
    for _ in range(10):
        events += d.feed(b"\x00\x01\x02 no signature here " * 50)
    assert d.detected is None
    assert len(d.pending) <= cti.AutoDecoder.PATIENCE
    assert any(isinstance(e, cti.Garbled) for e in events)
    assert calls(d.feed(vector("mobile"))) == [cti.Call("09012345678", protocol="nd")]
    assert d.detected == "nd"


###############################################################################
# Device dates without a year

@pytest.mark.parametrize("now, md_hm, expected", [
    (datetime(2026, 11, 25, 12, 0), (11, 24, 9, 31), datetime(2026, 11, 24, 9, 31)),
    (datetime(2026, 11, 25, 12, 0), (11, 26, 10, 0), datetime(2026, 11, 26, 10, 0)),   # within a day: clock fast
    (datetime(2026, 11, 25, 12, 0), (11, 27, 10, 0), datetime(2025, 11, 27, 10, 0)),   # more than a day ahead
    (datetime(2027, 1, 1, 0, 5), (12, 31, 23, 58), datetime(2026, 12, 31, 23, 58)),    # New Year
    (datetime(2028, 3, 1, 9, 0), (2, 29, 10, 0), datetime(2028, 2, 29, 10, 0)),        # leap year
    (datetime(2028, 2, 28, 12, 0), (2, 29, 10, 0), datetime(2028, 2, 29, 10, 0)),      # leap day, a day ahead
    (datetime(2027, 3, 1, 9, 0), (2, 29, 10, 0), datetime(2024, 2, 29, 10, 0)),        # latest Feb 29 in the past
])
def test_device_datetime_year_inference(now, md_hm, expected):
    assert cti.device_datetime(*md_hm, now=now) == expected


def test_device_datetime_with_year_and_invalid_dates():
    now = datetime(2026, 11, 25, 12, 0)
    assert cti.device_datetime(12, 24, 10, 0, now=now, year=2026) == datetime(2026, 12, 24, 10, 0)   # given year kept
    assert cti.device_datetime(2, 29, 10, 0, now=now, year=2026) is None
    assert cti.device_datetime(13, 1, 10, 0, now=now) is None
    assert cti.device_datetime(11, 24, 25, 0, now=now) is None


def test_year_inference_in_the_aloha_decoder():
    d = decoder("aloha", now=lambda: datetime(2027, 1, 2, 8, 0))
    assert [c.time for c in calls(d.feed(aloha_record("123121530" "0451234567")))] == [datetime(2026, 12, 31, 15, 30)]


###############################################################################
# Repeats

REPEATS = {
    "nd": bytes.fromhex(ND_VECTORS["fixed"][1]),
    "aloha": aloha_record("112431015" "0312345678"),
    "modem": b"DATE = 1124\r\nTIME = 1015\r\nNMBR = 0312345678\r\nRING\r\n",
    "whozz": whozz("01 I S 0000 G A1 11/24 10:15 AM 0312345678     TANAKA         "),
    "ncid": b"CID: *DATE*11242026*TIME*1015*LINE*-*NMBR*0312345678*MESG*NONE*NAME*NO NAME*\r\n",
}


@pytest.mark.parametrize("protocol", REPEATS)
def test_the_same_call_within_the_repeat_window_is_one_call(protocol):
    clock = FakeMonotonic()
    d = decoder(protocol, clock=clock, repeat_window=3.0)
    first = calls(d.feed(REPEATS[protocol]))
    assert [c.number for c in first] == ["0312345678"]
    clock.t += 2.9
    assert calls(d.feed(REPEATS[protocol])) == []
    clock.t += 3.5                                  # 3.5 s after the last report: a new call
    assert [c.number for c in calls(d.feed(REPEATS[protocol]))] == ["0312345678"]


def test_only_the_previous_call_is_a_repeat(nd_frame):
    clock = FakeMonotonic()
    d = decoder("nd", clock=clock)
    events = d.feed(vector("fixed") + vector("P") + vector("fixed"))
    assert [c.number or c.reason for c in calls(events)] == ["0312345678", "private", "0312345678"]


def test_a_different_device_time_is_not_a_repeat():
    clock = FakeMonotonic()
    d = decoder("aloha", clock=clock)
    events = d.feed(aloha_record("112431015" "0312345678") + aloha_record("112431016" "0312345678"))
    assert [c.time.minute for c in calls(events)] == [15, 16]


@pytest.mark.parametrize("protocol", ["modem", "whozz", "ncid"])
def test_a_stream_without_line_ends_is_not_buffered_forever(protocol):
    d = decoder(protocol)
    events = d.feed(b"x" * (cti.LineDecoder.MAX_LINE + 10))
    assert [type(e) for e in events] == [cti.Garbled]
    assert len(d.buf) == 0
    assert summary(d.feed(b"\r\nNMBR = 0596310005\r\n\r\n" if protocol == "modem" else
                          b"\r\nCID: *DATE*11242026*TIME*1405*NMBR*0596310005*NAME*-*\r\n" if protocol == "ncid" else
                          b"\r\n01 I S 0000 G A1 11/24 03:20 PM 0596310005     X\r\n"))[0][0] == "0596310005"


###############################################################################
# The guards that keep a stale or bogus caller off the screen (issue 12).
# Each test here fails when its guard is removed, flipped or widened, within seconds.

def repeat_window_past(clock, window=3.0):
    clock.t += window + 0.001


@pytest.mark.parametrize("protocol", REPEATS)
def test_the_repeat_window_ends_exactly_at_its_length(protocol):
    clock = FakeMonotonic()
    d = decoder(protocol, clock=clock, repeat_window=3.0)
    first = clock.t
    assert len(calls(d.feed(REPEATS[protocol]))) == 1
    clock.t = first + 3.0                           # exactly at the window: still the same call
    assert calls(d.feed(REPEATS[protocol])) == []
    clock.t = first + 3.001                         # just past it (measured from the first report)
    assert [c.number for c in calls(d.feed(REPEATS[protocol]))] == ["0312345678"]


MODEM_CALL = b"RING\r\n\r\nDATE = 1124\r\nTIME = 1015\r\nNMBR = 0451234567\r\nNAME = TANAKA\r\n\r\n"


@pytest.mark.parametrize("ring_only", [b"RING\r\n", b"RING\r\n\r\nRING\r\n\r\nRING\r\n", b"\r\nRING\r\n\r\n"])
@pytest.mark.parametrize("idle", [False, True])
def test_modem_ring_only_cycle_after_a_call_is_no_call(ring_only, idle):
    """A later ring with no caller ID (a second line, a caller-ID service lapse) must not bring back
    the previous caller: the block is cleared when its call is reported."""
    clock = FakeMonotonic()
    d = decoder("modem", clock=clock)
    assert [c.number for c in calls(d.feed(MODEM_CALL) + d.flush())] == ["0451234567"]
    for _ in range(3):
        repeat_window_past(clock, 60.0)
        events = d.feed(ring_only)
        if idle:
            events += d.flush()                     # the reader's read timeout
        assert calls(events) == [], ring_only
    assert calls(d.flush(final=True)) == []


def test_modem_call_completed_by_the_idle_flush_is_not_reported_again_by_the_next_ring():
    clock = FakeMonotonic()
    d = decoder("modem", clock=clock)
    d.feed(b"RING\r\n\r\nDATE = 1124\r\nTIME = 1015\r\nNMBR = 0451234567\r\n")
    assert len(calls(d.flush())) == 1
    repeat_window_past(clock, 10.0)
    assert calls(d.feed(b"RING\r\n") + d.flush() + d.feed(b"\r\n") + d.flush(final=True)) == []


def test_modem_date_of_a_ring_cycle_without_number_is_not_lent_to_the_next_call():
    d = decoder("modem")
    d.feed(b"RING\r\n\r\nDATE = 1124\r\nTIME = 0900\r\n\r\nRING\r\n")      # no NMBR: discarded at the ring
    events = d.feed(b"RING\r\n\r\nNMBR = 0596310005\r\n\r\n")
    assert summary(events) == [("0596310005", None, None, None)]


def nd_filler_frame(nd_frame, params_size):
    """A frame with a number and a filler parameter making the parameters `params_size` bytes long."""
    filler = bytes([0x55]) * (params_size - 2 - 10 - 2)
    return nd_frame([(0x02, b"0312345678"), (0x21, filler)])


def test_nd_frame_exactly_at_the_frame_limit_decodes(nd_frame):
    frame = nd_filler_frame(nd_frame, cti.NumberDisplayDecoder.MAX_FRAME - 7)
    assert frame.index(bytes([0x90, 0x03]), 7) == cti.NumberDisplayDecoder.MAX_FRAME   # its DLE ETX
    for chunk in (len(frame), 1):
        d = decoder("nd")
        events = sum((d.feed(frame[i:i + chunk]) for i in range(0, len(frame), chunk)), [])
        assert [c.number for c in calls(events)] == ["0312345678"], chunk


def test_nd_frame_one_over_the_limit_is_dropped_and_the_next_decodes(nd_frame):
    frame = nd_filler_frame(nd_frame, cti.NumberDisplayDecoder.MAX_FRAME - 6)
    assert frame.index(bytes([0x90, 0x03]), 7) == cti.NumberDisplayDecoder.MAX_FRAME + 1
    d = decoder("nd")
    events = d.feed(frame)
    assert calls(events) == [] and any("途中で切れた" in e.message for e in events if isinstance(e, cti.Garbled))
    assert [c.number for c in calls(d.feed(vector("mobile")))] == ["09012345678"]


@pytest.mark.parametrize("filler", [257, 300, 5000])
@pytest.mark.parametrize("start", [b"\x90\x81", b"\x10\x01", b"\x90\x81\x87\x90\x82\xc0"])
def test_nd_false_start_then_more_than_the_frame_limit_does_not_wedge(start, filler):
    """A false DLE SOH followed by a long run with no DLE: the decoder gives up on it at the
    frame limit and finds the good frame after it (fed all at once, and a byte at a time)."""
    noise = bytes(0x41 + i % 26 for i in range(filler))            # no DLE
    stream = start + noise + vector("fixed")
    assert summary(decoder("nd").feed(stream)) == [("0312345678", None, None, None)]
    d = decoder("nd")
    events = sum((d.feed(stream[i:i + 1]) for i in range(len(stream))), [])
    assert summary(events) == [("0312345678", None, None, None)]
    assert len(d.buf) <= 1


@pytest.mark.parametrize("etx", [b"\x03", b"\x83"])
def test_aloha_etx_in_noise_is_no_record_start(etx):
    """Only STX opens a record: a stray ETX must bring no ACK/NAK and no call, even when
    what follows it looks like a record."""
    fake = etx + b"112431015" + b"0312345678" + etx
    for noise in (etx, etx * 5, fake, bytes(cti.even_parity(b) for b in fake), b"\x00" + etx + b"12" + etx + b"\xff"):
        events = decoder("aloha").feed(noise)
        assert events == [] or all(isinstance(e, cti.Garbled) for e in events), noise
        d = decoder("aloha")
        events = d.feed(noise + aloha_record("112431020" "0596310005") + noise)
        assert [c.number for c in calls(events)] == ["0596310005"], noise
        assert [e for e in events if isinstance(e, cti.Reply)] == [cti.Reply(b"\x06")], noise


def test_aloha_stray_etx_between_records():
    records = [aloha_record(f"11243101{i}" + number) for i, number in enumerate(["0312345678", "09011112222", "P"])]
    stream = b"\x83\x03" + records[0] + b"\x03\x83\x031124" + records[1] + b"\x83" + records[2] + b"\x03"
    for cut in range(1, len(stream)):
        d = decoder("aloha", repeat_window=float("inf"))
        events = d.feed(stream[:cut]) + d.feed(stream[cut:])
        assert [c.number or c.reason for c in calls(events)] == ["0312345678", "09011112222", "private"], cut
        assert [e for e in events if isinstance(e, cti.Reply)] == [cti.Reply(b"\x06")] * 3, cut


def test_aloha_record_exactly_at_the_buffer_limit_is_read():
    body = "112431015" + "0" * (cti.AlohaDecoder.MAX_RECORD - 1 - 9)    # STX + body = MAX_RECORD bytes
    record = aloha_record(body)
    d = decoder("aloha")
    assert d.feed(record[:-1]) == []                                   # held, waiting for its ETX
    events = d.feed(record[-1:])
    assert events[0] == cti.Reply(b"\x06") and len(calls(events)) == 1


def test_aloha_record_one_over_the_buffer_limit_is_dropped_and_the_next_is_read():
    body = "112431015" + "0" * (cti.AlohaDecoder.MAX_RECORD - 9)       # one byte more
    record = aloha_record(body)
    d = decoder("aloha")
    events = d.feed(record[:-1])
    assert [e.message for e in events] == ["ETX のない記録を捨てました"]
    assert d.buf == bytearray()
    events = d.feed(record[-1:]) + d.feed(aloha_record("112431020" "0596310005"))
    assert [c.number for c in calls(events)] == ["0596310005"]
    assert [e for e in events if isinstance(e, cti.Reply)] == [cti.Reply(b"\x06")]


@pytest.mark.parametrize("protocol", ["modem", "ncid", "whozz"])
def test_a_line_exactly_at_the_line_limit_is_read(protocol):
    line = {"modem": b"NMBR = 0596310005", "ncid": b"CID: *DATE*11242026*TIME*1405*NMBR*0596310005*NAME*-*",
            "whozz": b"01 I S 0000 G A1 11/24 03:20 PM 0596310005     X"}[protocol]
    line = line + b" " * (cti.LineDecoder.MAX_LINE - len(line))
    d = decoder(protocol)
    assert d.feed(line) == []                                          # exactly MAX_LINE bytes: held
    assert [c.number for c in calls(d.feed(b"\r\n\r\n"))] == ["0596310005"]


@pytest.mark.parametrize("protocol", ["modem", "ncid", "whozz"])
def test_a_line_one_over_the_line_limit_is_dropped(protocol):
    d = decoder(protocol)
    line = b"NMBR = 0596310005 CID: *NMBR*0596310005*"
    events = d.feed(line + b" " * (cti.LineDecoder.MAX_LINE + 1 - len(line)))
    assert [type(e) for e in events] == [cti.Garbled] and d.buf == bytearray()
    assert calls(d.feed(b"\r\n\r\n") + d.flush(final=True)) == []


@pytest.mark.parametrize("month", range(1, 13))
def test_ncid_every_month_reads_mmddyyyy(month):
    for day in (1, 5, 12, 13, 28):
        line = f"CID: *DATE*{month:02d}{day:02d}2025*TIME*0930*NMBR*0451234567*NAME*-*\r\n".encode()
        assert [c.time for c in calls(decoder("ncid").feed(line))] == [datetime(2025, month, day, 9, 30)], day


@pytest.mark.parametrize("month", range(1, 13))
def test_ncid_every_month_reads_ddmmyyyy_when_the_day_comes_first(month):
    for day in (13, 24, 28):
        line = f"CID: *DATE*{day:02d}{month:02d}2025*TIME*0930*NMBR*0451234567*NAME*-*\r\n".encode()
        assert [c.time for c in calls(decoder("ncid").feed(line))] == [datetime(2025, month, day, 9, 30)], day


@pytest.mark.parametrize("month", range(1, 13))
def test_every_month_in_the_dates_without_a_year(month):
    """Modem DATE = MMDD, アロハ MMDD and CallerID.com MM/DD: month first, every month, December too."""
    now = lambda: datetime(2026, 12, 31, 23, 0)            # noqa: E731 - every date of the year is in the past
    expected = datetime(2026, month, 12, 9, 30)
    text = f"DATE = {month:02d}12\r\nTIME = 0930\r\nNMBR = 0451234567\r\n\r\n".encode()
    assert [c.time for c in calls(decoder("modem", now=now).feed(text))] == [expected]
    assert [c.time for c in calls(decoder("aloha", now=now).feed(aloha_record(f"{month:02d}1230930" "0451234567")))] \
        == [expected]
    record = whozz(f"01 I S 0000 G A1 {month:02d}/12 09:30 AM 0451234567     TANAKA         ")
    assert [c.time for c in calls(decoder("whozz", now=now).feed(record))] == [expected]


@pytest.mark.parametrize("value, number", [
    ("+81 (0)3 1234 5678", "0312345678"), ("81 (0)3 1234 5678", "0312345678"), ("+81 3-1234-5678", "0312345678"),
    ("+81-90-1234-5678", "09012345678"), ("03-1234-5678", "0312345678"), ("(03) 1234 5678", "0312345678"),
    # what a gateway or a hand-typed test call carries: dots, full-width digits and hyphens, ・, the minus sign
    ("03.1234.5678", "0312345678"), ("０３－１２３４－５６７８", "0312345678"), ("０９０１２３４５６７８", "09012345678"),
    ("03・1234・5678", "0312345678"), ("03−1234−5678", "0312345678"), ("03‐1234‐5678", "0312345678"),
])
def test_numbers_as_people_write_them_in_text_formats(value, number):
    assert [c.number for c in calls(feed_all(decoder("modem"), f"NMBR = {value}\r\n\r\n".encode()))] == [number]
    line = f"CID: *DATE*11242026*TIME*1405*NMBR*{value}*NAME*-*\r\n".encode()
    assert [c.number for c in calls(decoder("ncid").feed(line))] == [number]


@pytest.mark.parametrize("value", ["+1 212 555 0100", "+1-212-555-0100", "+44 20 7946 0958", "+65 6123 4567"])
def test_a_foreign_number_is_never_made_japanese(value):
    digits = cti.NOT_DIGIT.sub("", value)
    assert [c.number for c in calls(feed_all(decoder("modem"), f"NMBR = {value}\r\n\r\n".encode()))] == [digits]
    line = f"CID: *DATE*11242026*TIME*1405*NMBR*{value}*NAME*-*\r\n".encode()
    assert [c.number for c in calls(decoder("ncid").feed(line))] == [digits]


def test_auto_keeps_exactly_its_patience_then_drops_half():
    d = decoder("auto")
    noise = bytes(0x41 + i % 26 for i in range(cti.AutoDecoder.PATIENCE))
    assert d.feed(noise) == [] and len(d.pending) == cti.AutoDecoder.PATIENCE
    events = d.feed(b"A")
    assert [type(e) for e in events] == [cti.Garbled]
    assert len(d.pending) == cti.AutoDecoder.PATIENCE // 2


SIGNED = {"nd": vector("fixed"), "aloha": aloha_record("112431015" "0312345678"),
          "modem": b"\r\nRING\r\n\r\nNMBR = 0312345678\r\n\r\n",
          "ncid": b"\r\nCID: *DATE*11242026*TIME*1405*NMBR*0312345678*NAME*-*\r\n",
          "whozz": whozz("01 I S 0000 G A1 11/24 10:15 AM 0312345678     TANAKA         ")}


@pytest.mark.parametrize("protocol", SIGNED)
@pytest.mark.parametrize("chunk", [1, 2, 3, 7])
def test_auto_finds_a_signature_split_over_small_reads(protocol, chunk):
    for lead in (0, 1, 9, 50, cti.AutoDecoder.PATIENCE - 3, cti.AutoDecoder.PATIENCE + 5):
        stream = bytes(0x41 + i % 26 for i in range(lead)) + SIGNED[protocol]
        d = decoder("auto")
        events = sum((d.feed(stream[i:i + chunk]) for i in range(0, len(stream), chunk)), []) + d.flush(final=True)
        assert d.detected == protocol, lead
        assert [c.number for c in calls(events)] == ["0312345678"], lead


@pytest.mark.parametrize("stream, protocol", [
    (b"NMBR = 0312345678\r\n\r\n", "modem"), (b"RING\r\n\r\nNMBR = 0312345678\r\n\r\n", "modem"),
    (b"CID: *DATE*11242026*TIME*1405*NMBR*0312345678*NAME*-*\r\n", "ncid"),
])
def test_auto_finds_a_line_signature_at_the_very_start_of_the_stream_read_a_byte_at_a_time(stream, protocol):
    d = decoder("auto")
    events = sum((d.feed(stream[i:i + 1]) for i in range(len(stream))), []) + d.flush(final=True)
    assert d.detected == protocol
    assert [c.number for c in calls(events)] == ["0312345678"]


###############################################################################
# guards a mutation run found unpinned

@pytest.mark.parametrize("head, tail", [
    (b"RING\r\n\r\nDATE = 1124\r\nTIME = 1015\r\nNMBR = 0596", b"310005\r\n\r\n"),
    (b"200 Server: ncidd (NCID) 1.13\r\nCID: *DATE*11242026*TIME*1015*LINE*-*NMBR*0596",
     b"310005*MESG*NONE*NAME*NO NAME*\r\n"),
], ids=["modem", "ncid"])
def test_auto_a_line_split_by_a_pause_is_one_call_with_the_whole_number(head, tail):
    """protocol = auto (the shipped default): the reader's idle flush (every 0.3 s without a byte)
    comes between the halves of a line (NCID over TCP, a slow adapter); it is not the stream's end."""
    d = decoder("auto")
    events = d.feed(head) + d.flush() + d.flush()
    assert calls(events) == []
    events += d.feed(tail) + d.flush() + d.flush(final=True)
    assert [c.number for c in calls(events)] == ["0596310005"]


def test_katakana_from_small_a_to_small_ke_searches_as_hiragana():
    assert cti.search_key("ァアヴヵヶ") == "ぁあゔゕゖ"
    assert cti.search_key("゠ヷ・ー") == "゠ヷ・ー"          # just outside ァ..ヶ: kept as they are


def test_a_call_as_json_keeps_the_name_readable_not_as_u_escapes():
    text = cti.Call("0596310005", name="ﾔﾏﾀﾞ 花子", protocol="nd").to_json()
    assert "ﾔﾏﾀﾞ 花子" in text and "\\u" not in text
    assert json.loads(text)["name"] == "ﾔﾏﾀﾞ 花子"


def test_decode_prints_a_name_as_written(tmp_path):
    capture = tmp_path / "ncid.txt"
    capture.write_bytes("CID: *DATE*11242026*TIME*1015*LINE*-*NMBR*0596310005*MESG*NONE*NAME*ヤマダ*\r\n"
                        .encode("utf-8"))
    out = subprocess.run([sys.executable, str(Path(cti.__file__)), "--decode", str(capture), "--protocol", "ncid"],
                         capture_output=True, env={**__import__("os").environ, "PYTHONIOENCODING": "utf-8"})
    line = out.stdout.decode("utf-8").strip()
    assert out.returncode == 0 and "\\u" not in line, out
    assert json.loads(line)["name"] == "ヤマダ" and "ヤマダ" in line


###############################################################################
# The size limits by value: a mutation run moved each by one byte and no test saw it. The bounds
# below are what a device meets (a line, a record, the noise before a signature), written as numbers.

def test_a_text_line_of_4096_bytes_is_a_call_and_one_of_4097_bytes_is_dropped():
    line = b"NMBR = 0596310005"
    held = decoder("modem")
    assert held.feed(line + b" " * (4096 - len(line))) == []
    assert [c.number for c in calls(held.feed(b"\r\n\r\n"))] == ["0596310005"]
    dropped = decoder("modem")
    assert [e.message for e in dropped.feed(line + b" " * (4097 - len(line)))] == ["改行のない長いデータを捨てました"]
    assert calls(dropped.feed(b"\r\n\r\n") + dropped.flush(final=True)) == []


def test_an_aloha_record_of_48_bytes_before_its_etx_is_a_call_and_one_of_49_is_dropped():
    """The ETX comes in a later read (a slow adapter): 48 bytes are held for it, 49 are not."""
    for size, numbers in ((48, ["0" * 38]), (49, [])):
        record = aloha_record("112431015" + "0" * (size - 1 - 9))          # STX + body = size bytes, then ETX
        d = decoder("aloha")
        events = d.feed(record[:-1]) + d.feed(record[-1:])
        assert [c.number for c in calls(events)] == numbers, size
        assert ("ETX のない記録を捨てました" in [e.message for e in events if isinstance(e, cti.Garbled)]) == (not numbers)


def test_auto_holds_4096_bytes_of_noise_then_skips_2049_at_the_next_byte():
    d = decoder("auto")
    noise = bytes(0x41 + i % 26 for i in range(4096))
    assert d.feed(noise) == []
    assert [e.message for e in d.feed(b"A")] == ["形式のわからない 2049 バイトを読み飛ばしました"]
    assert calls(d.feed(vector("mobile"))) == [cti.Call("09012345678", protocol="nd")]
