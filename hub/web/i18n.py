"""The web UI's words in Simplified Chinese and English (a small dict; add a language by adding a column)."""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["DEFAULT_LANGUAGE", "LANGUAGES", "choose_language", "translator"]

LANGUAGES = {"zh-CN": "中文", "en": "English"}
DEFAULT_LANGUAGE = "zh-CN"

# key: (zh-CN, en)
_WORDS: dict[str, tuple[str, str]] = {
    "app.title": ("投诉工作台", "Complaint queue"),
    "nav.queue": ("工单队列", "Queue"),
    "nav.stats": ("统计", "Statistics"),
    "nav.connectors": ("连接器状态", "Connectors"),
    "nav.logout": ("退出", "Sign out"),
    "nav.api": ("API 文档", "API docs"),
    "login.title": ("登录", "Sign in"),
    "login.name": ("用户名", "User name"),
    "login.password": ("密码", "Password"),
    "login.submit": ("登录", "Sign in"),
    "login.failed": (
        "用户名或密码错误，或账号已停用。",
        "Wrong name or password, or the account is disabled.",
    ),
    "login.expired": ("请重新登录。", "Please sign in again."),
    "queue.title": ("工单队列", "Complaint queue"),
    "queue.count": ("共 {n} 个工单", "{n} cases"),
    "queue.empty": ("没有符合条件的工单。", "No cases match."),
    "queue.apply": ("筛选", "Filter"),
    "queue.reset": ("清除", "Reset"),
    "queue.prev": ("上一页", "Previous"),
    "queue.next": ("下一页", "Next"),
    "queue.page": ("第 {page} / {pages} 页", "Page {page} of {pages}"),
    "filter.status": ("状态", "Status"),
    "filter.category": ("类别", "Category"),
    "filter.severity": ("严重程度", "Severity"),
    "filter.channel": ("渠道", "Channel"),
    "filter.assignee": ("处理人", "Assignee"),
    "filter.overdue": ("仅超时", "Overdue only"),
    "filter.q": (
        "搜索（工单号、订单号、运单号、客户、内容）",
        "Search (case, order, parcel, customer, text)",
    ),
    "filter.from": ("起始日期", "From"),
    "filter.to": ("截止日期", "To"),
    "filter.any": ("全部", "Any"),
    "filter.open": ("未结案", "Open"),
    "filter.all": ("全部（含已结案）", "All (with closed)"),
    "filter.me": ("我的", "Mine"),
    "filter.nobody": ("未分配", "Unassigned"),
    "col.case": ("工单", "Case"),
    "col.severity": ("级别", "Severity"),
    "col.sla": ("剩余时限", "SLA"),
    "col.status": ("状态", "Status"),
    "col.category": ("类别", "Category"),
    "col.channels": ("渠道", "Channels"),
    "col.customer": ("客户", "Customer"),
    "col.assignee": ("处理人", "Assignee"),
    "col.summary": ("摘要", "Summary"),
    "col.messages": ("消息", "Msgs"),
    "sla.left": ("剩余", "left"),
    "sla.overdue": ("已超时", "overdue"),
    "sla.none": ("—", "—"),
    "sla.flagged": ("已上报超时", "breach reported"),
    "status.new": ("受理", "New"),
    "status.investigating": ("调查", "Investigating"),
    "status.contacting": ("沟通", "Contacting"),
    "status.remedy": ("补救", "Remedy"),
    "status.closed": ("记录归档", "Closed"),
    "category.product_quality": ("商品质量", "Product quality"),
    "category.logistics": ("物流配送", "Logistics"),
    "category.payment_refund": ("付款及退款", "Payment & refund"),
    "category.customer_service": ("客服服务", "Customer service"),
    "category.promotion": ("促销活动", "Promotion"),
    "category.other": ("其他", "Other"),
    "severity.severe": ("严重", "Severe"),
    "severity.general": ("一般", "General"),
    "channel.email": ("邮件", "E-mail"),
    "channel.mastodon": ("Mastodon", "Mastodon"),
    "channel.x": ("X", "X"),
    "channel.voicemail": ("语音留言", "Voicemail"),
    "channel.courier": ("快递", "Courier"),
    "case.customer": ("客户", "Customer"),
    "case.created": ("受理时间", "Opened"),
    "case.due": ("时限", "Due"),
    "case.assignee": ("处理人", "Assignee"),
    "case.nobody": ("未分配", "Unassigned"),
    "case.timeline": ("跨渠道时间线", "Cross-channel timeline"),
    "case.matched_by": ("归并依据", "Matched by"),
    "case.html": ("原始 HTML（已净化）", "Original HTML (sanitised)"),
    "case.orders": ("订单号", "Orders"),
    "case.parcels": ("运单号", "Parcels"),
    "case.merged_into": ("已合并到", "Merged into"),
    "case.merged_from": ("合并自", "Merged from"),
    "case.split_from": ("拆分自", "Split from"),
    "case.split_into": ("拆分为", "Split into"),
    "case.severity_reasons": ("严重原因", "Severe because"),
    "case.note": ("内部备注", "Internal note"),
    "case.event": ("记录", "Event"),
    "case.history": ("处理记录", "History"),
    "case.resolution": ("处理结果记录", "Resolution record"),
    "case.corrections": ("更正记录", "Corrections"),
    "case.split_pick": ("拆分", "split"),
    "act.title": ("操作", "Actions"),
    "act.status": ("变更状态", "Change status"),
    "act.to": ("新状态", "New status"),
    "act.comment": ("说明", "Comment"),
    "act.measures": ("采取的措施（结案必填）", "Measures taken (required to close)"),
    "act.result": ("处理结果（结案必填）", "Result (required to close)"),
    "act.feedback": ("客户反馈", "Customer feedback"),
    "act.save": ("保存", "Save"),
    "act.reopen": ("重新打开", "Reopen"),
    "act.reason": ("原因", "Reason"),
    "act.assign": ("分配", "Assign"),
    "act.assign_me": ("分配给我", "Assign to me"),
    "act.note": ("添加备注", "Add note"),
    "act.correct": ("更正类别/级别", "Correct category / severity"),
    "act.merge": ("合并工单", "Merge a case into this one"),
    "act.merge_other": ("要并入的工单号", "Case id to merge in"),
    "act.split": ("将选中的消息拆分为新工单", "Split the ticked messages into a new case"),
    "act.done": ("已保存。", "Saved."),
    "act.none": ("无可用状态", "no further status"),
    "stats.title": ("投诉统计", "Complaint statistics"),
    "stats.period": ("周期", "Period"),
    "stats.day": ("日", "Day"),
    "stats.month": ("月", "Month"),
    "stats.quarter": ("季度", "Quarter"),
    "stats.year": ("年", "Year"),
    "stats.tz": ("时区", "Time zone"),
    "stats.cases": ("工单数", "Cases"),
    "stats.closed": ("已结案", "Closed"),
    "stats.handling_avg": ("平均处理时长（小时）", "Average handling (hours)"),
    "stats.handling_median": ("处理时长中位数（小时）", "Median handling (hours)"),
    "stats.sla": ("时限达成率", "SLA compliance"),
    "stats.repeat": ("重复投诉率", "Repeat-contact rate"),
    "stats.repeat_customers": ("多次投诉客户占比", "Customers with several cases"),
    "stats.by_category": ("按类别", "By category"),
    "stats.by_channel": ("按渠道", "By channel"),
    "stats.by_severity": ("按严重程度", "By severity"),
    "stats.per_period": ("各周期工单数（按类别）", "Cases per period (by category)"),
    "stats.download": ("下载", "Download"),
    "conn.title": ("连接器状态", "Connector health"),
    "conn.instance": ("实例", "Instance"),
    "conn.type": ("类型", "Type"),
    "conn.state": ("状态", "State"),
    "conn.healthy": ("正常", "Healthy"),
    "conn.unhealthy": ("异常", "Failing"),
    "conn.unknown": ("未轮询", "Not polled yet"),
    "conn.last_success": ("最近成功", "Last success"),
    "conn.last_error": ("最近错误", "Last error"),
    "conn.failures": ("连续失败", "Failures in a row"),
    "conn.items": ("累计条目", "Items"),
    "conn.none": ("未配置连接器。", "No connectors configured."),
    "error.title": ("出错了", "Something went wrong"),
    "error.forbidden": ("您的角色无权访问此页面。", "Your role may not open this page."),
    "error.not_found": ("找不到该页面或工单。", "No such page or case."),
}

_COLUMN = {"zh-CN": 0, "en": 1}


def translator(language: str) -> Callable[..., str]:
    """``t(key, **values)`` in ``language``; an unknown key shows as itself."""
    column = _COLUMN.get(language, 0)

    def t(key: str, **values: object) -> str:
        words = _WORDS.get(key)
        text = words[column] if words else key
        return text.format(**values) if values else text

    return t


def choose_language(query: str | None, cookie: str | None, accept: str | None) -> str:
    """``?lang=``, then the cookie, then Accept-Language, then Chinese."""
    for candidate in (query, cookie):
        if candidate in LANGUAGES:
            return candidate
    for part in (accept or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh-CN"
        if tag.startswith("en"):
            return "en"
    return DEFAULT_LANGUAGE
