"""Customer identities read from a message: e-mail addresses and phone numbers (E.164).

Connector-given identities are normalised and kept; text identities are added for
every channel but courier (a scan text names the dispatcher, not the customer). The
shop's own addresses never count, nor phones labelled as someone else's (courier
outlet, hotline, warehouse) or toll-free / shared-cost lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import phonenumbers
from phonenumbers import Leniency, PhoneNumberFormat, PhoneNumberMatcher, PhoneNumberType

from hub.models import Channel, ComplaintMessage, Identity, IdentityKind
from hub.understand.context import ORDER, TRACKING, ContextLexicon, default_lexicon
from hub.understand.settings import UnderstandSettings
from hub.understand.textutil import EMAIL_RE, MAX_CHARS, URL_RE, mask, to_simplified

__all__ = [
    "OwnAddresses",
    "normalise_phone",
    "phone_regions",
    "read_identities",
    "text_emails",
    "text_handles",
    "text_phones",
]

#: words saying a phone belongs to someone else (courier, outlet, shop, warehouse)
THIRD_PARTY_PHONE_WORDS = (
    "网点", "快递员", "派件员", "配送员", "揽投员", "派送员", "快递小哥", "师傅", "司机", "客服热线", "热线",
    "仓库", "售后组", "售后部", "门店", "店铺", "商家", "投诉电话", "驿站", "物业", "门卫", "总机",
    "hotline", "helpline", "courier", "driver", "warehouse", "store",
    "call center", "call centre", "support line", "dispatcher", "front desk", "reception",
)  # fmt: skip
_NOT_PERSONAL = {
    PhoneNumberType.TOLL_FREE,
    PhoneNumberType.PREMIUM_RATE,
    PhoneNumberType.SHARED_COST,
    PhoneNumberType.UAN,
    PhoneNumberType.VOICEMAIL,
}
_NO_REPLY = re.compile(r"^(?:no-?reply|do-?not-?reply|mailer-daemon|postmaster|bounce[s]?)[@+.-]", re.I)
_CN_MOBILE = re.compile(r"(?<![\d+])(?:(?:\+|00)?86[\s-]?)?(1[3-9]\d)[\s-]?(\d{4})[\s-]?(\d{4})(?!\d)")
_CLAUSE_END = re.compile(r"[。！？!?\n；;]")
#: a fediverse address "@user@host" (a Mastodon handle, not an e-mail)
_FEDIVERSE_RE = re.compile(r"(?<![\w@.])@([A-Za-z0-9_]{1,30})@([A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+)")
#: an X handle the writer says is theirs: "my twitter is @name", "我的推特 @name"
_MY_X_RE = re.compile(
    r"(?:\bmy\s+(?:twitter|x)(?:\s+(?:handle|account|username))?|我的\s*(?:推特|twitter|x)(?:账号|帳號)?)"
    r"\s*(?:is|:|：|是)?\s*@([A-Za-z0-9_]{1,15})\b",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"[.!?]\s|[。！？\n]")
_FIRST_PERSON = re.compile(r"\b(?:my|mine|me|i'm|i am|i've)\b|我", re.IGNORECASE)


def normalise_phone(value: str, region: str = "CN") -> str | None:
    """E.164 form of a phone number, or None when it cannot be read."""
    raw = (value or "").strip()
    if sum(ch.isdigit() for ch in raw) < 5:
        return None
    try:
        number = phonenumbers.parse(raw, None if raw.startswith("+") else region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


class OwnAddresses:
    """The shop's own mailboxes, handles and numbers, for quick membership tests."""

    def __init__(self, values: Iterable[str], region: str) -> None:
        self.emails: set[str] = set()
        self.phones: set[str] = set()
        self.handles: set[str] = set()
        for value in values:
            text = value.strip().lower()
            if not text:
                continue
            if EMAIL_RE.fullmatch(text):
                self.emails.add(text)
            phone = normalise_phone(text, region) if re.fullmatch(r"[+\d\s().\-]+", text) else None
            if phone:
                self.phones.add(phone)
            else:
                self.handles.add(_bare_handle(text))

    def __contains__(self, identity: Identity) -> bool:
        value = identity.value.strip().lower()
        if identity.kind == IdentityKind.email:
            return value in self.emails
        if identity.kind == IdentityKind.phone:
            return value in self.phones
        if identity.kind == IdentityKind.handle:
            bare = _bare_handle(value)
            return bare in self.handles or bare.split("@")[0] in self.handles
        return False


def _bare_handle(value: str) -> str:
    """``x:@HemuMall`` / ``@hemumall@mastodon.social`` → ``hemumall`` / ``hemumall@mastodon.social``."""
    value = value.strip().lower()
    if ":" in value and not value.startswith("@"):
        value = value.split(":", 1)[1]
    return value.lstrip("@")


def text_emails(text: str) -> list[str]:
    """Lower-cased e-mail addresses in ``text`` (no-reply and bounce addresses left out)."""
    out: list[str] = []
    for match in EMAIL_RE.finditer((text or "")[:MAX_CHARS]):
        email = match.group(0).lower().strip(".")
        if not _NO_REPLY.match(email) and email not in out:
            out.append(email)
    return out


