"""Phone numbers: normalise what people and Excel write, split member cells, hyphenate for display."""

import pytest

import cti


@pytest.mark.parametrize("text, digits", [
    ("0312345678", "0312345678"),
    ("03-1234-5678", "0312345678"),
    ("０３－１２３４－５６７８", "0312345678"),          # full-width digits and hyphen (NFKC folds them)
    ("０９０ー１２３４ー５６７８", "09012345678"),        # katakana long-vowel mark ー U+30FC as hyphen
    ("03‐1234‐5678", "0312345678"),                  # U+2010 hyphen
    ("03−1234−5678", "0312345678"),                  # U+2212 minus
    ("090–1234—5678", "09012345678"),                # en and em dashes
    ("03 1234 5678", "0312345678"),
    ("03\u30001234\u30005678", "0312345678"),          # ideographic spaces
    ("(03) 1234-5678", "0312345678"),
    ("（０３）１２３４－５６７８", "0312345678"),          # full-width brackets
    (" 045-123-4567 ", "0451234567"),
    ("+81 3-1234-5678", "0312345678"),
    ("+81-90-1234-5678", "09012345678"),
    ("+81 (0)3 1234 5678", "0312345678"),              # the (0) people write after +81
    ("+81 (0)3-1234-5678", "0312345678"),
    ("81 (0)3 1234 5678", "0312345678"),               # ... and without the +
    ("81 (0)90 1234 5678", "09012345678"),
    ("81-(0)596-31-0005", "0596310005"),
    ("＋８１９０１２３４５６７８", "09012345678"),
    ("81312345678", "0312345678"),                   # bare 81 prefix, 11 digits
    ("819012345678", "09012345678"),                 # bare 81 prefix, 12 digits
    ("312345678", "0312345678"),                     # Excel dropped the leading zero (fixed line)
    ("9012345678", "09012345678"),                   # ... and on a mobile number
    ("312345678.0", "0312345678"),                   # Excel wrote the cell as a float
    ("9012345678.0", "09012345678"),
    ("0120-444-555", "0120444555"),
    ("1234", "1234"),                                # too short to repair: left alone
    ("+1 212 555 0100", "12125550100"),              # foreign: never made a Japanese 0… number
    ("+65 6123 4567", "6561234567"),                 # 10 digits, yet no Excel zero repair
    ("+44 20 7946 0958", "442079460958"),
    ("+1 (212) 555-0100", "12125550100"),
    ("＋１　２１２　５５５　０１００", "12125550100"),
    ("", ""),
    ("なし", ""),
    ("-", ""),
])
def test_normalize_phone(text, digits):
    assert cti.normalize_phone(text) == digits


def test_normalize_phone_accepts_non_strings():
    assert cti.normalize_phone(312345678) == "0312345678"
    assert cti.normalize_phone(None) == ""


@pytest.mark.parametrize("cell, numbers", [
    ("03-1234-5678", ["0312345678"]),
    ("03-1234-5678; 090-1234-5678", ["0312345678", "09012345678"]),
    ("03-1234-5678/090-1234-5678", ["0312345678", "09012345678"]),
    ("03-1234-5678、090-1234-5678", ["0312345678", "09012345678"]),
    ("03-1234-5678\n090-1234-5678", ["0312345678", "09012345678"]),
    ("03-1234-5678\r\n090-1234-5678\r\n", ["0312345678", "09012345678"]),
    ("03-1234-5678, 045-123-4567", ["0312345678", "0451234567"]),
    ("０３－１２３４－５６７８；０９０－１２３４－５６７８", ["0312345678", "09012345678"]),   # full-width ；
    ("０３－１２３４－５６７８／０９０－１２３４－５６７８", ["0312345678", "09012345678"]),   # full-width ／
    ("03-1234-5678; 0312345678; +81 3 1234 5678", ["0312345678"]),            # repeats removed
    ("090-1234-5678;;/ 、\n03-1234-5678", ["09012345678", "0312345678"]),   # empty parts skipped
    ("312345678", ["0312345678"]),
    ("", []),
    (None, []),
])
def test_split_phones(cell, numbers):
    assert cti.split_phones(cell) == numbers


