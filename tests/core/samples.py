"""Small hand-written captures of every connector format, good and broken, for pipeline tests."""

from __future__ import annotations

import json
from email.header import Header
from pathlib import Path


def email(
    msg_id: str,
    body: str,
    *,
    sender: str = "mei.chen@example.cn",
    subject: str = "订单问题",
    date: str = "Mon, 02 Nov 2026 10:00:00 +0800",
    charset: str = "utf-8",
    extra: str = "",
) -> bytes:
    encoded = Header(subject, "utf-8").encode()
    head = (
        f"From: Chen Mei <{sender}>\r\nTo: service@shop.example.com\r\nSubject: {encoded}\r\n"
        f"Date: {date}\r\nMessage-ID: <{msg_id}>\r\nMIME-Version: 1.0\r\n{extra}"
        f"Content-Type: text/plain; charset={charset}\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    )
    return head.encode("ascii") + body.encode(charset if charset != "gb2312" else "gb18030") + b"\r\n"


def long_email() -> bytes:
    """An e-mail of about 6 KB, over a 1 KiB size cap."""
    return email("long@mail.example.cn", "包裹丢了。" * 400)


def mastodon(
    status_id: str, html: str, *, acct: str = "lin@m.example.org", at: str = "2026-11-02T03:00:00.000Z"
) -> bytes:
    account = {
        "id": "1",
        "username": acct.split("@")[0],
        "acct": acct,
        "display_name": "Lin",
        "url": f"https://{acct.split('@')[-1]}/@{acct.split('@')[0]}",
    }
    return json.dumps(
        {
            "id": "9" + status_id[-6:],
            "type": "mention",
            "created_at": at,
            "account": account,
            "status": {
                "id": status_id,
                "created_at": at,
                "in_reply_to_id": None,
                "visibility": "public",
                "language": "zh",
                "content": html,
                "account": account,
                "media_attachments": [],
                "mentions": [
                    {"id": "2", "username": "shop", "acct": "shop", "url": "https://mastodon.social/@shop"}
                ],
                "tags": [],
                "emojis": [],
            },
        },
        ensure_ascii=False,
    ).encode()


def x_tweet(
    tid: str,
    text: str,
    at: str,
    *,
    author: tuple[str, str, str] = ("42", "Sam Lee", "samlee"),
    conversation: str | None = None,
    replied_to: str | None = None,
) -> bytes:
    """A mentions page with one tweet; ``author`` is (id, name, username)."""
    tweet: dict[str, object] = {
        "id": tid,
        "text": text,
        "author_id": author[0],
        "created_at": at,
        "conversation_id": conversation or tid,
        "edit_history_tweet_ids": [tid],
    }
    if replied_to:
        tweet["referenced_tweets"] = [{"type": "replied_to", "id": replied_to}]
    users = [{"id": author[0], "name": author[1], "username": author[2]}]
    return json.dumps({"data": [tweet], "includes": {"users": users}, "meta": {"result_count": 1}}).encode()


def x_page(*tweets: tuple[str, str, str]) -> bytes:
    """A mentions page with several tweets of one author."""
    pages = [json.loads(x_tweet(tid, text, at)) for tid, text, at in tweets]
    return json.dumps(
        {
            "data": [p["data"][0] for p in pages],
            "includes": pages[0]["includes"],
            "meta": {"result_count": len(pages)},
        }
    ).encode()


def twilio(sid: str, text: str, caller: str = "+8613912345678") -> bytes:
    return json.dumps(
        {
            "AccountSid": "AC" + "0" * 32,
            "CallSid": "CA" + sid[2:],
            "RecordingSid": "RE" + sid[2:],
            "TranscriptionSid": sid,
            "TranscriptionText": text,
            "TranscriptionStatus": "completed",
            "From": caller,
            "To": "+85230000000",
            "CallStatus": "completed",
            "ApiVersion": "2010-04-01",
        },
        ensure_ascii=False,
    ).encode()


def aftership(
    event_id: str,
    tracking: str,
    tag: str,
    *,
    order_id: str | None = None,
    at: str = "2026-11-03T08:00:00+00:00",
) -> bytes:
    return json.dumps(
        {
            "event": "tracking_update",
            "event_id": event_id,
            "ts": 1793000000,
            "msg": {
                "id": "a" * 24,
                "tracking_number": tracking,
                "slug": "sf-express",
                "order_id": order_id,
                "customer_name": None,
                "emails": [],
                "smses": [],
                "tag": tag,
                "subtag": f"{tag}_001",
                "subtag_message": tag,
                "updated_at": at,
                "checkpoints": [
                    {
                        "slug": "sf-express",
                        "created_at": at,
                        "location": "上海",
                        "message": f"{tag} scan",
                        "tag": tag,
                        "subtag": f"{tag}_001",
                        "checkpoint_time": at,
                    }
                ],
            },
        }
    ).encode()


def kuaidi100(nu: str, state: str, ftime: str = "2026-11-03 09:10:44") -> bytes:
    return json.dumps(
        {
            "status": "polling",
            "billstatus": "got",
            "message": "",
            "lastResult": {
                "message": "ok",
                "nu": nu,
                "ischeck": "0",
                "com": "zhongtong",
                "status": "200",
                "state": state,
                "data": [{"context": "【上海市】快件已到达【上海浦东】", "time": ftime, "ftime": ftime}],
            },
        },
        ensure_ascii=False,
    ).encode()


def write(root: Path, connector: str, name: str, data: bytes) -> Path:
    folder = root / connector
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return path
