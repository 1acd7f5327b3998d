"""port = sip://…: cti as an extension of a SIP PBX (a ひかり電話 home gateway in the salon).

The pure parts (URL, messages, digest, the caller, the user agent's timers on a moved clock) are
tested directly, the parsing also with hypothesis. The rest runs against real parts: Kamailio on
127.0.0.1 as the registrar (digest auth with a fixed password, locations in memory), started by the
test with a config it writes, and SIPp placing calls through it to the extension cti registered.
"""

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cti
from conftest import Events, FakeMonotonic, poll_until

KAMAILIO_MODULES = "/usr/lib/x86_64-linux-gnu/kamailio/modules/"
PASSWORD = "pa%ss@3"                    # percent-encoded in the URL: pa%25ss%403
URL_PASSWORD = "pa%25ss%403"
FAST = {"refresh": 1.0, "give_up": 2.0, "unreachable_retry": 0.5, "refused_backoff": (3,)}
WAIT = 15.0                             # the longest a step may take on a loaded machine; normally ms
STARTUP = 60.0                          # Kamailio answers in 0.4 s; a loaded full run once passed 15 s

needs_sip = pytest.mark.skipif(not (shutil.which("kamailio") and shutil.which("sipp")),
                               reason="kamailio and sipp (Debian: kamailio, sip-tester) are needed")


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


KAMAILIO_CFG = """#!KAMAILIO
debug=2
log_stderror=yes
children=1
auto_aliases=no
listen=udp:127.0.0.1:{port}
mpath="{modules}"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "auth.so"
modparam("usrloc", "db_mode", 0)
modparam("auth", "algorithm", "{algorithm}")
modparam("auth", "secret", "cti-test")

request_route {{
    if (is_method("REGISTER")) {{
        xlog("L_NOTICE", "REGISTER $fU from $si:$sp\\n");
        if (!pv_www_authenticate("$td", "{password}", "0")) {{
            www_challenge("$td", "0");
            exit;
        }}
        save("location");
        exit;
    }}
    if (is_method("OPTIONS") && $rU == $null) {{
        sl_send_reply("200", "OK");
        exit;
    }}
    if (is_method("CANCEL")) {{
        if (t_check_trans()) t_relay();
        exit;
    }}
    if (!is_method("ACK")) t_check_trans();
    if (has_totag()) {{
        if (is_method("ACK") && t_check_trans()) t_relay();
        exit;
    }}
    if (!lookup("location")) {{
        sl_send_reply("404", "Not Found");
        exit;
    }}
    t_relay();
}}
"""


class Kamailio:
    """A registrar on 127.0.0.1 (a free port, kept across restarts), its log in a file."""

    def __init__(self, folder: Path, password=PASSWORD, algorithm="MD5"):
        self.folder, self.port = folder, free_udp_port()
        self.log = folder / "kamailio.log"
        self.cfg = folder / "kamailio.cfg"
        self.cfg.write_text(KAMAILIO_CFG.format(port=self.port, modules=KAMAILIO_MODULES, password=password,
                                                algorithm=algorithm))
        self.process = None

    def start(self):
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(["kamailio", "-f", str(self.cfg), "-DD", "-E", "-m", "16", "-M", "4",
                                             "-Y", str(self.folder), "-w", str(self.folder)],
                                            stdout=log, stderr=log, start_new_session=True)
        assert poll_until(self.answers, STARTUP, 0.1), f"kamailio did not start: {self.log.read_text()[-2000:]}"
        return self

    def answers(self) -> bool:
        """Kamailio answers an OPTIONS (the test's, from a socket of its own)."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            s.settimeout(0.3)
            here = s.getsockname()[1]
            s.sendto((f"OPTIONS sip:127.0.0.1:{self.port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{here};branch=z9hG4bK"
                      f"{os.urandom(4).hex()}\r\nFrom: <sip:probe@127.0.0.1>;tag=1\r\nTo: <sip:127.0.0.1>\r\n"
                      f"Call-ID: {os.urandom(6).hex()}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
                      "Content-Length: 0\r\n\r\n").encode(), ("127.0.0.1", self.port))
            try:
                return s.recv(2048).startswith(b"SIP/2.0 200")
            except OSError:
                return False

    def stop(self):
        """SIGTERM to Kamailio and its workers (a group of their own); SIGKILL if they have not gone in
        10 s (seen once on CI: the main process waited on a worker past that), so the port is free again."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)

    def registers(self) -> int:
        """REGISTER requests it has received so far."""
        return self.log.read_text(errors="replace").count("REGISTER 3 from")


