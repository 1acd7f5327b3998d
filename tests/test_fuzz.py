"""Fuzzing the decoders: hypothesis (derandomized, bounded) and a seeded random generator.

- any bytes in any chunking: no exception, and every event is well formed;
- mutated ND frames never give a call for another number; a wrong CRC is never a call;
- valid ND frames in random noise (with and without DLE bytes) are all found.
"""

import itertools
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cti
from conftest import build_nd_frame

FUZZ = settings(max_examples=300, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow])

PROTOCOLS = sorted(cti.DECODERS)
DLES = (0x10, 0x90)

ND_SAMPLE = build_nd_frame([(0x02, b"0312345678")])
ALOHA_SAMPLE = bytes(cti.even_parity(b) for b in b"\x02" + b"1124310150451234567" + b"\x03")
TOKENS = [
    ND_SAMPLE, ND_SAMPLE[:9], ND_SAMPLE[9:], build_nd_frame([(0x04, b"P")], parity=False),
    b"\x90\x81\x87\x90\x82\xc0", b"\x10\x01\x07\x10\x02\x40", b"\x90\x03", b"\x10\x03", b"\x90\x90", b"\x90", b"\x10",
    ALOHA_SAMPLE, ALOHA_SAMPLE[:7], b"\x02", b"\x03", b"\x82", b"\x83", b"\x02112431015", b"E\x03", b"P\x03",
    b"RING", b"\r\n", b"\r", b"\n", b"NMBR = ", b"NMBR=", b"DATE = 1124", b"TIME=1015", b"NAME = ", b"DDN_NMBR=",
    b"CID: ", b"+CID: ", b"CIDLOG: ", b"*DATE*11242026", b"*DATE*31122026", b"*TIME*1405", b"*NMBR*", b"*NAME*",
    b"*", b"200 ", b"^^<U>000001<S>345678$", b"01 I S 0000 G A1 ", b"01 O E 0000 B A1 ", b"11/24 ", b"13/45 ",
    b"03:20 PM ", b"12:05 AM ", b"99:99 PM ", b"0451234567", b"09087654321", b"+81 3 1234 5678", b"PRIVATE",
    b"OUT-OF-AREA", b"NO-NUMBER", b"P", b"O", b"C", b"S", b"E", b"-", b" ", b"\x00", b"\xff", b"\xb1\xb2",
    "ペンギン".encode("utf-8"), "ペンギン".encode("cp932"), b"\xe3\x81",
]
streams = st.one_of(
    st.binary(max_size=600),
    st.lists(st.one_of(st.sampled_from(TOKENS), st.binary(max_size=6)), max_size=60).map(b"".join),
)
chunk_sizes = st.lists(st.integers(1, 80), min_size=1, max_size=12)


def chunks(data: bytes, sizes):
    out, i = [], 0
    for size in itertools.cycle(sizes):
        if i >= len(data):
            return out
        out.append(data[i:i + size])
        i += size


def check_events(events, fed):
    """Every event is one of the three kinds and well formed."""
    for e in events:
        assert isinstance(e, (cti.Call, cti.Garbled, cti.Reply)), e
        if isinstance(e, cti.Call):
            assert (e.number is None) != (e.reason is None), e
            assert e.number is None or (e.number.isdigit() and len(e.number) >= 1), e
            assert e.reason is None or e.reason in cti.REASONS, e
            assert e.name is None or (e.name == e.name.strip() and e.name.upper() not in cti.NO_NAME), e
            assert e.received is None
        elif isinstance(e, cti.Reply):
            assert e.data in (b"\x06", b"\x95"), e
        else:
            assert 0 <= e.offset <= fed and e.message, e


def run(protocol, pieces, idle_every=0, **kw):
    d = cti.make_decoder(protocol, **kw)
    events, fed = [], 0
    for n, piece in enumerate(pieces, 1):
        fed += len(piece)
        events += d.feed(piece)
        if idle_every and n % idle_every == 0:
            events += d.flush()
    events += d.flush(final=True)
    check_events(events, fed)
    return events


