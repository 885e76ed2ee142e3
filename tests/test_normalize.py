"""normalize(): exact rewrites, then what real Open JTalk says for them."""

import pytest

from announcer.text.normalize import normalize, read_digits

PHONE_0285 = "ゼロニーハチゴーの、ハチニーの、イチイチイチイチ"

NORMALIZED = [
    # clock times
    ("14:00", "14時"),
    ("9:30", "9時30分"),
    ("18:30:15", "18時30分15秒"),
    ("7:05", "7時5分"),
    ("09:30", "9時30分"),
    ("午前9:30から", "午前9時30分から"),
    ("9:30AM", "午前9時30分"),
    ("PM2:00", "午後2時"),
    ("25:00", "25:00"),
    # JMA's zero-padded days and times (full- and half-width)
    ("１１日０５時０７分ころ", "11日5時7分ころ"),
    ("11日05時07分ころ", "11日5時7分ころ"),
    ("０５時００分", "5時"),
    ("００時３０分", "零時30分"),
    ("０１日", "1日"),
    ("2005年", "2005年"),
    ("100分", "100分"),
    ("10.05時間", "10.05時間"),
    # brackets: a closing one is a pause, an opening one after words too
    ("【警戒レベル４相当情報［洪水］】鬼怒川では", "警戒レベル4相当情報、洪水、鬼怒川では"),
    ("状況です【概況】。次に", "状況です、概況。次に"),
    ("〈レベル４大雨危険警報〉真岡市", "レベル4大雨危険警報、真岡市"),
    ("＜概況＞降り続く大雨", "概況、降り続く大雨"),
    ("「大雨警報」が発表", "「大雨警報」が発表"),
    # dates and weekdays
    ("12/3", "12月3日"),
    ("12/3(木)", "12月3日 木曜日"),
    ("12月3日(木)", "12月3日 木曜日"),
    ("12月3日（木）", "12月3日 木曜日"),
    ("12月3日(木曜日)", "12月3日 木曜日"),
    ("11月3日(月・祝)", "11月3日 月曜日・祝日"),
    ("令和8年12月3日", "令和8年12月3日"),
    ("2026/12/3", "2026年12月3日"),
    ("2026-12-03", "2026年12月3日"),
    ("1日(月)", "ついたち 月曜日"),
    ("12月1日(月)", "12月1日 月曜日"),
    ("13/5", "13/5"),
    ("12/32", "12/32"),
    ("0/3", "0/3"),
    # ranges
    ("10時～12時", "10時から12時まで"),
    ("10:00～12:00", "10時から12時まで"),
    ("10時〜12時", "10時から12時まで"),
    ("10時-12時", "10時から12時まで"),
    ("10時 ~ 12時", "10時から12時まで"),
    ("3日～5日", "3日から5日まで"),
    ("1日～3日", "ついたちから3日まで"),
    ("10時～12時まで", "10時から12時まで"),
    ("午前10時～午後3時", "午前10時から午後3時まで"),
    ("12/3(木)～12/5(土)", "12月3日 木曜日から12月5日 土曜日まで"),
    # a ～ that is not a date or time range is still spoken
    ("受付は10時～", "受付は10時から"),
    ("～12時", "12時まで"),
    ("30～50mm", "30から50ミリ"),
    ("宇都宮～真岡", "宇都宮から真岡"),
    ("よろしくね～。", "よろしくねー。"),
    ("春の運動 ～みんなで守ろう～", "春の運動、みんなで守ろうー"),
    # phone numbers and postal codes
    ("0285-82-1111", PHONE_0285),
    ("0285(82)1111", PHONE_0285),
    ("0285（82）1111", PHONE_0285),
    ("(0285)82-1111", PHONE_0285),
    ("0285ー82ー1111", PHONE_0285),
    ("電話（0285-82-1111）", f"電話（{PHONE_0285}）"),
    ("TEL:0285-82-1111", f"電話、{PHONE_0285}"),
    ("090-1234-5678", "ゼロキューゼロの、イチニーサンヨンの、ゴーロクナナハチ"),
    ("0120-123-456", "ゼロイチニーゼロの、イチニーサンの、ヨンゴーロク"),
    ("〒321-4395", "郵便番号、サンニーイチの、ヨンサンキューゴー"),
    ("〒3214395", "郵便番号、サンニーイチの、ヨンサンキューゴー"),
    # units
    ("25℃", "25度"),
    ("-3℃", "マイナス3度"),
    ("最低気温−3℃", "最低気温マイナス3度"),
    ("25.5℃", "25.5度"),
    ("降水量30mm", "降水量30ミリ"),
    ("50mm/h", "1時間に50ミリ"),
    ("50%", "50パーセント"),
    ("60km/h", "時速60キロ"),
    ("時速60km/h", "時速60キロ"),
    ("15m/s", "秒速15メートル"),
    ("最大瞬間風速25m/s", "最大瞬間風速25メートル"),
    ("990hPa", "990ヘクトパスカル"),
    ("積雪10cm", "積雪10センチ"),
    ("3.5km", "3.5キロ"),
    ("3kg", "3キロ"),
    ("100m先", "100メートル先"),
    ("5min", "5min"),
    ("1,000人", "1000人"),
    # floors and magnitudes
    ("2F", "2階"),
    ("B1F", "地下1階"),
    ("M5.2", "マグニチュード5.2"),
    # full-width and half-width forms
    ("１４：００", "14時"),
    ("２５℃", "25度"),
    ("１２／３", "12月3日"),
    ("ｶﾞｲﾄﾞ", "ガイド"),
    # links
    ("https://www.city.moka.lg.jp/site/bousai/", "ホームページ"),
    ("詳しくはhttps://www.city.moka.lg.jp/をご覧ください。", "詳しくはホームページをご覧ください。"),
    ("ホームページ（https://www.city.moka.lg.jp/）", "ホームページ"),
    ("www.example.jp", "ホームページ"),
    ("city.moka.lg.jp/foo", "ホームページ"),
    ("ｈｔｔｐｓ：／／ｗｗｗ．ｃｉｔｙ．ｍｏｋａ．ｌｇ．ｊｐ／", "ホームページ"),
    ("info@fm-moka.jp", "メールアドレス"),
    ("2026/12/3 http://x.jp/2026/12/3", "2026年12月3日 ホームページ"),
    # punctuation and lines
    ("晴れ。ところにより雨！", "晴れ。ところにより雨！"),
    ("お知らせです\n次のお知らせです。\n", "お知らせです。次のお知らせです。"),
    ("", ""),
]