def text_handles(text: str) -> list[str]:
    """Social handles the writer gives as their own: ``mastodon:@user@host``, ``x:@name``."""
    text = (text or "")[:MAX_CHARS]
    out: list[str] = []
    for match in _FEDIVERSE_RE.finditer(text):
        before = _SENTENCE_END.split(text[max(0, match.start() - 80) : match.start()])[-1]
        if _FIRST_PERSON.search(before):
            out.append(f"mastodon:@{match.group(1).lower()}@{match.group(2).lower()}")
    out += [f"x:@{m.group(1).lower()}" for m in _MY_X_RE.finditer(text)]
    return list(dict.fromkeys(out))


def phone_regions(msg: ComplaintMessage, settings: UnderstandSettings) -> list[str]:
    """Regions to read phones in: default, the connector's phones' regions, the language's."""
    regions = [settings.default_region.upper()]
    for identity in msg.identities:
        if identity.kind == IdentityKind.phone and identity.value.startswith("+"):
            try:
                region = phonenumbers.region_code_for_number(phonenumbers.parse(identity.value, None))
            except phonenumbers.NumberParseException:
                continue
            if region:
                regions.append(region)
    regions.extend(settings.language_regions.get(msg.language or "", []))
    return list(dict.fromkeys(r.upper() for r in regions if r))


def text_phones(text: str, regions: list[str]) -> list[str]:
    """E.164 phone numbers in ``text`` that plausibly belong to the writer."""
    text = mask(mask((text or "")[:MAX_CHARS], EMAIL_RE), URL_RE)
    if not text.strip():
        return []
    simplified = to_simplified(text)
    if len(simplified) != len(text):
        simplified = text
    lexicon = default_lexicon()
    taken: list[tuple[int, int]] = []
    found: list[tuple[int, str]] = []

    def claim(start: int, end: int, e164: str | None) -> None:
        if any(s < end and start < e for s, e in taken):
            return
        taken.append((start, end))
        if e164 and not _third_party(simplified, start) and not _numbered_as_code(lexicon, text, start):
            found.append((start, e164))

    for region in regions:
        try:
            matches = list(PhoneNumberMatcher(text, region, leniency=Leniency.VALID))
        except Exception:  # the library must never break enrichment
            continue
        for match in matches:
            number = match.number
            kind = phonenumbers.number_type(number)
            raw = match.raw_string.strip()
            if (
                kind == PhoneNumberType.FIXED_LINE
                and not raw.startswith(("0", "+", "(0"))
                and phonenumbers.region_code_for_number(number) in {"CN", "TW"}
            ):
                continue  # a bare digit run read as a CN/TW landline without its trunk 0
            if kind in _NOT_PERSONAL:
                taken.append((match.start, match.end))
                continue
            claim(match.start, match.end, phonenumbers.format_number(number, PhoneNumberFormat.E164))
    for mobile in _CN_MOBILE.finditer(text):
        claim(mobile.start(), mobile.end(), "+86" + "".join(mobile.groups()))
    out: list[str] = []
    for _, e164 in sorted(found):
        if e164 not in out:
            out.append(e164)
    return out


def _third_party(text: str, start: int) -> bool:
    """A courier/outlet/hotline word in the same clause before the number, not followed by "my/我"."""
    window = _CLAUSE_END.split(text[max(0, start - 24) : start])[-1].lower()
    last = max(
        (window.rfind(word) + len(word) for word in THIRD_PARTY_PHONE_WORDS if word in window), default=-1
    )
    return last >= 0 and not _FIRST_PERSON.search(window[last:])


_CODE_LABELS = {"qq", "会员号", "会员", "卡号", "账号", "member", "account", "card"}


def _numbered_as_code(lexicon: ContextLexicon, text: str, start: int) -> bool:
    """Right after an order/tracking/QQ/account label: a code, not a phone."""
    label = lexicon.label_before(text, start, window=12)
    if label is None or not label.immediate:
        return False
    return label.kind in (ORDER, TRACKING) or label.word in _CODE_LABELS


def read_identities(msg: ComplaintMessage, settings: UnderstandSettings | None = None) -> ComplaintMessage:
    """Normalise the connector's identities and add those found in text and signature."""
    settings = settings or UnderstandSettings()
    region = settings.default_region.upper()
    own = OwnAddresses(settings.own_addresses, region)
    identities: list[Identity] = []
    for identity in msg.identities:
        identities.append(_normalised(identity, region))
    if msg.channel != Channel.courier:
        signature = msg.extra.get("signature")
        sources = [msg.text or ""] + ([signature] if isinstance(signature, str) else [])
        regions = phone_regions(msg, settings)
        for source in sources:
            identities += [Identity(kind=IdentityKind.email, value=e) for e in text_emails(source)]
            identities += [Identity(kind=IdentityKind.phone, value=p) for p in text_phones(source, regions)]
            if msg.channel not in (Channel.mastodon, Channel.x):  # there, @mentions name others
                identities += [Identity(kind=IdentityKind.handle, value=h) for h in text_handles(source)]
    msg.identities = list(dict.fromkeys(i for i in identities if i not in own))
    return msg


def _normalised(identity: Identity, region: str) -> Identity:
    if identity.kind == IdentityKind.email:
        return Identity(kind=identity.kind, value=identity.value.strip().lower())
    if identity.kind == IdentityKind.phone:
        e164 = normalise_phone(identity.value, region)
        return Identity(kind=identity.kind, value=e164 or identity.value.strip())
    return identity
