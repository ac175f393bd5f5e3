"""Normalise voicemail transcripts: spoken digits, dashes and spelled letters → codes.

"H M二零二六零八零三 杠 幺零四二七" → "HM20260803-10427",
"w two six oh eight one five six" → "W2608156",
"oh seven seven double oh nine" → "077009".

Only runs of at least :data:`MIN_DIGITS` digits are rewritten, so quantities such as
"二十四小时", "两天" or "one more thing" stay as they are.
"""

from __future__ import annotations

import re

from hub.models import Channel, ComplaintMessage
from hub.understand.textutil import MAX_CHARS

__all__ = ["MIN_DIGITS", "normalise_message", "normalise_transcript"]

MIN_DIGITS = 4

_ZH_DIGITS = {
    "零": "0", "〇": "0", "一": "1", "幺": "1", "二": "2", "两": "2", "兩": "2", "三": "3",
    "四": "4", "五": "5", "六": "6", "七": "7", "八": "8", "九": "9",
}  # fmt: skip
_ZH_DIGIT_CLASS = "零〇一幺二两兩三四五六七八九0-9０-９"
_ZH_SEG = f"[{_ZH_DIGIT_CLASS}]+"
_DASH_WORDS = r"(?:横杠|橫槓|杠|槓|dash|hyphen|[-－–—])"
_ZH_SEG_RE = re.compile(_ZH_SEG)
_ZH_JOINT_RE = re.compile(rf"[ \t\u3000]*{_DASH_WORDS}[ \t\u3000]*|[ \t\u3000]+", re.IGNORECASE)
#: a short digit run touching one of these is a quantity ("一百九十九", "三天", "八月")
_ZH_NUMERAL_UNITS = set("十拾百佰千仟万萬亿億点點")
_ZH_MEASURES = set("个個天次号號月年日时時点點块塊元岁歲位只隻件台份分秒周週遍下人条條张張本层層楼樓米斤")
_ZH_DASH_RE = re.compile(rf"[ \t\u3000]*{_DASH_WORDS}[ \t\u3000]*", re.IGNORECASE)
_UPU_TAIL_RE = re.compile(r"[ \t]?([A-Z])[ \t]?([A-Z])(?![A-Za-z])")
#: four-character idioms made of digit characters ("in twos and threes")
_IDIOMS = ("三三两两", "三三兩兩", "七七八八", "一一二二")

_EN_DIGITS = {
    "zero": "0", "oh": "0", "o": "0", "nought": "0",
    "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
    "six": "6", "seven": "7", "eight": "8", "nine": "9", "niner": "9",
}  # fmt: skip
_EN_REPEAT = {"double": 2, "triple": 3}
_EN_DASH = {"dash", "hyphen"}
_EN_TOKEN_RE = re.compile(r"[A-Za-z]+|\d+")
_EN_GAP_RE = re.compile(r"[\s,]*-?[\s,]*")
#: letter tokens that are words, never a spelled code prefix
_NOT_PREFIX = {"A", "I", "O", "ID", "NO", "QQ", "TEL", "PIN", "VIP", "WX", "VX", "APP", "IS", "MY", "IT"}
_NOT_PREFIX |= {"AT", "TO", "AN", "OR", "ON", "IN", "OF", "BY", "UP", "US", "WE", "AM", "PM", "OK", "HI"}


def normalise_message(msg: ComplaintMessage) -> ComplaintMessage:
    """Normalise a voicemail's text in place; the original goes to ``extra['transcript_raw']``."""
    if msg.channel != Channel.voicemail:
        return msg
    raw = msg.extra.get("transcript_raw")
    if not isinstance(raw, str):
        raw = msg.text or ""
        msg.extra["transcript_raw"] = raw
    msg.text = normalise_transcript(raw)
    return msg


def normalise_transcript(text: str) -> str:
    """Rewrite spoken digit runs (Chinese and English) as ASCII codes."""
    if not text:
        return text
    head, tail = text[:MAX_CHARS], text[MAX_CHARS:]
    return _english_runs(_chinese_runs(head)) + tail


# --- Chinese ---------------------------------------------------------------------------------