@pytest.mark.parametrize(("text", "expected"), NORMALIZED)
def test_normalize(text, expected):
    assert normalize(text) == expected


@pytest.mark.parametrize(
    "text",
    ["{真岡|モーカ}", "{14:00|ジューヨジ}", "{〒321-4395|どこか}", "{ｶﾞ|ガ}", "{～|から}"],
)
def test_overrides_pass_through_byte_for_byte(text):
    assert normalize(f"14:00に{text}で12/3\n") == f"14時に{text}で12月3日。"


def test_url_phrase_is_configurable():
    assert normalize("https://fm-moka.jp/", url_phrase="番組サイト") == "番組サイト"


def test_url_phrase_is_not_a_regex_template():
    assert normalize("www.example.jp", url_phrase=r"\1ページ") == r"\1ページ"


def test_read_digits():
    assert read_digits("0123456789") == "ゼロイチニーサンヨンゴーロクナナハチキュー"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("10時～", "10時から"), ("～", "、"), ("a～b", "aからb"), ("～～", "、"),
     ("東京〜大阪", "東京から大阪"), ("ね~", "ねー"), ("~", "、"), ("5∼8", "5から8")],
)
def test_a_tilde_is_never_dropped(text, expected):
    assert normalize(text) == expected


# What Open JTalk actually says. Each text must be one pyopenjtalk can take: a crash in
# g2p kills the whole test process (see FACTS.md).
READINGS = [
    ("14:00から", "ジューヨジカラ"),
    ("１１日０５時０７分ころ", "ジューイチニチゴジナナフンコロ"),
    ("０５時００分", "ゴジ"),
    ("００時３０分", "レージサンジュップン"),
    ("【警戒レベル４相当情報［洪水］】鬼怒川では", "ソートージョーホー、コーズイ、キヌガワデワ"),
    ("9:30", "クジサンジュップン"),
    ("18:30:15", "ジューハチジサンジュップンジューゴビョー"),
    ("7:05", "シチジゴフン"),
    ("午前9:30", "ゴゼンクジサンジュップン"),
    ("12/3", "ジューニガツミッカ"),
    ("12月3日(木)", "ジューニガツミッカ　モクヨービ"),
    ("令和8年12月3日", "レーワハチネンジューニガツミッカ"),
    ("2026/12/3", "ニセンニジューロクネンジューニガツミッカ"),
    ("1日(月)", "ツイタチ　ゲツヨービ"),
    ("10時～12時", "ジュージカラジューニジマデ"),
    ("10:00～12:00", "ジュージカラジューニジマデ"),
    ("3日～5日", "ミッカカライツカマデ"),
    ("1日～3日", "ツイタチカラミッカマデ"),
    ("0285-82-1111", "ゼロニーハチゴーノ、ハチニーノ、イチイチイチイチ"),
    ("090-1234-5678", "ゼロキューゼロノ、イチニーサンヨンノ、ゴーロクナナハチ"),
    ("〒321-4395", "ユービンバンゴー、サンニーイチノ、ヨンサンキューゴー"),
    ("25℃", "ニジューゴド"),
    ("-3℃", "マイナスサンド"),
    ("降水量30mm", "サンジューミリ"),
    ("50%", "ゴジュッパーセント"),
    ("60km/h", "ジソクロクジュッキロ"),
    ("15m/s", "ビョーソクジューゴメートル"),
    ("990hPa", "キューヒャクキュージューヘクトパスカル"),
    ("2F", "ニカイ"),
    ("B1F", "チカイッカイ"),
    ("M5.2", "マグニチュードゴーテンニ"),
    ("１４：００", "ジューヨジ"),
    ("２５℃", "ニジューゴド"),
    ("詳しくはhttps://www.city.moka.lg.jp/をご覧ください。", "ホームページヲゴランクダサイ"),
    ("info@fm-moka.jp", "メールアドレス"),
]


@pytest.fixture(scope="module")
def pyopenjtalk():
    from announcer.speech.jtalk import import_pyopenjtalk

    return import_pyopenjtalk()


@pytest.mark.parametrize(("text", "reading"), READINGS)
def test_reading(pyopenjtalk, text, reading):
    normalized = normalize(text)
    assert normalized.strip("。、 "), "g2p segfaults on empty text"
    assert reading in pyopenjtalk.g2p(normalized, kana=True)


@pytest.mark.parametrize(("text", "raw"), [("14:00", "："), ("25℃", "ドシー"), ("12/3", "／")])
def test_open_jtalk_still_needs_us(pyopenjtalk, text, raw):
    """If Open JTalk learns these by itself, some rewrites here can go."""
    assert raw in pyopenjtalk.g2p(text, kana=True)
    assert raw not in pyopenjtalk.g2p(normalize(text), kana=True)