@pytest.fixture
def kamailio(tmp_path):
    """kamailio(password=PASSWORD, algorithm="MD5") -> a started Kamailio; stopped at teardown."""
    started = []

    def start(password=PASSWORD, algorithm="MD5"):
        server = Kamailio(tmp_path, password, algorithm).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def extension_url(server, password=URL_PASSWORD, local_port=None) -> str:
    query = f"?local_port={local_port}" if local_port else ""
    return f"sip://3:{password}@127.0.0.1:{server.port}{query}"


@pytest.fixture
def extension():
    """extension(url) -> (reader, Events): a DeviceReader on the sip:// URL with short timers."""
    readers = []

    def start(url, **settings):
        events = Events()
        reader = cti.DeviceReader(cti.Config(port=url, debug=True), events.queue, backoff=(0.2,),
                                  sip_settings={**FAST, **settings})
        readers.append(reader)
        reader.start()
        return reader, events

    yield start
    for reader in readers:
        reader.stop()
        assert not reader.is_alive()


# ------------------------------------------------------------------------------------------------
# SIPp scenarios

INVITE = """INVITE sip:3@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch{offset}]
From: {caller};tag=[pid]SIPpTag[call_number]
To: <sip:3@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:caller@[local_ip]:[local_port]>
Max-Forwards: 70
{headers}Content-Length: 0

"""
CANCEL = """CANCEL sip:3@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch-{offset}]
From: {caller};tag=[pid]SIPpTag[call_number]
To: <sip:3@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 CANCEL
Max-Forwards: 70
{headers}Content-Length: 0

"""
ACK = """ACK sip:3@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch-{offset}]
From: {caller};tag=[pid]SIPpTag[call_number]
[last_To:]
Call-ID: [call_id]
CSeq: 1 ACK
Max-Forwards: 70
Content-Length: 0

"""


def send(text) -> str:
    return f"<send><![CDATA[\n{text}]]></send>"


def recv(code) -> str:
    return f'<recv response="{code}"/>'


def scenario(steps) -> str:
    return '<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="cti">\n' + "\n".join(steps) + "\n</scenario>\n"


def header_lines(headers) -> str:
    return "".join(f"{line}\n" for line in headers)


def ring_then_cancel(caller, headers=(), reason=None, retransmit=False, forks=1):
    """A caller's INVITE (retransmitted once, or forked with the same Call-ID), ringing, then CANCEL
    (with reason: 'Reason: …') and the 487: what the PBX does when another phone answers or the caller
    hangs up. SIPp's [branch-N] is the branch of the step N before."""
    steps, invites = [], []
    optional_180 = '<recv response="180" optional="true"/>'
    for fork in range(forks):
        invites.append(len(steps))
        steps += [send(INVITE.format(caller=caller, headers=header_lines(headers), offset="")),
                  '<recv response="100" optional="true"/>', recv(180)]
        if retransmit:                  # cti's 180 again, which SIPp may or may not take for a retransmission
            steps.append(send(INVITE.format(caller=caller, headers=header_lines(headers), offset="-3")))
    steps.append('<pause milliseconds="300"/>')
    for invite_at in invites:
        cancel_headers = header_lines([reason] if reason else [])
        steps.append(send(CANCEL.format(caller=caller, headers=cancel_headers, offset=len(steps) - invite_at)))
        steps += [optional_180, recv(200), recv(487)]
        steps.append(send(ACK.format(caller=caller, offset=len(steps) - invite_at)))
    return scenario(steps)


def in_dialog(method, caller) -> str:
    """A BYE or re-INVITE for a call cti never answered: it must say so (481), not crash."""
    text = f"""{method} sip:3@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: {caller};tag=[pid]SIPpTag[call_number]
To: <sip:3@[remote_ip]:[remote_port]>;tag=never-answered
Call-ID: [call_id]
CSeq: 2 {method}
Contact: <sip:caller@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Length: 0

"""
    return scenario([send(text), recv(481)])