def _zh_digits(chunk: str) -> str:
    out = []
    for ch in chunk:
        if ch in _ZH_DIGITS:
            out.append(_ZH_DIGITS[ch])
        elif "０" <= ch <= "９":
            out.append(chr(ord(ch) - 0xFEE0))
        elif ch.isdigit():
            out.append(ch)
    return "".join(out)


def _chinese_runs(text: str) -> str:
    pieces: list[str] = []
    last = 0
    for chain in _zh_chains(text):
        start, end = chain[0].start(), chain[-1].end()
        if start < last:
            continue
        codes: list[str] = []
        for k, seg in enumerate(chain):
            if k and _ZH_DASH_RE.fullmatch(text[chain[k - 1].end() : seg.start()]):
                codes.append("-")
            codes.append(_zh_digits(seg.group(0)))
        code = "".join(codes)
        if sum(ch.isdigit() for ch in code) < MIN_DIGITS or not any(
            ch in _ZH_DIGITS for seg in chain for ch in seg.group(0)
        ):
            continue
        prefix, start = _letters_before(text, start, last)
        suffix, end = _letters_after(text, end, prefix, code)
        pieces.append(text[last:start])
        pieces.append(prefix + code + suffix)
        last = end
    pieces.append(text[last:])
    return "".join(pieces)


def _zh_chains(text: str) -> list[list[re.Match[str]]]:
    """Digit segments chained by spaces or dashes, leaving out quantities and idioms."""
    chains: list[list[re.Match[str]]] = []
    current: list[re.Match[str]] = []
    for seg in _ZH_SEG_RE.finditer(text):
        if _is_quantity(text, seg):
            if current:
                chains.append(current)
            current = []
            continue
        if current and _ZH_JOINT_RE.fullmatch(text[current[-1].end() : seg.start()]):
            current.append(seg)
            continue
        if current:
            chains.append(current)
        current = [seg]
    if current:
        chains.append(current)
    return chains


def _is_quantity(text: str, seg: re.Match[str]) -> bool:
    word = seg.group(0)
    if any(idiom in text[max(0, seg.start() - 3) : seg.end() + 3] for idiom in _IDIOMS):
        return True
    if len(word) >= MIN_DIGITS:
        return False
    before = text[seg.start() - 1] if seg.start() else ""
    after = text[seg.end()] if seg.end() < len(text) else ""
    return before in _ZH_NUMERAL_UNITS or after in _ZH_NUMERAL_UNITS or after in _ZH_MEASURES


def _letters_before(text: str, start: int, floor: int) -> tuple[str, int]:
    """Spelled letters ("H M", "JDV", "w") just before ``start``: (letters, new start)."""
    letters: list[str] = []
    i = start
    first = True
    while i > floor:
        j = i
        while j > floor and text[j - 1] in " \t\u3000" and i - j < 1:
            j -= 1
        k = j
        while k > floor and text[k - 1].isascii() and text[k - 1].isalpha():
            k -= 1
        word = text[k:j]
        if not word or (not first and len(word) != 1) or len(word) > 3:
            break
        if len(word) > 1 and not word.isupper():
            break
        if word.upper() in _NOT_PREFIX or len(letters) + len(word) > 4:
            break
        letters.insert(0, word.upper())
        i = k
        first = False
    return "".join(letters), i


def _letters_after(text: str, end: int, prefix: str, code: str) -> tuple[str, int]:
    """Two trailing letters of a UPU-style code (RR123456789CN) spelled after the digits."""
    if len(prefix) != 2 or len(code) != 9 or not code.isdigit():
        return "", end
    match = _UPU_TAIL_RE.match(text, end)
    if not match:
        return "", end
    return match.group(1) + match.group(2), match.end()


# --- English ---------------------------------------------------------------------------------


