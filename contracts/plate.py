"""The licence plate (车牌号): one normal form for what is stored and what is searched.

Every service that keeps or looks up a plate (booking, workorder at reception, crm's search)
normalises it with `normal_plate`, so a walk-in typed `京a 12345` is the car crm finds for
`京A12345`. What the rule declares equal:

* case, spaces and the separators people type (`·`, `-`, `.`), full-width characters
  (`京Ａ１２３４５`, NFKC);
* a province written in pinyin instead of its character (`jing a12345`, `Hu-B 88888`), for the
  provinces whose pinyin names one province only (`jin` is 津 or 晋, `yu` 渝 or 豫, `ji` 冀
  or 吉, `gan` 赣 or 甘, `gui` 桂 or 贵: those stay as typed; nor `e` for 鄂, which would
  turn plates of other countries into Hubei's);
* `O` and `I` in the serial (after the issuing-authority letter), where Chinese plates use
  no letters O and I: they are the digits 0 and 1.
"""

from __future__ import annotations

import re
import unicodedata

# Pinyin of a province abbreviation → the character, only where the pinyin is unambiguous.
PROVINCE_PINYIN: dict[str, str] = {
    "jing": "京", "hu": "沪", "yun": "云", "liao": "辽", "hei": "黑", "xiang": "湘",
    "wan": "皖", "lu": "鲁", "xin": "新", "su": "苏", "zhe": "浙", "meng": "蒙",
    "shan": "陕", "min": "闽", "yue": "粤", "qing": "青", "zang": "藏", "chuan": "川",
    "ning": "宁", "qiong": "琼",
}
_SEPARATORS = re.compile(r"[\s·•\-.]+")
_PINYIN_PREFIX = re.compile(r"^([A-Z]+?)([A-Z][0-9A-Z]{4,6})$")


def normal_plate(plate: str) -> str:
    """The plate's normal form: `京a 12345`, `京Ａ１２３４５` and `jing a12345` give `京A12345`."""
    text = _SEPARATORS.sub("", unicodedata.normalize("NFKC", plate)).upper()
    if text and text[0].isascii():
        text = _province_from_pinyin(text)
    if len(text) > 2 and not text[0].isascii():
        text = text[:2] + text[2:].replace("O", "0").replace("I", "1")
    return text


def _province_from_pinyin(text: str) -> str:
    # The longest pinyin that names a province and leaves a plausible plate behind.
    for size in range(min(5, len(text) - 5), 0, -1):
        head, rest = text[:size].lower(), text[size:]
        if head in PROVINCE_PINYIN and _PINYIN_PREFIX.match("X" + rest):
            return PROVINCE_PINYIN[head] + rest
    return text