def sipp(folder: Path, xml: str, target: str, timeout=30) -> subprocess.CompletedProcess:
    """Run one SIPp call of the scenario to target (host:port); its output kept for the assertion."""
    path = folder / f"scenario-{os.urandom(3).hex()}.xml"
    path.write_text(xml)
    return subprocess.run(["sipp", target, "-sf", str(path), "-m", "1", "-i", "127.0.0.1", "-p", str(free_udp_port()),
                           "-nostdin", "-timeout", f"{timeout}s", "-timeout_error", "-recv_timeout", "10000",
                           "-trace_err", "-error_file", str(folder / "sipp-errors.log")],
                          capture_output=True, text=True, timeout=timeout + 15, cwd=folder)


def assert_sipp_ok(result, folder):
    errors = folder / "sipp-errors.log"
    assert result.returncode == 0, (result.stdout[-3000:], result.stderr[-2000:],
                                    errors.read_text()[-3000:] if errors.exists() else "")


# ------------------------------------------------------------------------------------------------
# Pure: the URL, the caller, the CANCEL, digest

def test_the_url_takes_a_percent_encoded_password_and_never_shows_it():
    target = cti.parse_sip_url("sip://3:pa%25ss%403@192.168.1.1?local_port=5062")
    assert (target.user, target.password, target.host, target.port, target.local_port) == \
        ("3", "pa%ss@3", "192.168.1.1", 5060, 5062)
    assert "pa" not in repr(target) and target.shown == "sip://3@192.168.1.1"
    assert cti.shown_port("sip://3:secret@h:5070") == "sip://3@h:5070"
    assert cti.shown_port("sip://3:secret@h:99999") == "sip://3:***@h:99999"      # unparsable, still hidden
    for bad in ("sip://3@192.168.1.1", "sip://:pw@192.168.1.1", "sip://3:pw@", "sip://3:pw@h?port=1"):
        with pytest.raises(ValueError) as error:
            cti.parse_sip_url(bad)
        assert "pw" not in str(error.value)


def test_cti_ini_reads_a_sip_port_as_typed_and_its_message_hides_the_password(tmp_path):
    ini = tmp_path / "cti.ini"
    ini.write_text("[device]\nport = ｓｉｐ：／／３：ＡＢｃ%25@１９２.１６８.１.１\n", encoding="utf-8")
    config, problems = cti.load_config(ini)
    assert problems == [] and config.port == "sip://3:ＡＢｃ%25@192.168.1.1"     # the password as written
    assert cti.parse_sip_url(config.port).password == "ＡＢｃ%"
    ini.write_text("[device]\nport = sip://3:hunter2@192.168.1.1?bogus=1\n", encoding="utf-8")
    config, [problem] = cti.load_config(ini)
    assert "hunter2" not in problem and "sip://3:***@192.168.1.1" in problem and "bogus" in problem
    assert config.port == "auto"


def invite(*headers, privacy=None, from_="<sip:0596310005@hgw>;tag=a") -> cti.SipMessage:
    lines = ["INVITE sip:3@192.168.1.10 SIP/2.0", "Via: SIP/2.0/UDP 192.168.1.1;branch=z9hG4bK1",
             f"From: {from_}", "To: <sip:3@192.168.1.1>", "Call-ID: c1", "CSeq: 1 INVITE", *headers]
    if privacy:
        lines.append(f"Privacy: {privacy}")
    return cti.parse_sip(("\r\n".join(lines) + "\r\n\r\n").encode())


@pytest.mark.parametrize("headers, from_, expected", [
    ((), "<sip:0596310005@192.168.1.1>;tag=a", ("0596310005", None)),
    ((), '"ﾍﾟﾝｷﾞﾝ" <sip:+81596310005@hgw;user=phone>;tag=a', ("0596310005", None)),
    ((), "<tel:+81-90-8765-4321>;tag=a", ("09087654321", None)),
    (("P-Asserted-Identity: <sip:0312345678@hgw>, <tel:+81312345678>",), "<sip:anonymous@anonymous.invalid>;tag=a",
     ("0312345678", None)),
    (("Remote-Party-ID: <sip:0452345678@hgw>;party=calling",), "<sip:unknown-thing@hgw>;tag=a", ("0452345678", None)),
    ((), '"Anonymous" <sip:anonymous@anonymous.invalid>;tag=a', (None, "private")),
    ((), "<sip:Anonymous@hgw>;tag=a", (None, "private")),
    ((), "<sip:@hgw>;tag=a", (None, "private")),
    (("Remote-Party-ID: <sip:0452345678@hgw>;privacy=full",), "<sip:x@hgw>;tag=a", (None, "private")),
    ((), '"公衆電話" <sip:unknown@hgw>;tag=a', (None, "payphone")),
    ((), "<sip:%E8%A1%A8%E7%A4%BA%E5%9C%8F%E5%A4%96@hgw>;tag=a", (None, "out_of_area")),
    ((), '"x" <sip:somebody@hgw>;tag=a', (None, None)),                       # 番号なし, raw in the debug log
])
def test_the_caller_from_asserted_identity_then_remote_party_then_from(headers, from_, expected):
    number, reason, _, read = cti.sip_caller(invite(*headers, from_=from_))
    assert (number, reason) == expected and read


