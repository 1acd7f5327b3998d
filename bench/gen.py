"""Realistic members.csv files for the benchmarks: Japanese names and kana, numbers from many areas.

    from bench import gen
    path = gen.members_file(folder, 100_000, "cp932")      # cached: made once per size and encoding

Everything is seeded, so two runs measure the same file. Names come from small lists of family
and given names (with their kana), numbers from several area codes (2 to 5 digits), mobiles and
050, a few with Excel's damage (the lost leading zero, a number turned into 9.01235E+09) or typed
full-width, and a few members with two numbers. Extra columns the program does not know (誕生日, 住所,
来店きっかけ, ポイント) sit between the known ones, as in a real salon's file. Memos are as Excel writes
them: a few hold a comma, a line break or a quote, so the cell is quoted ("カット, カラー"), one
in 50 runs over two lines; one row in 1,000 has a quote inside a cell (ab"c: Excel's import of a
typed quote), which csv reads as a character.
"""

import csv
import io
import random
from pathlib import Path

HEADER = ["会員番号", "名前", "ふりがな", "電話番号", "誕生日", "主担当", "住所", "メモ", "来店きっかけ", "ポイント"]

FAMILY = [("佐藤", "さとう"), ("鈴木", "すずき"), ("高橋", "たかはし"), ("田中", "たなか"), ("伊藤", "いとう"),
          ("渡辺", "わたなべ"), ("山本", "やまもと"), ("中村", "なかむら"), ("小林", "こばやし"), ("加藤", "かとう"),
          ("吉田", "よしだ"), ("山田", "やまだ"), ("佐々木", "ささき"), ("山口", "やまぐち"), ("松本", "まつもと"),
          ("井上", "いのうえ"), ("木村", "きむら"), ("林", "はやし"), ("斎藤", "さいとう"), ("清水", "しみず"),
          ("山崎", "やまざき"), ("森", "もり"), ("池田", "いけだ"), ("橋本", "はしもと"), ("阿部", "あべ"),
          ("石川", "いしかわ"), ("山下", "やました"), ("中島", "なかじま"), ("石井", "いしい"), ("小川", "おがわ"),
          ("前田", "まえだ"), ("岡田", "おかだ"), ("長谷川", "はせがわ"), ("藤田", "ふじた"), ("後藤", "ごとう"),
          ("近藤", "こんどう"), ("村上", "むらかみ"), ("遠藤", "えんどう"), ("青木", "あおき"), ("坂本", "さかもと"),
          ("髙橋", "たかはし"), ("﨑山", "さきやま"), ("ペンギン", "ぺんぎん"), ("西村", "にしむら"), ("福田", "ふくだ")]
GIVEN = [("花子", "はなこ"), ("美咲", "みさき"), ("さくら", "さくら"), ("陽菜", "ひな"), ("結衣", "ゆい"),
         ("葵", "あおい"), ("凛", "りん"), ("真理子", "まりこ"), ("由美", "ゆみ"), ("恵子", "けいこ"),
         ("貴子", "たかこ"), ("智子", "ともこ"), ("裕子", "ゆうこ"), ("直美", "なおみ"), ("愛", "あい"),
         ("一郎", "いちろう"), ("健", "けん"), ("翔太", "しょうた"), ("大輔", "だいすけ"), ("誠", "まこと"),
         ("拓也", "たくや"), ("蓮", "れん"), ("悠真", "ゆうま"), ("浩二", "こうじ"), ("隆", "たかし"),
         ("明美", "あけみ"), ("千尋", "ちひろ"), ("舞", "まい"), ("彩", "あや"), ("瞳", "ひとみ")]
# (area code, digits of the local exchange): 2- to 5-digit area codes, as Japanese fixed numbers have
AREAS = [("03", 4), ("06", 4), ("045", 3), ("052", 3), ("011", 3), ("092", 3), ("075", 3), ("0596", 2),
         ("0467", 2), ("0120", 3), ("01267", 1), ("04992", 1)]
MOBILES = ["090", "080", "070"]
STAFF = ["佐藤", "鈴木", "田中", "高橋", "伊藤", ""]
PLACES = ["東京都千代田区", "東京都世田谷区", "横浜市中区", "大阪市北区", "名古屋市中区", "三重県伊勢市",
          "札幌市中央区", "福岡市博多区", "京都市左京区", "神奈川県藤沢市", ""]