def call_keys(events):
    return [(e.number, e.reason, e.name, e.time) for e in events if isinstance(e, cti.Call)]


###############################################################################
# Any bytes

@FUZZ
@given(protocol=st.sampled_from(PROTOCOLS), data=streams, sizes=chunk_sizes, idle_every=st.integers(0, 4))
def test_any_bytes_in_any_chunks_never_raise(protocol, data, sizes, idle_every):
    run(protocol, chunks(data, sizes), idle_every=idle_every)


@FUZZ
@given(protocol=st.sampled_from(["nd", "modem", "ncid", "whozz"]), data=streams, sizes=chunk_sizes)
def test_chunking_does_not_change_the_calls(protocol, data, sizes):
    whole = run(protocol, [data], repeat_window=float("inf"))
    assert call_keys(run(protocol, chunks(data, sizes), repeat_window=float("inf"))) == call_keys(whole)


def test_seeded_random_bytes_never_raise():
    rng = random.Random(1125)
    for case in range(600):
        protocol = PROTOCOLS[case % len(PROTOCOLS)]
        data = bytes(rng.choice((rng.randrange(256), *DLES, 0x02, 0x03, 0x0D, 0x0A, 0x81))
                     for _ in range(rng.randrange(400)))
        sizes = [rng.randint(1, 40) for _ in range(5)]
        run(protocol, chunks(data, sizes), idle_every=rng.randint(0, 3))


###############################################################################
# Number Display frames

def random_params(rng):
    """(params for the frame builder, (number, reason) it must decode to)."""
    kind = rng.random()
    if kind < 0.2:
        letter, reason = rng.choice([("P", "private"), ("O", "out_of_area"), ("C", "payphone"), ("S", "conflict")])
        return [(0x04, letter.encode())], (None, reason)
    length = rng.choice([10, 10, 11, 11, 14, 16])       # 14 and 16 digits give DLE lengths to double
    number = "0" + "".join(rng.choice("0123456789") for _ in range(length - 1))
    params = [(0x02, number.encode())]
    if rng.random() < 0.2:
        params.append((0x21, bytes([2, 0, 1])))
    if rng.random() < 0.1:
        params.insert(0, (0x01, b"11241230"))
    return params, (number, None)


def mutate(rng, frame: bytes, n: int) -> bytes:
    data = bytearray(frame)
    for _ in range(n):
        op = rng.choice(("flip", "flip", "drop", "insert"))
        if op == "flip" or not data:
            if data:
                data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        elif op == "drop":
            del data[rng.randrange(len(data))]
        else:
            data.insert(rng.randrange(len(data) + 1), rng.choice((rng.randrange(256), *DLES)))
    return bytes(data)


def nd_calls(stream: bytes, rng=None, **kw):
    counter = itertools.count()
    kw.setdefault("clock", lambda: next(counter) * 10.0)        # no two calls within the repeat window
    d = cti.NumberDisplayDecoder(**kw)
    events = []
    pieces = chunks(stream, [rng.randint(1, 30) for _ in range(4)]) if rng else [stream]
    for piece in pieces:
        events += d.feed(piece)
    check_events(events, len(stream))
    return [(e.number, e.reason) for e in events if isinstance(e, cti.Call)]


def test_mutated_frames_never_give_another_number():
    rng = random.Random(20261125)
    sentinel = build_nd_frame([(0x04, b"S")])
    for case in range(2500):
        params, expected = random_params(rng)
        frame = build_nd_frame(params, parity=rng.random() < 0.9)
        bad = mutate(rng, frame, rng.choice((1, 1, 2, 3, 5)))
        got = nd_calls(bad + sentinel, rng)
        assert got[-1:] == [(None, "conflict")], (case, bad.hex(" "))      # the next frame is never lost
        if frame in bad:
            assert got[:-1] in ([], [expected]), (case, bad.hex(" "))
        else:
            assert got[:-1] == [], (case, frame.hex(" "), bad.hex(" "))