def test_privacy_id_withholds_even_an_asserted_number():
    message = invite("P-Asserted-Identity: <tel:+81596310005>", privacy="id")
    assert cti.sip_caller(message)[:2] == (None, "private")


@pytest.mark.parametrize("reason, answered", [
    ('Reason: SIP;cause=200;text="Call completed elsewhere"', True),
    ('Reason: SIP ; cause=200', True),
    ('Reason: Q.850;cause=16;text="Normal call clearing"', False),
    (None, False),
])
def test_a_cancel_says_answered_elsewhere_only_with_its_reason(reason, answered):
    lines = ["CANCEL sip:3@h SIP/2.0", "Via: SIP/2.0/UDP h;branch=z9hG4bK1", "From: <sip:1@h>;tag=a",
             "To: <sip:3@h>", "Call-ID: c", "CSeq: 1 CANCEL"] + ([reason] if reason else [])
    assert cti.answered_elsewhere(cti.parse_sip(("\r\n".join(lines) + "\r\n\r\n").encode())) is answered


def test_digest_matches_rfc_7616s_examples_in_md5_and_sha256():
    challenge = {"realm": "http-auth@example.org", "nonce": "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
                 "qop": "auth, auth-int", "opaque": "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"}
    cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
    for algorithm, expected in (("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
                                ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1")):
        value = cti.digest_authorization({**challenge, "algorithm": algorithm}, "GET", "/dir/index.html",
                                         "Mufasa", "Circle of Life", cnonce)
        assert f'response="{expected}"' in value and "qop=auth," in value and "nc=00000001" in value


def test_sha256_is_chosen_over_md5_when_both_are_offered():
    response = cti.parse_sip(b"SIP/2.0 401 Unauthorized\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:3@h>;tag=a"
                             b"\r\nTo: <sip:3@h>\r\nCall-ID: c\r\nCSeq: 1 REGISTER\r\n"
                             b'WWW-Authenticate: Digest realm="h", nonce="n1", algorithm=MD5\r\n'
                             b'WWW-Authenticate: Digest realm="h", nonce="n2", algorithm=SHA-256, qop="auth"\r\n\r\n')
    header, challenge = cti.best_challenge(response)
    assert header == "Authorization" and challenge["nonce"] == "n2"


# ------------------------------------------------------------------------------------------------
# The user agent on a moved clock

class Clock:
    def __init__(self):
        self.now = 1000.0


def agent(**settings):
    return cti.SipAgent(cti.SipTarget("3", "secret", "192.168.1.1"), ("192.168.1.1", 5060), ("192.168.1.10", 5062),
                        **settings)


def reply(request: bytes, status: int, *headers) -> bytes:
    """The registrar's answer to a REGISTER the agent sent."""
    message = cti.parse_sip(request)
    reason = {200: "OK", 401: "Unauthorized", 403: "Forbidden", 423: "Interval Too Brief"}[status]
    return cti.sip_response(message, status, reason, "reg", headers)


def sends(actions):
    return [a.data for a in actions if isinstance(a, cti.Reply)]


CHALLENGE = 'WWW-Authenticate: Digest realm="hgw", nonce="{nonce}", algorithm=MD5, qop="auth"'


def test_a_wrong_password_backs_off_instead_of_storming():
    ua, now = agent(refused_backoff=(30, 60)), 0.0
    [register] = sends(ua.start(now))
    attempts = []
    for nonce in range(6):                              # a registrar with a fresh nonce on every challenge
        [register] = sends(ua.receive(reply(register, 401, CHALLENGE.format(nonce=nonce)), ("192.168.1.1", 5060), now))
        assert b"Authorization: Digest" in register
        events = ua.receive(reply(register, 401, CHALLENGE.format(nonce=f"again{nonce}")), ("192.168.1.1", 5060), now)
        [health] = [e for e in events if isinstance(e, cti.SipHealth)]
        assert health.state == "refused" and "内線 3" in health.text and "192.168.1.1" in health.text
        assert "secret" not in health.text and not sends(events)
        attempts.append(now)
        while not (out := sends(ua.tick(now))):
            now += 1
        [register] = out
    assert [b - a for a, b in zip(attempts, attempts[1:])] == [30, 60, 60, 60, 60]


def test_registration_is_refreshed_every_20_s_and_found_again_after_the_registrar_comes_back():
    ua, now = agent(), 0.0
    [register] = sends(ua.start(now))
    [register] = sends(ua.receive(reply(register, 401, CHALLENGE.format(nonce="n")), ("192.168.1.1", 5060), now))
    events = ua.receive(reply(register, 200, "Contact: <sip:3@192.168.1.10:5062>;expires=3600"),
                        ("192.168.1.1", 5060), now)
    assert [e.state for e in events] == ["connected"]
    sent_at = []
    while now < 200:                                    # the registrar is gone from t=0
        now += 0.25
        if sends(ua.tick(now)):
            sent_at.append(now)
    assert sent_at[0] == 20.0                           # the refresh, then its retransmissions
    assert ua.state == "missing"
    gaps = [b - a for a, b in zip(sent_at, sent_at[1:])]
    assert max(gaps) < 10                               # never quiet long while it is away
    [register] = sends(ua.tick(now + 30))               # it is back: the next try registers
    events = ua.receive(reply(register, 200), ("192.168.1.1", 5060), now + 30)
    assert [e.state for e in events] == ["connected"]


RAW_INVITE = (b"INVITE sip:3@192.168.1.10:5062 SIP/2.0\r\nVia: SIP/2.0/UDP 192.168.1.1:5060;branch=z9hG4bKabc\r\n"
              b"From: <sip:0596310005@192.168.1.1>;tag=f1\r\nTo: <sip:3@192.168.1.10>\r\nCall-ID: x1@hgw\r\n"
              b"CSeq: 7 INVITE\r\nContact: <sip:0596310005@192.168.1.1>\r\nContent-Length: 0\r\n\r\n")


def test_an_invite_rings_never_answers_and_its_retransmission_and_fork_are_one_call():
    ua, hgw = agent(), ("192.168.1.1", 5060)
    first = ua.receive(RAW_INVITE, hgw, 0)
    again = ua.receive(RAW_INVITE, hgw, 0.5)
    fork = ua.receive(RAW_INVITE.replace(b"z9hG4bKabc", b"z9hG4bKdef"), hgw, 0.6)
    calls = [e for e in first + again + fork if isinstance(e, cti.Call)]
    assert [c.number for c in calls] == ["0596310005"]
    statuses = [d.split(b" ", 2)[1] for d in sends(first + again + fork)]
    assert statuses == [b"100", b"180", b"180", b"100", b"180"] and b"200" not in statuses
    cancel = RAW_INVITE.replace(b"INVITE sip", b"CANCEL sip").replace(b"7 INVITE", b"7 CANCEL")
    ended = ua.receive(cancel, hgw, 1)
    assert [d.split(b" ", 2)[1] for d in sends(ended)] == [b"200", b"487"]
    [end] = [e for e in ended if isinstance(e, cti.Call)]
    assert end.key == calls[0].key and end.answered is False
    assert not [e for e in ua.receive(cancel.replace(b"z9hG4bKabc", b"z9hG4bKdef"), hgw, 1.1) if isinstance(e, cti.Call)]
    resent = sends(ua.tick(1.6))                        # each fork's 487 again until its ACK
    assert len(resent) == 2 and all(b" 487 " in r.split(b"\r\n")[0] for r in resent)
    ua.receive(RAW_INVITE.replace(b"INVITE sip", b"ACK sip").replace(b"7 INVITE", b"7 ACK"), hgw, 1.7)
    ua.receive(cancel.replace(b"INVITE sip", b"ACK sip").replace(b"CANCEL sip", b"ACK sip")
               .replace(b"7 CANCEL", b"7 ACK").replace(b"z9hG4bKabc", b"z9hG4bKdef"), hgw, 1.7)
    assert not sends(ua.tick(10))


SIP_HEADER_NAMES = st.sampled_from(["Via", "From", "To", "Call-ID", "CSeq", "Contact", "P-Asserted-Identity",
                                    "Remote-Party-ID", "Privacy", "Reason", "WWW-Authenticate", "i", "f", "t", "v"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600))
def test_random_bytes_never_raise_and_never_show_a_caller(data):
    ua = agent()
    events = ua.receive(data, ("192.168.1.1", 5060), 0.0) + ua.tick(1.0)
    assert not [e for e in events if isinstance(e, cti.Call)] or cti.parse_sip(data).method == "INVITE"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(["drop", "replace", "add"]), st.integers(0, 8), SIP_HEADER_NAMES,
                          st.text(max_size=60)), max_size=4),
       st.sampled_from([b"INVITE", b"CANCEL", b"BYE", b"ACK", b"OPTIONS", b"SIP/2.0 401", b"SIP/2.0 200"]))