# Cells as salons type them: one number written with spaces stays one; numbers side by side split.
@pytest.mark.parametrize("cell, numbers", [
    ("03 1234 5678", ["0312345678"]),
    ("03\u30001234\u30005678", ["0312345678"]),                     # full-width spaces
    ("０３　１２３４　５６７８", ["0312345678"]),
    ("03 - 1234 - 5678", ["0312345678"]),
    ("(03) 1234 5678", ["0312345678"]),
    ("0596 31 0005", ["0596310005"]),
    ("090 1234 5678", ["09012345678"]),                               # 11 digits: 090 1234 is not whole
    ("0120 444 555", ["0120444555"]),
    ("0800 123 4567", ["08001234567"]),
    ("03・1234・5678", ["0312345678"]),
    ("+81 3 1234 5678", ["0312345678"]),
    ("+81 (0)3 1234 5678", ["0312345678"]),
    ("81 (0)3 1234 5678", ["0312345678"]),
    ("+1 212 555 0100", ["12125550100"]),                             # foreign, spaced: one number
    ("+81 3 1234 5678 090 1111 2222", ["0312345678", "09011112222"]),  # whole at 10 national digits
    ("+81 90 1234 5678 3 1234 5678", ["09012345678", "0312345678"]),
    ("03-1234-5678 090-1111-2222", ["0312345678", "09011112222"]),
    ("03 1234 5678 090 1111 2222", ["0312345678", "09011112222"]),
    ("090 1234 5678 0596 31 0005", ["09012345678", "0596310005"]),
    ("0312345678 0312345679", ["0312345678", "0312345679"]),
    ("03-1234-5678\u3000090-1111-2222", ["0312345678", "09011112222"]),
    ("03-1234-5678・090-1111-2222", ["0312345678", "09011112222"]),
    ("03-1234-5678|090-1111-2222", ["0312345678", "09011112222"]),
    ("03-1234-5678｜090-1111-2222", ["0312345678", "09011112222"]),   # full-width ｜
    ("03-1234-5678 / 090-1111-2222", ["0312345678", "09011112222"]),
    ("03 1234 5678、090 1111 2222", ["0312345678", "09011112222"]),
    ("03 1234 5678\n090 1111 2222", ["0312345678", "09011112222"]),
    ("自宅 03-1234-5678 携帯 090-1111-2222", ["0312345678", "09011112222"]),
    ("03-1234-5678(自宅)090-1111-2222(携帯)", ["0312345678", "09011112222"]),
    ("03-1234-5678（自宅）／090-1111-2222（携帯）", ["0312345678", "09011112222"]),
    ("TEL:0596-31-0005 FAX:0596-31-0006", ["0596310005", "0596310006"]),
    ("TEL 03 1234 5678", ["0312345678"]),
    ("+44 20 7946 0958 +44 20 7946 0959", ["442079460958", "442079460959"]),
    ("31-0005 31-0006", ["310005", "310006"]),                        # local numbers without area code
    ("内線 3456、7890", ["3456", "7890"]),                             # 、 always separates, short or not
    ("3456/7890", ["3456", "7890"]),
    ("03 1234 5678 03 1234 5678", ["0312345678"]),                    # repeats removed
    ("312345678.0", ["0312345678"]),                                  # Excel float
    ("03.1234.5678", ["0312345678"]),
    ("なし", []),
    ("-", []),
])
def test_split_phones_as_people_write_them(cell, numbers):
    assert cti.split_phones(cell) == numbers