def test_single_mutations_of_every_kind_at_every_position_are_rejected():
    rng = random.Random(7)
    for _ in range(12):
        params, expected = random_params(rng)
        frame = build_nd_frame(params)
        for i in range(len(frame)):
            variants = [frame[:i] + frame[i + 1:]]                                  # drop
            variants += [frame[:i] + bytes([b]) + frame[i:] for b in (0x00, 0x90, 0x30, 0xB1) if i]   # insert
            variants += [frame[:i] + bytes([frame[i] ^ (1 << bit)]) + frame[i + 1:] for bit in range(8)]
            for bad in variants:
                assert nd_calls(bad) == [] or frame in bad, (frame.hex(" "), bad.hex(" "))


@FUZZ
@given(digits=st.text("0123456789", min_size=9, max_size=16), crc=st.integers(0, 0xFFFF), data=st.data())
def test_a_wrong_crc_is_never_a_call(digits, crc, data):
    frame = build_nd_frame([(0x02, ("0" + digits).encode())])
    good = int.from_bytes(frame[-2:], "little")
    if crc == good:
        crc ^= 1 << data.draw(st.integers(0, 15))
    assert nd_calls(frame[:-2] + crc.to_bytes(2, "little")) == []
    # a digit changed into another digit with good parity: only the CRC can tell
    i = data.draw(st.integers(0, len(digits)))
    body = bytearray(frame[:-2])
    at = body.index(bytes([cti.even_parity(0x02)])) + 2 + i                # the first digit after 02 LL
    new = data.draw(st.sampled_from([d for d in b"0123456789" if cti.even_parity(d) != body[at]]))
    body[at] = cti.even_parity(new)
    assert nd_calls(bytes(body) + frame[-2:]) == []


def noise_without_dle(rng, size):
    return bytes(rng.choice([b for b in range(256) if b not in DLES]) for _ in range(size))


def noise_with_dle(rng, size, frames):
    """Random bytes, DLEs, fake frame starts and frames cut short (before their CRC)."""
    out = bytearray()
    while len(out) < size:
        pick = rng.random()
        if pick < 0.5:
            out.append(rng.randrange(256))
        elif pick < 0.75:
            out.append(rng.choice(DLES))
        elif pick < 0.9:
            out += rng.choice((b"\x90\x81", b"\x10\x01", b"\x90\x03", b"\x10\x03", b"\x90\x90", b"\x90\x82"))
        else:
            frame = rng.choice(frames)
            out += frame[:rng.randint(1, len(frame) - 3)]
    return bytes(out)


def embedded(rng, with_dle):
    chosen = [random_params(rng) for _ in range(rng.randint(1, 5))]
    frames = [build_nd_frame(params, parity=rng.random() < 0.9) for params, _ in chosen]
    stream = bytearray()
    for frame in frames:
        size = rng.randrange(60)
        stream += noise_with_dle(rng, size, frames) if with_dle else noise_without_dle(rng, size)
        stream += frame
    size = rng.randrange(30)
    stream += noise_with_dle(rng, size, frames) if with_dle else noise_without_dle(rng, size)
    return bytes(stream), [expected for _, expected in chosen]


def test_frames_in_noise_without_dle_are_all_found():
    rng = random.Random(31)
    for case in range(800):
        stream, expected = embedded(rng, with_dle=False)
        assert nd_calls(stream, rng) == expected, (case, stream.hex(" "))


def test_frames_in_noise_with_dle_are_all_found():
    rng = random.Random(32)
    for case in range(1500):
        stream, expected = embedded(rng, with_dle=True)
        assert nd_calls(stream, rng) == expected, (case, stream.hex(" "))