def test_malformed_sip_messages_never_raise_and_only_a_whole_invite_shows_a_caller(edits, method):
    lines = RAW_INVITE.decode().split("\r\n")[:-2]
    if method.startswith(b"SIP/"):
        lines[0] = f"{method.decode()} X"
        lines[5] = "CSeq: 1 REGISTER"
    else:
        lines[0] = lines[0].replace("INVITE", method.decode())
        lines[5] = f"CSeq: 7 {'INVITE' if method == b'ACK' else method.decode()}"
    for action, at, name, value in edits:
        at = 1 + at % (len(lines) - 1) if len(lines) > 1 else 1
        if action == "drop" and len(lines) > 1:
            del lines[at:at + 1]
        elif action == "replace":
            lines[at:at + 1] = [f"{name}: {value}"]
        else:
            lines.insert(at, f"{name}:{value}")
    data = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "replace")
    ua = agent()
    ua.start(0.0)
    events = ua.receive(data, ("192.168.1.1", 5060), 0.0) + ua.tick(0.6)
    calls = [e for e in events if isinstance(e, cti.Call)]
    message = cti.parse_sip(data)
    if calls:
        assert message.method == "INVITE" and not message.status and message.header("call-id")
        assert (calls[0].number, calls[0].reason) == cti.sip_caller(message)[:2]