MEMOS = ["", "", "", "カラーは 6 トーン", "肌が弱いのでパッチテスト", "縮毛矯正 3 か月ごと", "予約は午後希望",
         "ハーブティー", "メンズカット", "①回目のクーポン利用", "㈱ペンギン勤務"]
SOURCES = ["紹介", "ホットペッパー", "Instagram", "通りがかり", "チラシ", ""]
# memos Excel quotes: a comma, a line break (LF inside the cell, as Excel writes it), a quote
QUOTED_MEMOS = ["カット, カラー", "前回: カット、カラー\n次回はパーマ希望", "「いつもの\"A\"で」と", "午後希望\n駐車場あり"]
FULL_WIDTH = str.maketrans("0123456789-", "０１２３４５６７８９－")


def phone(rng: random.Random) -> str:
    """One number as a receptionist types it: 090-1234-5678, 0596-31-0005, 03-1234-5678."""
    kind = rng.random()
    if kind < 0.55:
        return f"{rng.choice(MOBILES)}-{rng.randrange(10000):04d}-{rng.randrange(10000):04d}"
    if kind < 0.6:
        return f"050-{rng.randrange(10000):04d}-{rng.randrange(10000):04d}"
    area, exchange = rng.choice(AREAS)
    if area == "0120":
        return f"0120-{rng.randrange(1000):03d}-{rng.randrange(1000):03d}"
    middle = rng.randrange(10 ** (exchange - 1), 10 ** exchange)
    return f"{area}-{middle}-{rng.randrange(10000):04d}"


def rows(count: int, seed: int = 1):
    """Yield the cells of count member rows (after the header)."""
    rng = random.Random(seed)
    width = max(5, len(str(count)))
    for i in range(1, count + 1):
        family, family_kana = rng.choice(FAMILY)
        given, given_kana = rng.choice(GIVEN)
        kana = family_kana + given_kana
        if rng.random() < 0.2:
            kana = "".join(chr(ord(c) + 0x60) if "ぁ" <= c <= "ゖ" else c for c in kana)   # some files use katakana
        numbers = phone(rng)
        damage = rng.random()
        if damage < 0.03:
            numbers = numbers.replace("-", "").lstrip("0")            # Excel dropped the leading zero
        elif damage < 0.13:
            numbers += "; " + phone(rng)                               # two numbers in one cell
        elif damage < 0.14:
            numbers = numbers.translate(FULL_WIDTH)                    # typed with the IME on
        elif damage < 0.142:
            numbers = "9.01235E+09"                                    # Excel made a number of it
        memo = rng.choice(MEMOS)
        quoting = rng.random()
        if quoting < 0.05:
            memo = rng.choice(QUOTED_MEMOS)
        elif quoting < 0.051:
            memo = 'ab"c'                                              # a quote inside a cell: a character
        birthday = f"{rng.randrange(1940, 2010)}/{rng.randrange(1, 13):02d}/{rng.randrange(1, 29):02d}"
        yield [f"AC{i:0{width}d}", family + given, kana, numbers, birthday, rng.choice(STAFF),
               rng.choice(PLACES), memo, rng.choice(SOURCES), str(rng.randrange(0, 5000))]


def members_text(count: int, seed: int = 1) -> str:
    """The whole file as Excel writes it: CRLF, minimal quoting."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows(rows(count, seed))
    return out.getvalue()


ENCODINGS = {"utf8": "utf-8-sig", "cp932": "cp932"}        # label in figure names -> codec


def members_file(folder: Path, count: int, label: str, seed: int = 1) -> Path:
    """members_{count}_{label}.csv in folder, made once (the text is the same for both encodings)."""
    folder = Path(folder)
    path = folder / f"members_{count}_{label}.csv"
    if not path.exists():
        text = members_text(count, seed)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(text.encode(ENCODINGS[label]))
        tmp.replace(path)
    return path


def miss_number(rng: random.Random, known) -> str:
    """National digits that nobody in `known` (a dict or set of digits) holds."""
    while True:
        digits = f"0{rng.choice('789')}0{rng.randrange(10 ** 8):08d}"
        if digits not in known:
            return digits
