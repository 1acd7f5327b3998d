#!/usr/bin/env python3
"""cti: a caller-ID popup for the reception PC of a hair and beauty salon.

A caller-ID device on a COM port (or an NCID server / CallerID.com unit on the
network) reports the caller's number; cti looks it up in members.csv and shows
the caller in a small topmost window, with the call history, visit history,
reservations and today's counts.

    python cti.py                 the window, with cti.ini from this folder
    python cti.py --demo          the window on a simulated device and sample data
    python cti.py --list-ports    the serial ports found
    python cti.py --decode FILE   decode a capture, one JSON object a call
    python cti.py --lookup NUMBER the members holding that number, as JSON

The file is organised in sections, each calling only those above it:
config -> phone numbers -> caller-ID decoders -> device reader -> store -> UI -> main.
"""

__version__ = "0.1.0"
__license__ = "MIT"

import argparse
import configparser
import dataclasses
import json
import logging
import os
import queue
import re
import select
import socket
import sys
import threading
import time
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import phonenumbers
import serial
import serial.tools.list_ports

log = logging.getLogger("cti")


###############################################################################
# Config ######################################################################
###############################################################################

class ConfigError(Exception):
    """A cti.ini that cannot be used at all."""


def app_dir() -> Path:
    """The folder holding cti.ini and the data: next to cti.exe when frozen, else next to cti.py."""
    if getattr(sys, "frozen", False):
        return Path(sys.executable).resolve().parent
    return Path(__file__).resolve().parent


def read_text_any(path: Path) -> tuple[str, str]:
    """Return (text, encoding) of a UTF-8 (with or without BOM) or CP932 file, never guessing silently."""
    raw = Path(path).read_bytes()
    for encoding in ("utf-8-sig", "cp932"):
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        if encoding == "utf-8-sig" and not raw.startswith(b"\xef\xbb\xbf"):
            encoding = "utf-8"
        return text, encoding
    raise ConfigError(f"{Path(path).name}: UTF-8 でも CP932（Shift_JIS）でも読めません。"
                      "Excel で「CSV UTF-8」として保存し直してください")


PROTOCOL_NAMES = ("auto", "nd", "aloha", "modem", "whozz", "ncid")
CORNERS = ("bottom-right", "bottom-left", "top-right", "top-left")
YES = {"yes": True, "true": True, "on": True, "1": True, "はい": True,
       "no": False, "false": False, "off": False, "0": False, "いいえ": False}


@dataclass
class Config:
    """Typed settings from cti.ini; paths are absolute."""
    port: str = "auto"
    protocol: str = "auto"
    baudrate: int = 9600
    init: tuple = ("ATZ", "AT+VCID=1")
    debug: bool = False
    members: Path = Path("members.csv")
    database: Path = Path("cti.db")
    log: Path = Path("cti.log")
    max_entries: int = 100
    max_days: int = 7
    corner: str = "bottom-right"
    topmost: bool = True
    path: Path | None = None          # the ini it came from, None for defaults


def _parse_int(text, low, high):
    value = int(text)
    if not low <= value <= high:
        raise ValueError
    return value


# [section] key -> (Config field, parser, message when the value is bad)
CONFIG_KEYS = {
    ("device", "port"): ("port", str.strip, ""),
    ("device", "protocol"): ("protocol", lambda v: _choice(v, PROTOCOL_NAMES),
                             " | ".join(PROTOCOL_NAMES) + " のどれかを指定してください"),
    ("device", "baudrate"): ("baudrate", lambda v: _parse_int(v, 300, 921600), "通信速度（例 9600）を整数で指定してください"),
    ("device", "init"): ("init", lambda v: tuple(c.strip() for c in v.split("|") if c.strip()), ""),
    ("device", "debug"): ("debug", lambda v: YES[v.strip().lower()], "yes か no を指定してください"),
    ("files", "members"): ("members", Path, ""),
    ("files", "database"): ("database", Path, ""),
    ("files", "log"): ("log", Path, ""),
    ("history", "max_entries"): ("max_entries", lambda v: _parse_int(v, 1, 100000), "1 以上の整数を指定してください"),
    ("history", "max_days"): ("max_days", lambda v: _parse_int(v, 1, 3650), "1 以上の整数を指定してください"),
    ("window", "corner"): ("corner", lambda v: _choice(v, CORNERS), " | ".join(CORNERS) + " のどれかを指定してください"),
    ("window", "topmost"): ("topmost", lambda v: YES[v.strip().lower()], "yes か no を指定してください"),
}