# ------------------------------------------------------------------------------------------------
# Real parts: Kamailio and SIPp

@needs_sip
def test_calls_through_kamailio_show_the_caller_and_how_the_call_ended(kamailio, extension, tmp_path, caplog):
    """One registered extension, one SIPp call of each kind through Kamailio (SHA-256 digest); the
    debug log holds the SIP messages but neither the password nor a caller's name."""
    caplog.set_level(logging.DEBUG, logger="cti")
    server = kamailio(algorithm="SHA-256")
    reader, events = extension(extension_url(server))
    connected = events.status("connected", WAIT)
    assert "内線 3" in connected.text and PASSWORD not in connected.text and URL_PASSWORD not in reader.port_name
    target = f"127.0.0.1:{server.port}"

    def call(caller, headers=(), reason=None):
        result = sipp(tmp_path, ring_then_cancel(caller, headers, reason), target)
        assert_sipp_ok(result, tmp_path)                # 100/180 then 487: never a 200 to the INVITE
        shown = events.call(WAIT)
        ended = events.wait(lambda e: isinstance(e, cti.Call) and e.answered is not None, WAIT, "the call's end")
        assert ended.key == shown.key and shown.answered is None
        return shown, ended

    member, ended = call("<sip:0596310005@127.0.0.1>",
                         reason='Reason: SIP;cause=200;text="Call completed elsewhere"')
    assert (member.number, member.reason, member.protocol, ended.answered) == ("0596310005", None, "sip", True)
    unknown, ended = call('"Caller" <sip:+819012345678@127.0.0.1>')
    assert (unknown.number, ended.answered) == ("09012345678", False)
    asserted, _ = call("<sip:anonymous@anonymous.invalid>", ["P-Asserted-Identity: <tel:+81312345678>"])
    assert asserted.number == "0312345678"
    withheld, _ = call("<sip:0312345678@127.0.0.1>", ["P-Asserted-Identity: <tel:+81312345678>", "Privacy: id"])
    assert (withheld.number, withheld.reason) == (None, "private")
    anonymous, _ = call('"Anonymous" <sip:anonymous@anonymous.invalid>')
    assert (anonymous.number, anonymous.reason) == (None, "private")
    logged = caplog.text
    assert "SIP RX INVITE" in logged and "Call completed elsewhere" in logged
    assert PASSWORD not in logged and URL_PASSWORD not in logged and '"Caller"' not in logged