@pytest.mark.parametrize("digits, shown", [
    ("0312345678", "03-1234-5678"),       # Tokyo, 2-digit area code
    ("0662345678", "06-6234-5678"),       # Osaka
    ("0451234567", "045-123-4567"),       # Yokohama, 3-digit
    ("0596310005", "0596-31-0005"),       # Ise, 4-digit
    ("0467123456", "0467-12-3456"),       # Fujisawa
    ("0995123456", "0995-12-3456"),       # Kagoshima
    ("0126712345", "01267-1-2345"),       # a 5-digit area code (Hokkaido), as phonenumbers formats it
    ("09012345678", "090-1234-5678"),
    ("08012345678", "080-1234-5678"),
    ("07012345678", "070-1234-5678"),
    ("05012345678", "050-1234-5678"),     # IP phone
    ("0120123456", "0120-123-456"),       # toll-free
    ("08001234567", "0800-123-4567"),     # toll-free, 11 digits
    ("0570123456", "0570-123-456"),       # navi-dial
])
def test_format_phone(digits, shown):
    assert cti.format_phone(digits) == shown


@pytest.mark.parametrize("digits", ["0312345", "12345", "031234567890123", "0201234567", "0000000000"])
def test_format_phone_shows_an_invalid_number_as_given(digits):
    assert cti.format_phone(digits) == digits


@pytest.mark.parametrize("value", ["", "非通知", "03-1234-5678"])
def test_format_phone_leaves_non_digit_text_alone(value):
    assert cti.format_phone(value) == value


def test_format_phone_none():
    assert cti.format_phone(None) == ""


def test_normalized_numbers_format_back():
    for text in ("０３－１２３４－５６７８", "+81 90 1234 5678", "312345678.0", "0596 31 0005"):
        assert cti.format_phone(cti.normalize_phone(text)) in ("03-1234-5678", "090-1234-5678", "0596-31-0005")


# - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
# one rule: the file, the dialogs, the search and the decoders read a number alike

@pytest.mark.parametrize("text, digits", [
    ("0596-31-0005", "0596310005"), ("０５９６・３１・０００５", "0596310005"), ("(0596) 31.0005", "0596310005"),
    ("090‐1234‐5678", "09012345678"), ("+81 90 1234 5678", "09012345678"), ("0596", "0596"),
    ("PRIVATE", ""), ("山田 090", ""), ("", ""), ("-", "")])
def test_a_text_written_as_one_number_reads_alike_for_the_search_and_the_decoders(text, digits):
    assert cti.written_number(text) == digits
    assert (cti.number_or_reason(text)[0] or "") == (digits if text.upper() not in cti.REASON_CODES else "")


def test_the_search_reads_a_query_written_as_a_number_as_the_file_reads_numbers(tmp_path):
    """A number typed with ・ or another hyphen finds the member whose cell writes it otherwise."""
    path = tmp_path / "members.csv"
    path.write_text("会員番号,名前,ふりがな,電話番号\r\nAC00001,伊勢花子,いせはなこ,０５９６－３１－０００５\r\n"
                    "AC00002,山田太郎,やまだたろう,090-1234-5678\r\n", "utf-8-sig")
    table = cti.MemberTable(path).load()
    for query in ("0596・31", "０５９６‐３１‐０００５", "(0596) 31", "0596.31.0005"):
        assert [m.member_no for m in table.search(query)] == ["AC00001"], query
    assert [m.member_no for m in table.search("090−1234")] == ["AC00002"]


@pytest.mark.parametrize("typed, valid", [("0596-31-0005", True), ("090 1234 5678", True), ("0120444555", True),
                                           ("596310005", True),     # Excel's lost zero, put back
                                           ("0596-31-0", False), ("5963100", False), ("012345678901234", False)])
def test_one_rule_for_a_number_a_member_can_be_registered_with(tmp_path, typed, valid):
    assert cti.valid_phone(cti.normalize_phone(typed)) is valid
    path = tmp_path / "members.csv"
    path.write_text("会員番号,名前,ふりがな,電話番号\r\nAC00001,伊勢花子,いせはなこ,\r\n", "utf-8-sig")
    table = cti.MemberTable(path).load()
    _, errors = cti.validate_registration({"name": "新井さくら", "phone": typed}, table)
    assert ("phone" not in errors) is valid