@FUZZ
@given(data=st.data())
def test_frames_in_hypothesis_noise_are_all_found(data):
    seed = data.draw(st.integers(0, 2**32 - 1))
    rng = random.Random(seed)
    with_dle = data.draw(st.booleans())
    noise = data.draw(st.lists(st.binary(max_size=40).filter(lambda b: with_dle or not set(b) & set(DLES)),
                               min_size=2, max_size=5))
    chosen = [random_params(rng) for _ in noise[1:]]
    stream = noise[0] + b"".join(build_nd_frame(p) + n for (p, _), n in zip(chosen, noise[1:]))
    assert nd_calls(stream, rng) == [expected for _, expected in chosen], stream.hex(" ")


###############################################################################
# Properties per decoder: valid records interleaved with noise (issue 12).
# Checksum decoders (ND: CRC; アロハ: parity and ACK): the calls are the records sent, in order.
# Text decoders (modem, NCID, CallerID.com): a call is only ever a number sent after the previous
# call's record; decoys (history, outbound, ring-only cycles) never come out.

PROPERTY = settings(max_examples=200, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

numbers = st.text("0123456789", min_size=9, max_size=10).map(lambda d: "0" + d)


def unique(values):
    return list(dict.fromkeys(values))


def feed_pieces(protocol, pieces, idle_after=()):
    """Decode pieces (each fed whole) with a clock that moves 60 s a piece: no repeat window
    ever hides a call, so a stale caller would show."""
    tick = itertools.count()
    d = cti.make_decoder(protocol, clock=lambda: next(tick) * 60.0)
    events = []
    for n, piece in enumerate(pieces):
        events += d.feed(piece)
        if n in idle_after:
            events += d.flush()
    events += d.flush(final=True)
    check_events(events, sum(map(len, pieces)))
    return events


def rechunk(stream, sizes):
    return chunks(stream, sizes) if stream else []


def is_subsequence(got, sent):
    it = iter(sent)
    return all(any(g == s for s in it) for g in got)


nd_noise = st.one_of(
    st.binary(max_size=40),
    st.sampled_from([b"\x90\x81", b"\x10\x01", b"\x90\x03", b"\x10\x03", b"\x90\x90", b"\x90", b"\x10",
                     b"\x90\x81\x87\x90\x82\xc0", ND_SAMPLE[:9], ND_SAMPLE[:-1], ND_SAMPLE[:-2]]),
    st.binary(min_size=257, max_size=400).map(lambda b: b"\x90\x81" + bytes(x for x in b if x & 0x7F != 0x10)),
)


@PROPERTY
@given(records=st.lists(st.tuples(numbers, st.booleans(), nd_noise), min_size=1, max_size=5),
       tail=nd_noise, sizes=chunk_sizes)
def test_property_nd_calls_are_the_frames_sent_in_order(records, tail, sizes):
    stream = b"".join(noise + build_nd_frame([(0x02, n.encode())], parity=p) for n, p, noise in records) + tail
    events = feed_pieces("nd", rechunk(stream, sizes))
    assert [c.number for c in events if isinstance(c, cti.Call)] == [n for n, _, _ in records]


ALOHA_STX = {0x02, 0x82}
aloha_noise = st.one_of(
    st.binary(max_size=30).map(lambda b: bytes(x for x in b if x not in ALOHA_STX)),
    st.sampled_from([b"\x03", b"\x83", b"\x03\x83", b"1124\x03", b"\x83112431015\x83"]),
)


def aloha_wire(body):
    return bytes(cti.even_parity(b) for b in b"\x02" + body.encode() + b"\x03")


@PROPERTY
@given(records=st.lists(st.tuples(numbers, aloha_noise, st.booleans()), min_size=1, max_size=5),
       tail=aloha_noise, sizes=chunk_sizes)
def test_property_aloha_calls_and_acks_are_the_records_sent_in_order(records, tail, sizes):
    """Noise without STX (ETX-like bytes included); a record may be preceded by a record cut short."""
    stream = bytearray()
    for i, (number, noise, cut_short) in enumerate(records):
        stream += noise
        if cut_short:
            stream += aloha_wire("11243")[:-1]            # STX and a few bytes, no ETX
        stream += aloha_wire(f"1124{i % 7}10{i % 6}{i % 10}" + number)
    events = feed_pieces("aloha", rechunk(bytes(stream) + tail, sizes))
    assert [c.number for c in events if isinstance(c, cti.Call)] == [n for n, _, _ in records]
    assert [e.data for e in events if isinstance(e, cti.Reply)] == [b"\x06"] * len(records)


text_noise = st.one_of(
    st.binary(max_size=30),
    st.sampled_from([b"\r\n", b"\r", b"\n", b"RING\r\n", b"\r\nRING\r\n\r\n", b"OK\r\n", b"DATE = 1124\r\n",
                     b"TIME=1015\r\n", b"NAME = SATO\r\n", b"ATZ\r\n", b"200 Server: ncidd\r\n", b"*", b"^^<U>"]),
)


def text_property(protocol, record, decoy, items, sizes, idle):
    """items: (number, noise, is_decoy). A decoy carries its number where it is not a call."""
    pieces, sent = [], []
    for number, noise, is_decoy in items:
        pieces.append(noise)
        pieces.append(decoy(number) if is_decoy else record(number))
        if not is_decoy:
            sent.append(number)
    stream = b"".join(pieces)
    pieces = rechunk(stream, sizes)
    events = feed_pieces(protocol, pieces, idle_after=set(range(0, len(pieces), idle)) if idle else ())
    got = [c.number for c in events if isinstance(c, cti.Call) and c.number]
    assert is_subsequence(got, sent), (got, sent)
    decoys = {n for n, _, is_decoy in items if is_decoy} - set(sent)
    assert not decoys & set(got)


text_items = st.lists(st.tuples(numbers, text_noise, st.booleans()), min_size=1, max_size=6, unique_by=lambda t: t[0])


@PROPERTY
@given(items=text_items, sizes=chunk_sizes, idle=st.integers(0, 3))
def test_property_modem_never_reports_a_number_not_sent_since_the_last_call(items, sizes, idle):
    text_property(
        "modem",
        lambda n: f"RING\r\n\r\nDATE = 1124\r\nTIME = 1015\r\nNMBR = {n}\r\n\r\nRING\r\n".encode(),
        lambda n: b"RING\r\n\r\nRING\r\n",          # a ring-only cycle: never a call, never the last caller
        items, sizes, idle)


@PROPERTY
@given(items=text_items, sizes=chunk_sizes, idle=st.integers(0, 3))
def test_property_ncid_never_reports_a_number_not_sent_since_the_last_call(items, sizes, idle):
    text_property(
        "ncid",
        lambda n: f"\r\nCID: *DATE*12052026*TIME*1015*LINE*-*NMBR*{n}*MESG*NONE*NAME*-*\r\n".encode(),
        lambda n: f"\r\nCIDLOG: *DATE*12052026*TIME*1015*LINE*-*NMBR*{n}*MESG*NONE*NAME*-*\r\n".encode(),
        items, sizes, idle)


@PROPERTY
@given(items=text_items, sizes=chunk_sizes, idle=st.integers(0, 3))
def test_property_whozz_never_reports_a_number_not_sent_since_the_last_call(items, sizes, idle):
    text_property(
        "whozz",
        lambda n: f"\r\n^^<U>000001<S>345678$01 I S 0000 G A1 12/05 10:15 AM {n:<15}TANAKA\r\n".encode(),
        lambda n: f"\r\n^^<U>000001<S>345678$01 O S 0000 G A1 12/05 10:15 AM {n:<15}TANAKA\r\n".encode(),
        items, sizes, idle)