def _english_runs(text: str) -> str:
    tokens = list(_EN_TOKEN_RE.finditer(text))
    pieces: list[str] = []
    last = 0
    i = 0
    while i < len(tokens):
        run_end, code, spoken = _scan_run(text, tokens, i)
        if run_end == i or not spoken or sum(ch.isdigit() for ch in code) < MIN_DIGITS:
            i = max(i + 1, run_end)  # a suffix of a rejected run is no better
            continue
        code = code.strip("-")
        first = i
        prefix_tokens = _prefix_tokens(text, tokens, i, last)
        first -= len(prefix_tokens)
        prefix = "".join(t.group(0).upper() for t in prefix_tokens)
        start = tokens[first].start()
        end = tokens[run_end - 1].end()
        suffix = ""
        if len(prefix) == 2 and len(code) == 9 and run_end < len(tokens):
            tail = _suffix_letters(text, tokens, run_end, end)
            if tail:
                suffix, end, run_end = tail
        pieces.append(text[last:start])
        pieces.append(prefix + code + suffix)
        last = end
        i = run_end
    pieces.append(text[last:])
    return "".join(pieces)


def _suffix_letters(text: str, tokens: list[re.Match[str]], k: int, end: int) -> tuple[str, int, int] | None:
    """Two upper-case letters ("CN" or "C N") right after a UPU-style run."""
    letters = ""
    while k < len(tokens) and len(letters) < 2:
        word = tokens[k].group(0)
        if not (word.isalpha() and word.isupper() and _gap_ok(text, end, tokens[k].start())):
            return None
        letters += word
        end = tokens[k].end()
        k += 1
    return (letters, end, k) if len(letters) == 2 else None


def _gap_ok(text: str, end: int, start: int) -> bool:
    gap = text[end:start]
    return bool(_EN_GAP_RE.fullmatch(gap)) and "\n\n" not in gap


def _scan_run(text: str, tokens: list[re.Match[str]], i: int) -> tuple[int, str, bool]:
    """Longest digit run starting at token ``i``: (index after run, code, any spoken word)."""
    code: list[str] = []
    spoken = False
    j = i
    while j < len(tokens):
        word = tokens[j].group(0)
        low = word.lower()
        if j > i and not _gap_ok(text, tokens[j - 1].end(), tokens[j].start()):
            break
        if j > i and "-" in text[tokens[j - 1].end() : tokens[j].start()]:
            code.append("-")
        if word.isdigit():
            code.append(word)
        elif low in _EN_DIGITS and (low not in {"o", "oh"} or _next_is_digit(text, tokens, j) or (j > i)):
            code.append(_EN_DIGITS[low])
            spoken = True
        elif low in _EN_REPEAT and j + 1 < len(tokens) and tokens[j + 1].group(0).lower() in _EN_DIGITS:
            if not _gap_ok(text, tokens[j].end(), tokens[j + 1].start()):
                break
            code.append(_EN_DIGITS[tokens[j + 1].group(0).lower()] * _EN_REPEAT[low])
            spoken = True
            j += 2
            continue
        elif low in _EN_DASH and j > i and j + 1 < len(tokens) and _is_digit_token(tokens[j + 1].group(0)):
            code.append("-")
        else:
            break
        j += 1
    while j > i and tokens[j - 1].group(0).lower() in _EN_DASH:
        j -= 1
        code.pop()
    return j, "".join(code), spoken


def _is_digit_token(word: str) -> bool:
    return word.isdigit() or word.lower() in _EN_DIGITS or word.lower() in _EN_REPEAT


def _next_is_digit(text: str, tokens: list[re.Match[str]], j: int) -> bool:
    return (
        j + 1 < len(tokens)
        and _is_digit_token(tokens[j + 1].group(0))
        and _gap_ok(text, tokens[j].end(), tokens[j + 1].start())
    )


def _prefix_tokens(text: str, tokens: list[re.Match[str]], i: int, floor: int) -> list[re.Match[str]]:
    """Spelled letters right before the run ("w", "j d v", "HM")."""
    out: list[re.Match[str]] = []
    k = i - 1
    letters = 0
    while k >= 0 and tokens[k].start() >= floor:
        word = tokens[k].group(0)
        if not word.isalpha() or not _gap_ok(text, tokens[k].end(), tokens[k + 1].start()):
            break
        if "-" in text[tokens[k].end() : tokens[k + 1].start()]:
            break
        if len(word) == 1:
            ok = word.upper() not in _NOT_PREFIX
        else:
            ok = not out and len(word) <= 3 and word.isupper() and word not in _NOT_PREFIX
        if not ok or letters + len(word) > 4:
            break
        out.insert(0, tokens[k])
        letters += len(word)
        if len(word) > 1:
            break
        k -= 1
    return out