@needs_sip
def test_a_stopped_extension_unregisters_so_the_pbx_stops_offering_it_calls(kamailio, extension, tmp_path):
    server = kamailio()
    reader, events = extension(extension_url(server))
    events.status("connected", WAIT)
    reader.stop()
    not_found = scenario([send(INVITE.format(caller="<sip:0596310005@127.0.0.1>", headers="", offset="")),
                          '<recv response="100" optional="true"/>', recv(404),
                          send(ACK.format(caller="<sip:0596310005@127.0.0.1>", offset=3))])
    assert_sipp_ok(sipp(tmp_path, not_found, f"127.0.0.1:{server.port}"), tmp_path)


@needs_sip
def test_a_retransmitted_or_forked_invite_is_one_call_and_bye_or_reinvite_get_481(kamailio, extension, tmp_path):
    """SIPp straight to cti's pinned local_port (the registrar's host, as the HGW's would be)."""
    server = kamailio()
    local = free_udp_port()
    reader, events = extension(extension_url(server, local_port=local))
    events.status("connected", WAIT)
    target = f"127.0.0.1:{local}"
    for xml in (ring_then_cancel("<sip:0596310005@127.0.0.1>", retransmit=True),
                ring_then_cancel("<sip:0452345678@127.0.0.1>", forks=2)):
        assert_sipp_ok(sipp(tmp_path, xml, target), tmp_path)
    for method in ("BYE", "INVITE"):
        assert_sipp_ok(sipp(tmp_path, in_dialog(method, "<sip:0596310005@127.0.0.1>"), target), tmp_path)
    events.wait(lambda e: isinstance(e, cti.Call) and e.number == "0452345678" and e.answered is False, WAIT,
                "the fork's end")
    calls = events.calls()
    assert [(c.number, c.answered) for c in calls] == [("0596310005", None), ("0596310005", False),
                                                       ("0452345678", None), ("0452345678", False)]
    assert reader.is_alive()


@needs_sip
def test_kamailio_restarted_mid_session_cti_registers_again_and_the_next_call_shows(kamailio, extension, tmp_path):
    server = kamailio()
    reader, events = extension(extension_url(server))
    events.status("connected", WAIT)
    server.stop()
    lost = events.status("missing", WAIT)
    assert "127.0.0.1" in lost.text
    server.start()                                      # a fresh registrar: it knows no extension
    events.status("connected", WAIT)
    result = sipp(tmp_path, ring_then_cancel("<sip:0596310005@127.0.0.1>"), f"127.0.0.1:{server.port}")
    assert_sipp_ok(result, tmp_path)
    assert events.call(WAIT).number == "0596310005"


@needs_sip
def test_a_wrong_password_says_so_in_japanese_and_backs_off(kamailio, extension):
    server = kamailio()
    reader, events = extension(extension_url(server, password="wrong-one"))
    refused = events.status("refused", WAIT)
    assert "内線 3" in refused.text and "127.0.0.1" in refused.text and "パスワード" in refused.text
    assert "wrong-one" not in refused.text and "wrong-one" not in reader.port_name
    first = time.monotonic()
    assert server.registers() == 2                      # the first REGISTER and its one answer to the challenge
    events.status("refused", WAIT)                       # the back-off's next try (3 s here), refused again
    assert time.monotonic() - first >= 2.5 and server.registers() == 4