def _choice(value, allowed):
    value = value.strip().lower()
    if value not in allowed:
        raise ValueError
    return value


def load_config(path: Path | None) -> tuple[Config, list[str]]:
    """Read cti.ini; return the config and one message per problem (bad values keep their default).

    A missing file gives the defaults; an unreadable or unparsable one raises ConfigError.
    """
    config = Config()
    base = app_dir() if path is None else Path(path).resolve().parent
    problems = []
    if path is not None and Path(path).exists():
        config.path = Path(path).resolve()
        text, _ = read_text_any(path)
        parser = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=(";", "#"),
                                           strict=False, default_section="\0none")
        try:
            parser.read_string(text, source=str(path))
        except configparser.Error as e:
            raise ConfigError(f"{Path(path).name} の書式が正しくありません: {e}") from None
        for section in parser.sections():
            for key, value in parser.items(section):
                spec = CONFIG_KEYS.get((section.lower(), key.lower()))
                if spec is None:
                    problems.append(f"[{section}] {key}: 知らない設定です（綴りを確認してください）")
                    continue
                field, parse, hint = spec
                try:
                    setattr(config, field, parse(value))
                except (ValueError, KeyError):
                    problems.append(f"[{section}] {key} = {value}: {hint}")
    for field in ("members", "database", "log"):
        setattr(config, field, (base / getattr(config, field)).resolve())
    return config, problems


###############################################################################
# Phone numbers ###############################################################
###############################################################################

PHONE_SEPARATORS = re.compile(r"[;/、，,\r\n]+")


def normalize_phone(text: str) -> str:
    """Digits of a Japanese number in national form ('0596310005'), repairing what Excel and people do to it.

    Full-width digits, hyphens of every kind, spaces and brackets go; +81/81 becomes 0;
    the leading zero Excel drops (312345678) comes back. Returns '' when there are no digits.
    """
    text = unicodedata.normalize("NFKC", str(text)).strip()
    if re.fullmatch(r"\d+\.0", text):          # Excel wrote the cell as a float
        text = text[:-2]
    international = text.startswith("+")
    digits = re.sub(r"\D", "", text)
    if international and digits.startswith("81"):
        return "0" + digits[2:].lstrip("0")
    if digits.startswith("81") and len(digits) in (11, 12):
        return "0" + digits[2:]
    if digits and not digits.startswith("0") and len(digits) in (9, 10):
        return "0" + digits
    return digits


def split_phones(cell: str) -> list[str]:
    """The numbers in one member cell ('03-1234-5678; 090-…'), as digits, without repeats."""
    numbers = []
    for part in PHONE_SEPARATORS.split(cell or ""):
        digits = normalize_phone(part)
        if digits and digits not in numbers:
            numbers.append(digits)
    return numbers


def format_phone(digits: str) -> str:
    """Hyphenate national digits for display (0596-31-0005, 090-1234-5678, 0120-123-456).

    phonenumbers carries the area-code table (2 to 5 digit codes) that fixed lines need;
    what it does not know as a valid Japanese number is shown as it came.
    """
    if not digits or not digits.isdigit():
        return digits or ""
    try:
        parsed = phonenumbers.parse(digits, "JP")
    except phonenumbers.NumberParseException:
        return digits
    if not phonenumbers.is_valid_number(parsed):
        return digits
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)


###############################################################################
# Caller-ID decoders ##########################################################
###############################################################################

REASONS = {"private": "非通知", "out_of_area": "表示圏外", "payphone": "公衆電話", "conflict": "サービス競合"}

# What devices print in place of a number; 'E' (the adapter's reception error) is not a call.
REASON_CODES = {"P": "private", "PRIVATE": "private", "ANONYMOUS": "private",
                "O": "out_of_area", "OUT-OF-AREA": "out_of_area", "NO-NUMBER": "out_of_area", "-": "out_of_area",
                "C": "payphone", "S": "conflict"}
NO_NAME = {"", "O", "P", "NO NAME", "-"}

STX, ETX, ACK, NAK, DLE, SOH = 0x02, 0x03, 0x06, 0x15, 0x10, 0x01


@dataclass(frozen=True)
class Call:
    """A call as a device reported it: digits or a reason, a name and time when the device gives them."""
    number: str | None
    reason: str | None = None
    name: str | None = None
    time: datetime | None = None        # the device's own clock, None when the format has none
    protocol: str = ""
    received: datetime | None = None    # stamped by the device reader on arrival

    def to_json(self) -> str:
        return json.dumps({"number": self.number, "reason": self.reason, "name": self.name,
                           "time": self.time.strftime("%Y-%m-%dT%H:%M") if self.time else None},
                          ensure_ascii=False)