@needs_sip
def test_the_window_titles_sipps_caller(kamailio, tmp_path):
    """python cti.py with port = sip://… (a real window under Xvfb): SIPp's call is in its title."""
    if not os.environ.get("DISPLAY") or not shutil.which("xdotool"):
        pytest.skip("needs a display (conftest makes this a failure)")
    server = kamailio()
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "members.csv").write_bytes((",".join(cti.MEMBERS_HEADER) + "\r\nAC00001,ペンギン貴子,ぺんぎんたかこ,"
                                          "0596-31-0005,佐藤,\r\n").encode("utf-8-sig"))
    (folder / "cti.ini").write_bytes(cti.DEFAULT_INI.replace("port = auto", f"port = {extension_url(server)}")
                                     .encode("utf-8-sig"))
    env = dict(os.environ, TMPDIR=str(tmp_path), PYTHONIOENCODING="utf-8")
    before = cti_windows()
    process = subprocess.Popen([sys.executable, str(Path(cti.__file__)), "--config", str(folder / "cti.ini")],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.before = before
    try:
        log = folder / "cti.log"
        assert poll_until(lambda: log.exists() and "に登録しました" in log.read_text("utf-8"), 30, 0.1), \
            log.read_text("utf-8") if log.exists() else "no log"
        result = sipp(tmp_path, ring_then_cancel("<sip:0596310005@127.0.0.1>"), f"127.0.0.1:{server.port}")
        assert_sipp_ok(result, tmp_path)
        assert poll_until(lambda: "CTI — 0596-31-0005 ペンギン貴子" in titles_of(process), 30, 0.1), \
            (titles_of(process), log.read_text("utf-8"))
        assert PASSWORD not in log.read_text("utf-8") and URL_PASSWORD not in log.read_text("utf-8")
    finally:
        process.terminate()
        process.wait(10)


def cti_windows() -> set:
    """The X windows whose title holds CTI (this process's own test windows among them)."""
    return set(subprocess.run(["xdotool", "search", "--name", "CTI"], capture_output=True, text=True).stdout.split())


def titles_of(process) -> list:
    """The titles of the windows that appeared since the process started (Tk sets no _NET_WM_PID)."""
    return [subprocess.run(["xdotool", "getwindowname", i], capture_output=True, text=True).stdout.strip()
            for i in sorted(cti_windows() - process.before)]


def test_a_caller_without_a_known_form_is_numberless_and_what_was_read_goes_to_the_debug_log(caplog):
    caplog.set_level(logging.DEBUG, logger="cti")
    invite = RAW_INVITE.replace(b"<sip:0596310005@192.168.1.1>;tag=f1", b'"Yamada" <sip:hgw-line-7@192.168.1.1>;tag=f1')
    [call] = [e for e in agent().receive(invite, ("192.168.1.1", 5060), 0.0) if isinstance(e, cti.Call)]
    assert (call.number, call.reason) == (None, None)                   # 番号なし on the card
    assert "hgw-line-7" in caplog.text and "Yamada" not in caplog.text   # the form, not a name


@needs_sip
def test_a_new_ip_address_of_the_pc_opens_the_extension_again_on_it(kamailio, extension, monkeypatch):
    """The PC's address changing (DHCP, Wi-Fi for the cable) cannot be made here without changing
    the machine's routes: local_address_for, the lowest call, is told to answer another address once
    the extension is registered and the registrar has gone quiet."""
    server = kamailio()
    reader, events = extension(extension_url(server))
    events.status("connected", WAIT)
    server.stop()
    events.status("missing", WAIT)                      # a registrar gone quiet, the address unchanged
    real = cti.local_address_for
    monkeypatch.setattr(cti, "local_address_for", lambda host, port: (*real(host, port)[:2], "127.0.0.2"))
    lost = events.status("lost", WAIT)                  # the next unanswered REGISTER finds the new address
    assert "ネットワーク" in lost.text and "USB" not in lost.text
    server.start()
    events.status("connected", WAIT)                    # registered again, from 127.0.0.2


def test_a_sip_port_hears_only_its_registrars_host_and_wakes_for_the_agents_timer():
    """A datagram from another host (127.0.0.2: still this machine's loopback, no network) is ignored,
    however call-like; the registrar's INVITE rings. And exchange() waits no longer than the agent's
    next timer, not `longest`: a timer due now returns at once."""
    clock = FakeMonotonic()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as registrar, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as stranger:
        registrar.bind(("127.0.0.1", 0))
        stranger.bind(("127.0.0.2", 0))
        port = cti.SipPort(f"sip://3:secret@127.0.0.1:{registrar.getsockname()[1]}", clock=clock)
        try:
            port.start()
            forged = RAW_INVITE.replace(b"0596310005", b"0312345678").replace(b"x1@hgw", b"x2@hgw")
            stranger.sendto(forged, port.local)
            registrar.sendto(RAW_INVITE, port.local)
            events = []
            assert poll_until(lambda: events.extend(port.exchange()) or any(isinstance(e, cti.Call) for e in events),
                              5.0)
            assert [e.number for e in events if isinstance(e, cti.Call)] == ["0596310005"]
            clock.t = port.agent.wake_at()                # the agent's next timer is due now
            began = time.monotonic()
            port.exchange(longest=60)
            assert time.monotonic() - began < 30
        finally:
            port.close()