@dataclass(frozen=True)
class Garbled:
    """Bytes that could not be decoded, at a byte offset in the stream."""
    offset: int
    message: str


@dataclass(frozen=True)
class Reply:
    """Bytes the device expects back (the アロハ adapters' ACK/NAK)."""
    data: bytes


def even_parity(byte: int) -> int:
    """The 7-bit value with b7 set so the count of 1-bits is even (7E1 on an 8N1 port)."""
    byte &= 0x7F
    return byte | 0x80 if bin(byte).count("1") % 2 else byte


def has_even_parity(byte: int) -> bool:
    return bin(byte).count("1") % 2 == 0


def crc16_kermit(data: bytes, crc: int = 0) -> int:
    """CRC-16/KERMIT (reflected 0x1021, init 0): NTT Number Display's frame check."""
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
    return crc


def device_datetime(month, day, hour, minute, now: datetime, year=None) -> datetime | None:
    """The device's date and time; without a year, the latest year that does not put it in the future."""
    years = [year] if year else [now.year - back for back in range(5)]
    for y in years:
        try:
            when = datetime(y, int(month), int(day), int(hour), int(minute))
        except ValueError:
            continue
        if year or when <= now + timedelta(days=1):   # a day's grace for a device clock running fast
            return when
    return None


def decode_text(raw: bytes) -> str:
    """Text of one device line: UTF-8, else CP932, else Latin-1 (it is a device line, never member data)."""
    for encoding in ("utf-8", "cp932"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            pass
    return raw.decode("latin-1")


def number_or_reason(value: str) -> tuple[str | None, str | None]:
    """(digits, None) for a number, (None, reason) for a device's code; (None, None) when neither."""
    value = value.strip()
    reason = REASON_CODES.get(value.upper())
    if reason:
        return None, reason
    digits = normalize_phone(value) if re.fullmatch(r"[+\d\s()-]+", value) else ""
    return (digits, None) if digits else (None, None)


def caller_name(value: str | None) -> str | None:
    value = (value or "").strip()
    return None if value.upper() in NO_NAME else value


class Decoder:
    """Base of the decoders: bytes in through feed(), events (Call, Garbled, Reply) out.

    A call identical to the previous one (number or reason, and device time) within
    `repeat_window` seconds is the device repeating itself and is reported once.
    """
    name = ""

    def __init__(self, now=datetime.now, clock=time.monotonic, repeat_window=3.0):
        self.now, self.clock, self.repeat_window = now, clock, repeat_window
        self.offset = 0                 # bytes fed so far
        self._last_call = None          # (key, clock) of the last call reported

    def feed(self, data: bytes) -> list:
        """Decode a chunk (any size, any boundary); return the events it completes."""
        raise NotImplementedError

    def flush(self, final=False) -> list:
        """The port was idle (or, with final, the input ended): complete what can be completed."""
        return []

    def _call(self, number, reason, name=None, when=None):
        """A Call event, or nothing when it repeats the previous one."""
        key = (number, reason, when)
        now = self.clock()
        if self._last_call and self._last_call[0] == key and now - self._last_call[1] <= self.repeat_window:
            return []
        self._last_call = (key, now)
        return [Call(number, reason, caller_name(name), when, self.name)]


class NumberDisplayDecoder(Decoder):
    """NTT Number Display frames from raw ND decoders (DLE SOH 07 DLE STX 40 … DLE ETX CRC)"""
    name = "nd"
    MAX_FRAME = 256

    def __init__(self, **kw):
        super().__init__(**kw)
        self.buf = bytearray()
        self.base = 0                   # stream offset of buf[0]

    def feed(self, data):
        self.buf += data
        self.offset += len(data)
        events = []
        while True:
            start = self._find_start()
            if start:
                events.append(Garbled(self.base, f"{start} バイトの雑音を読み飛ばしました"))
                self._drop(start)
            if start is None:           # keep a lone trailing DLE: the SOH may follow
                keep = 1 if self.buf[-1:] and self.buf[-1] & 0x7F == DLE else 0
                if len(self.buf) > keep:
                    events.append(Garbled(self.base, f"{len(self.buf) - keep} バイトの雑音を読み飛ばしました"))
                    self._drop(len(self.buf) - keep)
                return events
            end = self._find_end()
            if end is None:
                return events
            if end < 0:                 # another frame began, or too long: this one is broken
                events.append(Garbled(self.base, "途中で切れたフレームを捨てました"))
                self._drop(-end)
                continue
            events += self._frame(bytes(self.buf[:end]))
            self._drop(end)

    def _drop(self, n):
        del self.buf[:n]
        self.base += n

    def _find_start(self):
        for i in range(len(self.buf) - 1):
            if self.buf[i] & 0x7F == DLE and self.buf[i + 1] & 0x7F == SOH:
                return i
        return None

    def _find_end(self):
        """Length of the frame at buf[0] through its CRC; None if incomplete; -n to drop n bytes."""
        i = 2
        while i + 1 < len(self.buf):
            if i > self.MAX_FRAME:
                return -2
            if self.buf[i] & 0x7F == DLE:
                nxt = self.buf[i + 1] & 0x7F
                if nxt == ETX:
                    return i + 4 if i + 4 <= len(self.buf) else None
                if nxt == SOH:
                    return -i
                i += 2                  # DLE STX, or a doubled DLE
                continue
            i += 1
        return None

    def _frame(self, frame: bytes):
        at = self.base
        body, crc_bytes = frame[:-2], frame[-2:]
        wire = frame[0] & 0x80         # parity bits on the wire; without them the device stripped them
        if wire:
            if not all(has_even_parity(b) for b in body):
                return [Garbled(at, "パリティ誤りのフレームを捨てました")]
            checked = body[2:]
        else:
            checked = bytes(even_parity(b) for b in body[2:])
        if crc16_kermit(checked + crc_bytes) != 0:
            return [Garbled(at, "CRC 誤りのフレームを捨てました")]
        plain = bytes(b & 0x7F for b in body)
        # unstuff: DLE DLE -> DLE, framing DLEs dropped
        content, i = bytearray(), 0
        while i < len(plain):
            if plain[i] == DLE:
                if plain[i + 1] == DLE:
                    content.append(DLE)
                i += 2
                continue
            content.append(plain[i])
            i += 1
        # content: header, service, length, parameters
        if len(content) < 3 or content[0] != 0x07:
            return [Garbled(at, "ヘッダが 07 ではないフレームを捨てました")]
        if content[1] != 0x40:
            return [Garbled(at, f"発信者番号ではないサービス {content[1]:02X} のフレームを読み飛ばしました")]
        number = reason = None
        params, i = content[3:], 0
        while i + 2 <= len(params):
            kind, size = params[i], params[i + 1]
            value = bytes(params[i + 2:i + 2 + size])
            i += 2 + size
            if kind == 0x02:
                number = normalize_phone(value.decode("ascii", "replace")) or None
            elif kind == 0x04:
                reason = REASON_CODES.get(value.decode("ascii", "replace").strip())
        if number is None and reason is None:
            return [Garbled(at, "番号も非通知理由もないフレームです")]
        return self._call(number, None if number else reason)


class RecordDecoder(Decoder):
    """Shared part of the decoders whose device sends delimited records or lines."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.buf = bytearray()
        self.base = 0

    def _take(self, n):
        record = bytes(self.buf[:n])
        del self.buf[:n]
        at = self.base
        self.base += n
        return record, at


class AlohaDecoder(RecordDecoder):
    """Japanese ND adapters (Nikko アロハUSB and compatibles): STX MMDD w HHMM number ETX, answered ACK/NAK"""
    name = "aloha"
    RECORD = re.compile(rb"(\d\d)(\d\d)\d(\d\d)(\d\d)([0-9A-Z]*)")
    MAX_RECORD = 48

    def feed(self, data):
        self.buf += data
        self.offset += len(data)
        events = []
        while self.buf:
            start = next((i for i, b in enumerate(self.buf) if b & 0x7F == STX), None)
            if start is None:
                self._take(len(self.buf))
                break
            if start:
                self._take(start)
            end = next((i for i, b in enumerate(self.buf) if i and b & 0x7F in (ETX, STX)), None)
            if end is None:
                if len(self.buf) > self.MAX_RECORD:
                    events.append(Garbled(self._take(1)[1], "ETX のない記録を捨てました"))
                    continue
                break
            if self.buf[end] & 0x7F == STX:     # a record cut short by the next one
                events.append(Garbled(self._take(end)[1], "途中で切れた記録を捨てました"))
                continue
            record, at = self._take(end + 1)
            events += self._record(record, at)
        return events

    def _record(self, record, at):
        # A 7E1 adapter read on an 8N1 port keeps its parity bit in b7: check it ourselves,
        # so that a bad byte gets the NAK that makes the adapter send the record again.
        if any(b & 0x80 for b in record) and not all(has_even_parity(b) for b in record):
            return [Reply(bytes([even_parity(NAK)])), Garbled(at, "パリティ誤り: NAK を返しました")]
        events = [Reply(bytes([even_parity(ACK)]))]
        m = self.RECORD.fullmatch(bytes(b & 0x7F for b in record[1:-1]))
        if not m:
            return events + [Garbled(at, "読めない記録です")]
        month, day, hour, minute, value = (g.decode("ascii") for g in m.groups())
        if value == "E":
            log.info("ND アダプタが受信エラー (E) を報告しました")
            return events + [Garbled(at, "アダプタの受信エラー (E): 着信ではありません")]
        number, reason = number_or_reason(value)
        if number is None and reason is None:
            return events + [Garbled(at, f"知らない番号欄 {value!r}")]
        return events + self._call(number, reason, None, device_datetime(month, day, hour, minute, self.now()))


class LineDecoder(RecordDecoder):
    """Shared part of the text decoders: split on CR/LF and hand each line to line()."""

    def feed(self, data):
        self.buf += data
        self.offset += len(data)
        events = []
        while True:
            m = re.search(rb"[\r\n]", self.buf)
            if not m:
                return events
            raw, at = self._take(m.end())
            events += self.line(decode_text(raw).strip(), at)

    def flush(self, final=False):
        events = []
        if final and self.buf:
            raw, at = self._take(len(self.buf))
            events += self.line(decode_text(raw).strip(), at)
        return events + self.idle(final)

    def line(self, text, at) -> list:
        raise NotImplementedError

    def idle(self, final) -> list:
        return []


class ModemDecoder(LineDecoder):
    """Modem caller-ID text (AT+VCID=1): RING, DATE = MMDD, TIME = HHMM, NMBR = …, NAME = …"""
    name = "modem"
    TAG = re.compile(r"^(DDN_NMBR|NMBR|DATE|TIME|NAME|MESG)\s*=\s*(.*)$", re.I)

    def __init__(self, **kw):
        super().__init__(**kw)
        self.block = {}

    def line(self, text, at):
        m = self.TAG.match(text)
        if m:
            tag = m.group(1).upper().replace("DDN_", "")
            self.block[tag] = m.group(2).strip()
            self.block.setdefault("at", at)
            return []
        if not text or text.upper() == "RING":
            return self._complete(discard=text.upper() == "RING")
        return []                       # OK, echoed AT commands, CONNECT: not caller ID

    def idle(self, final):
        return self._complete(discard=final)

    def _complete(self, discard):
        """One call per caller-ID block; a block with no NMBR is kept until the number comes."""
        block = self.block
        if "NMBR" not in block:
            if discard:
                self.block = {}
            return []
        self.block = {}
        number, reason = number_or_reason(block["NMBR"])
        if number is None and reason is None:
            if block["NMBR"].upper() == "E":
                return [Garbled(block["at"], "モデムが受信エラー (E) を報告しました")]
            return [Garbled(block["at"], f"読めない NMBR = {block['NMBR']!r}")]
        when = None
        date, clock = block.get("DATE", ""), block.get("TIME", "")
        if re.fullmatch(r"\d{4}", date) and re.fullmatch(r"\d{4}", clock):
            when = device_datetime(date[:2], date[2:], clock[:2], clock[2:], self.now())
        return self._call(number, reason, block.get("NAME"), when)


class WhozzCallingDecoder(LineDecoder):
    """CallerID.com Whozz Calling records (serial, or the Ethernet units' UDP broadcasts)"""
    name = "whozz"
    RECORD = re.compile(r"(\d\d) ([IO]) ([ESB]) (\d{4}) ([GB]) (.\d) (\d\d)/(\d\d) (\d\d):(\d\d) ([AP])M (.{8,15})(.*)")

    def line(self, text, at):
        m = self.RECORD.search(text)
        if not m:
            return []                   # detail records (R/F/N), headers, blank lines
        _, direction, edge, _, checksum, _, month, day, hour, minute, half, number, name = m.groups()
        if direction != "I" or edge != "S":
            return []
        if checksum != "G":
            return [Garbled(at, "チェックサム誤りの記録 (B) を捨てました")]
        hour = int(hour) % 12 + (12 if half == "P" else 0)
        number, reason = number_or_reason(number)
        if number is None and reason is None:
            reason = "out_of_area"
        return self._call(number, reason, name, device_datetime(month, day, hour, minute, self.now()))


class NcidDecoder(LineDecoder):
    """NCID server lines over TCP (socket://host:3333): CID: and +CID: are live calls"""
    name = "ncid"

    def line(self, text, at):
        kind, _, rest = text.partition(":")
        if kind not in ("CID", "+CID"):
            return []                   # CIDLOG: replay is history; 200/300, CIDINFO, HUP, OPT: not calls
        fields = rest.strip().strip("*").split("*")
        pairs = dict(zip(fields[0::2], fields[1::2]))
        number, reason = number_or_reason(pairs.get("NMBR", ""))
        if number is None and reason is None:
            reason = "out_of_area"
        date, clock = pairs.get("DATE", ""), pairs.get("TIME", "")
        when = None
        if re.fullmatch(r"\d{8}", date) and re.fullmatch(r"\d{4}", clock):
            first, second, year = date[:2], date[2:4], date[4:]
            month, day = (second, first) if int(first) > 12 else (first, second)
            when = device_datetime(month, day, clock[:2], clock[2:], self.now(), year=int(year))
        return self._call(number, reason, pairs.get("NAME"), when)


# A format's signature anywhere in the first bytes (line noise comes first).
SIGNATURES = [
    ("nd", re.compile(rb"\x90\x81\x87\x90\x82|\x10\x01\x07\x10\x02")),
    ("ncid", re.compile(rb"(?:^|[\r\n])(?:200 |\+?CID:)")),
    ("whozz", re.compile(rb"\^\^<U>|\$\d\d [IO] [SEB] ")),
    ("aloha", re.compile(rb"[\x02\x82][\x30-\x39\xb0-\xb9]{9}")),
    ("modem", re.compile(rb"(?:^|[\r\n])(?:RING|NMBR|DATE ?=)")),
]


class AutoDecoder(Decoder):
    """Tell the format from the first bytes and stick with it"""
    name = "auto"
    PATIENCE = 4096                     # bytes kept while no signature has been seen

    def __init__(self, **kw):
        super().__init__(**kw)
        self.kw = kw
        self.inner = None
        self.pending = bytearray()

    def feed(self, data):
        self.offset += len(data)
        if self.inner:
            return self.inner.feed(data)
        self.pending += data
        found = [(m.start(), name) for name, rx in SIGNATURES if (m := rx.search(self.pending))]
        if not found:
            if len(self.pending) > self.PATIENCE:
                drop = len(self.pending) - self.PATIENCE
                del self.pending[:drop]
                return [Garbled(self.offset - len(self.pending) - drop, f"形式のわからない {drop} バイトを読み飛ばしました")]
            return []
        _, name = min(found)
        log.info("着信表示装置の形式を %s と判断しました", name)
        self.inner = DECODERS[name](**self.kw)
        self.inner.offset = self.inner.base = self.offset - len(self.pending)
        pending, self.pending = bytes(self.pending), bytearray()
        self.inner.offset = self.offset - len(pending)
        return self.inner.feed(pending)

    def flush(self, final=False):
        return self.inner.flush(final) if self.inner else []

    @property
    def detected(self):
        return self.inner.name if self.inner else None


DECODERS = {cls.name: cls for cls in (AutoDecoder, NumberDisplayDecoder, AlohaDecoder, ModemDecoder,
                                      WhozzCallingDecoder, NcidDecoder)}


def make_decoder(protocol: str, **kw) -> Decoder:
    return DECODERS[protocol](**kw)


LOG_HEX_LINE = re.compile(r"\bRX ((?:[0-9a-fA-F]{2} ?)+)\s*$")


def capture_bytes(raw: bytes) -> bytes:
    """The device bytes of a capture: the file itself, or the hex of the RX lines of a debug cti.log."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw
    hex_lines = [m.group(1) for line in text.splitlines() if (m := LOG_HEX_LINE.search(line))]
    if hex_lines and "cti" in text[:4096].lower():
        return bytes.fromhex(" ".join(hex_lines))
    return raw


def decode_capture(raw: bytes, protocol="auto", now=datetime.now) -> list:
    """Every event of a whole capture; identical consecutive call records count once."""
    decoder = make_decoder(protocol, now=now, repeat_window=float("inf"))
    return decoder.feed(capture_bytes(raw)) + decoder.flush(final=True)


###############################################################################
# Device reader ###############################################################
###############################################################################

@dataclass(frozen=True)
class Status:
    """The device's state, for the status line: state is one of DEVICE_STATES."""
    state: str
    text: str
    port: str = ""


DEVICE_STATES = ("connecting", "connected", "missing", "busy", "lost", "stopped")
BACKOFF = (1, 2, 5, 10)
IDLE_TIMEOUT = 0.3      # a read this long with no bytes ends a modem's caller-ID block


class UdpPort:
    """A receive-only 'port' on UDP datagrams (CallerID.com Ethernet units broadcast to port 3520).

    pyserial has no UDP URL. Each datagram is one record; a CR LF is added so that the
    line decoder sees its end.
    """

    def __init__(self, url, timeout=IDLE_TIMEOUT):
        m = re.fullmatch(r"udp://([^:/]*):(\d+)/?", url)
        if not m:
            raise serial.SerialException(f"UDP の指定が正しくありません: {url}（例 udp://:3520）")
        self.timeout = timeout
        self.port = url
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.sock.bind((m.group(1), int(m.group(2))))
        except OSError as e:
            self.sock.close()
            raise serial.SerialException(f"could not open port {url}: {e}") from None

    @property
    def in_waiting(self):
        return 0

    def read(self, size=1):
        ready, _, _ = select.select([self.sock], [], [], self.timeout)
        if not ready:
            return b""
        data = self.sock.recv(2048)
        return data if data.endswith(b"\n") else data + b"\r\n"

    def write(self, data):
        return 0                        # the units expect nothing back

    def close(self):
        self.sock.close()


def port_settings(protocol: str, baudrate: int) -> dict:
    """serial_for_url keyword arguments for a device format."""
    # アロハ adapters speak 7E1; reading them as 8N1 (the same 10 bits a character) keeps the
    # parity bit in b7, so the decoder can NAK a bad byte instead of the driver hiding it.
    return {"baudrate": 9600 if protocol == "aloha" else baudrate, "timeout": IDLE_TIMEOUT,
            "write_timeout": 1}


def open_port(url: str, protocol: str, baudrate: int):
    """Open a device by name or URL: COM3, /dev/ttyUSB0, socket://host:3333, loop://, udp://:3520."""
    if url.startswith("udp://"):
        return UdpPort(url)
    return serial.serial_for_url(url, **port_settings(protocol, baudrate))


def describe_port_error(url: str, error: Exception) -> tuple[str, str]:
    """(state, words a receptionist understands) for a failed open."""
    text = str(error)
    if re.search(r"PermissionError|Access is denied|アクセスが拒否|busy|Errno 16|Errno 13|in use", text, re.I):
        return "busy", f"{url} は他のプログラムが使っています。そのプログラムを閉じてください"
    if url.startswith("socket://"):
        return "missing", f"{url[9:]} の着信サーバにつながりません。サーバの電源とネットワークを確認してください"
    return "missing", (f"{url} が見つかりません。着信表示装置の USB ケーブルと、"
                       "cti.ini の port = の COM 番号を確認してください")


def list_ports() -> list:
    """The serial ports found, as (device, description) pairs."""
    return sorted((p.device, p.description or "") for p in serial.tools.list_ports.comports())


class DeviceReader(threading.Thread):
    """Own the port: open it, feed the decoder, put Call and Status events on a queue, reconnect.

    Nothing here touches Tk; the window polls the queue. The thread never dies of a device
    problem: an unplug closes the handle at once and the open is retried with back-off.
    """

    def __init__(self, config: Config, events: queue.Queue, opener=open_port, backoff=BACKOFF,
                 now=datetime.now):
        super().__init__(name="device-reader", daemon=True)
        self.config, self.events, self.opener = config, events, opener
        self.backoff, self.now = backoff, now
        self.stopping = threading.Event()
        self.port_name = config.port
        self.detected = None            # the format auto detection settled on

    def stop(self, timeout=2.0):
        self.stopping.set()
        self.join(timeout)

    def status(self, state, text):
        log.info("装置: %s (%s)", text, state)
        self.events.put(Status(state, text, self.port_name))

    def run(self):
        failures = 0
        while not self.stopping.is_set():
            try:
                port = self._open()
            except (serial.SerialException, OSError, ValueError) as e:
                state, text = describe_port_error(self.port_name, e)
                delay = self.backoff[min(failures, len(self.backoff) - 1)]
                failures += 1
                self.status(state, f"{text}（{delay} 秒後にもう一度試します）")
                self.stopping.wait(delay)
                continue
            failures = 0
            try:
                self.status("connected", f"{self.port_name} に接続しました。着信を待っています")
                self._pump(port)
            except (serial.SerialException, OSError) as e:
                log.info("装置との接続が切れました: %s", e)
                self.status("lost", f"{self.port_name} との接続が切れました（USB が抜けた？）。再接続しています")
            finally:
                try:
                    port.close()
                except Exception:          # a driver that fails to close must not stop the reader
                    log.exception("ポートを閉じられませんでした")
            if not self.stopping.is_set():
                self.stopping.wait(self.backoff[0])
        self.status("stopped", "停止しました")

    def _open(self):
        if self.config.port.lower() == "auto":
            return self._probe()
        self.status("connecting", f"{self.port_name} を開いています")
        port = self.opener(self.config.port, self.config.protocol, self.config.baudrate)
        self._send_init(port)
        return port

    def _send_init(self, port):
        if self.config.protocol in ("modem", "auto") and not self.port_name.startswith(("socket://", "udp://")):
            for command in self.config.init:
                port.write(command.encode("ascii", "replace") + b"\r")
                time.sleep(0.2)         # modems drop commands sent before the previous OK

    def _probe(self, listen=1.5):
        """port = auto: try each serial port found; keep the one that answers, else the first USB one."""
        candidates = [device for device, _ in list_ports()]
        silent = None
        for device in candidates:
            self.port_name = device
            try:
                port = self.opener(device, self.config.protocol, self.config.baudrate)
            except (serial.SerialException, OSError):
                continue
            self._send_init(port)
            heard = bytearray()
            deadline = time.monotonic() + listen
            while time.monotonic() < deadline and not self.stopping.is_set():
                heard += port.read(port.in_waiting or 1)
            if re.search(rb"OK|RING|NMBR", heard) or any(rx.search(heard) for _, rx in SIGNATURES):
                self.pending = bytes(heard)
                return port
            if silent is None:
                silent = port
            else:
                port.close()
        if silent is not None:
            self.port_name = silent.port
            self.pending = b""
            return silent
        self.port_name = "auto"
        raise serial.SerialException("no port")

    def _pump(self, port):
        decoder = make_decoder(self.config.protocol, now=self.now)
        pending, self.pending = getattr(self, "pending", b""), b""
        self._handle(port, decoder, decoder.feed(pending) if pending else [])
        while not self.stopping.is_set():
            data = port.read(port.in_waiting or 1)
            if data:
                if self.config.debug:
                    log.debug("RX %s", data.hex(" "))
                events = decoder.feed(data)
            else:
                events = decoder.flush()
            self._handle(port, decoder, events)
            if decoder.name == "auto" and decoder.detected and not self.detected:
                self.detected = decoder.detected

    def _handle(self, port, decoder, events):
        for event in events:
            if isinstance(event, Reply):
                port.write(event.data)
            elif isinstance(event, Call):
                call = dataclasses.replace(event, received=self.now())
                log.info("着信 (%s)%s", call.protocol, f" {call.number or call.reason}" if self.config.debug else "")
                self.events.put(call)
            elif isinstance(event, Garbled):
                log.info("読めないデータ (%s): %s", decoder.name, event.message)


###############################################################################
# Main ########################################################################
###############################################################################

def cmd_decode(path: str, protocol: str) -> int:
    try:
        raw = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as e:
        print(f"{path}: 読めません: {e.strerror}", file=sys.stderr)
        return 2
    for event in decode_capture(raw, protocol):
        if isinstance(event, Call):
            print(event.to_json())
        elif isinstance(event, Garbled):
            print(f"{path}: {event.offset} バイト目: {event.message}", file=sys.stderr)
    return 0


def cmd_list_ports() -> int:
    ports = list_ports()
    for device, description in ports:
        print(f"{device}\t{description}")
    if not ports:
        print("シリアルポートが見つかりません（着信表示装置の USB ケーブルを確認してください）", file=sys.stderr)
    return 0


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="cti", description="着信表示（CTI）: 着信した番号の会員を表示します")
    parser.add_argument("--config", metavar="PATH", help="cti.ini の場所（既定: プログラムと同じフォルダ）")
    parser.add_argument("--protocol", choices=PROTOCOL_NAMES, help="装置の形式（--decode と共に、既定 auto）")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--decode", metavar="FILE", help="記録ファイルを解読し、着信を 1 行 1 件の JSON で出力")
    action.add_argument("--list-ports", action="store_true", help="見つかったシリアルポートを表示")
    parser.add_argument("--version", action="version", version=f"cti {__version__}")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.decode:
        return cmd_decode(args.decode, args.protocol or "auto")
    if args.list_ports:
        return cmd_list_ports()
    return 0


if __name__ == "__main__":
    sys.exit(main())
