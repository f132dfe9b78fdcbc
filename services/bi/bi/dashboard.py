"""The headquarters dashboard: one page in zh-CN or English over the KPI API, with charts.

The page itself holds no data: its script (`static/dashboard.js`) calls `/kpis`, `/series`,
`/rankings` and (headquarters' view) `/recall-completion` with the caller's token, so the
API's role checks apply unchanged. Charts are drawn by Apache ECharts, vendored under
`static/vendor/echarts/` and served by BI itself: the page loads nothing from another host
(its Content-Security-Policy says so too).
"""

from __future__ import annotations

import html
import json
from datetime import date

from bi.kpis import CYCLE_STAGES, KPIS
from chassis.static import StaticFile, StaticFiles

ECHARTS_VERSION = "5.6.0"
LANGUAGES = ("zh-CN", "en")

# The chart's grain by the length of the range: about a hundred points at most, so a chart
# stays readable and a question never sums more daily rows than a quarter's.
GRAIN_LIMITS = (("day", 92), ("week", 366))


def grain_for(first: date, last: date) -> str:
    """The series grain the dashboard asks for over `first`..`last` (days included)."""
    days = (last - first).days + 1
    return next((grain for grain, limit in GRAIN_LIMITS if days <= limit), "month")


_CYCLE_ZH = {"booking_to_reception": "预约→接车", "reception_to_inspection": "接车→环检",
             "inspection_to_approval": "环检→确认", "approval_to_work_done": "确认→完工",
             "work_done_to_qc": "完工→质检", "qc_to_delivery": "质检→交车"}
_CYCLE_EN = {"booking_to_reception": "booking → reception",
             "reception_to_inspection": "reception → inspection",
             "inspection_to_approval": "inspection → approval",
             "approval_to_work_done": "approval → work done", "work_done_to_qc": "work done → QC",
             "qc_to_delivery": "QC → delivery"}

KPI_LABELS: dict[str, dict[str, str]] = {
    "zh-CN": {
        "ro_count": "进厂台次", "ros_delivered": "交车台次",
        "ros_customer_pay": "客户付费台次", "ros_warranty": "保修台次",
        "ros_internal": "内部台次", "revenue": "产值",
        "revenue_customer_pay": "客户付费产值", "revenue_warranty": "保修产值",
        "revenue_internal": "内部产值", "hours_per_ro": "单车工时",
        "effective_labour_rate": "有效工时单价", "technician_efficiency": "技师效率",
        "quote_approval_rate": "报价通过率（项）",
        "quote_approval_rate_value": "报价通过率（金额）",
        "declined_work_recapture": "拒修再转化率", "parts_fill_rate": "配件满足率",
        "appointment_show_rate": "预约到店率", "on_time_delivery": "准时交车率",
        "comeback_rate": "返修率", "qc_rework_rate": "质检返工率", "csi": "满意度 CSI",
        "nps": "净推荐值 NPS", "reminder_booking_rate": "提醒预约转化率",
        "reminder_arrival_rate": "提醒到店转化率", "lead_arrival_rate": "线索到店率",
        **{f"cycle_time_{s}": f"{_CYCLE_ZH[s]}（小时）" for s in CYCLE_STAGES},
    },
    "en": {
        "ro_count": "RO count", "ros_delivered": "ROs delivered",
        "ros_customer_pay": "Customer-pay ROs", "ros_warranty": "Warranty ROs",
        "ros_internal": "Internal ROs", "revenue": "Revenue",
        "revenue_customer_pay": "Customer-pay revenue", "revenue_warranty": "Warranty revenue",
        "revenue_internal": "Internal revenue", "hours_per_ro": "Hours per RO",
        "effective_labour_rate": "Effective labour rate",
        "technician_efficiency": "Technician efficiency",
        "quote_approval_rate": "Quote approval (lines)",
        "quote_approval_rate_value": "Quote approval (value)",
        "declined_work_recapture": "Declined-work recapture",
        "parts_fill_rate": "Parts fill rate", "appointment_show_rate": "Appointment show rate",
        "on_time_delivery": "On-time delivery", "comeback_rate": "Comeback rate",
        "qc_rework_rate": "QC rework rate", "csi": "CSI", "nps": "NPS",
        "reminder_booking_rate": "Reminder → booking",
        "reminder_arrival_rate": "Reminder → arrival", "lead_arrival_rate": "Lead → arrival",
        **{f"cycle_time_{s}": f"{_CYCLE_EN[s].capitalize()} (h)" for s in CYCLE_STAGES},
    },
}

# How the page shows a value: counts, money (CNY), fractions as %, hours, 0-10 scores, NPS.
UNITS: dict[str, str] = {
    **{name: "count" for name in ("ro_count", "ros_delivered", "ros_customer_pay",
                                  "ros_warranty", "ros_internal")},
    **{name: "money" for name in ("revenue", "revenue_customer_pay", "revenue_warranty",
                                  "revenue_internal", "effective_labour_rate")},
    **{name: "percent" for name in (
        "technician_efficiency", "quote_approval_rate", "quote_approval_rate_value",
        "declined_work_recapture", "parts_fill_rate", "appointment_show_rate",
        "on_time_delivery", "comeback_rate", "qc_rework_rate", "reminder_booking_rate",
        "reminder_arrival_rate", "lead_arrival_rate")},
    "hours_per_ro": "hours", "csi": "score", "nps": "nps",
    **{f"cycle_time_{s}": "hours" for s in CYCLE_STAGES},
}

# The tiles at the top of the page; every KPI is in the table below them.
HEADLINE = ("ro_count", "revenue", "hours_per_ro", "effective_labour_rate",
            "quote_approval_rate", "parts_fill_rate", "appointment_show_rate",
            "on_time_delivery", "comeback_rate", "csi", "nps", "technician_efficiency")

TEXT: dict[str, dict[str, str]] = {
    "zh-CN": {
        "title": "售后 KPI 看板", "token": "令牌", "token_hint": "粘贴令牌",
        "from": "从", "to": "到", "region": "区域", "all_regions": "全部区域",
        "dealer": "经销商", "kpi": "图表指标", "kpi_name": "指标", "query": "查询",
        "hq": "总部视图：全部经销商", "dealer_view": "经销商视图", "back": "返回总部视图",
        "series": "趋势", "ranking": "经销商排名", "rank": "名次", "value": "值",
        "all_kpis": "全部指标", "no_data": "无数据", "error": "出错",
        "need_token": "请先粘贴令牌", "loading": "加载中…", "top": "前 {n} 名",
        "day": "日", "week": "周", "month": "月", "unassigned": "未分配",
        "other_language": "English", "recalls": "召回完成率", "campaign": "召回活动",
        "cars": "车辆", "completed": "已完成", "completion_rate": "完成率",
    },
    "en": {
        "title": "After-sales KPI dashboard", "token": "Token", "token_hint": "paste a token",
        "from": "From", "to": "To", "region": "Region", "all_regions": "All regions",
        "dealer": "Dealer", "kpi": "Chart KPI", "kpi_name": "KPI", "query": "Query",
        "hq": "Headquarters: all dealers", "dealer_view": "Dealer view",
        "back": "Back to headquarters", "series": "Trend", "ranking": "Dealer ranking",
        "rank": "Rank", "value": "Value", "all_kpis": "All KPIs", "no_data": "no data",
        "error": "Error", "need_token": "Paste a token first", "loading": "Loading…",
        "top": "top {n}", "day": "day", "week": "week", "month": "month",
        "unassigned": "unassigned", "other_language": "中文",
        "recalls": "Recall completion", "campaign": "Campaign", "cars": "Cars",
        "completed": "Completed", "completion_rate": "Completion rate",
    },
}

_PAGE = """<!doctype html>
<html lang="__LANG__"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>__TITLE__</title>
<link rel="stylesheet" href="/static/dashboard.css">
</head><body>
<header><h1>__TITLE__</h1>
<a id="language" href="?lang=__OTHER_LANG__" hreflang="__OTHER_LANG__">__OTHER_LANGUAGE__</a>
</header>
<form id="q">
<label>__T_token__<input id="token" type="password" size="24" autocomplete="off"
  placeholder="__T_token_hint__"></label>
<label>__T_from__<input id="from" type="date" required></label>
<label>__T_to__<input id="to" type="date" required></label>
<label>__T_region__<input id="region" size="10" list="regions" placeholder="__T_all_regions__"
  pattern="[A-Z0-9_]{1,40}"></label>
<datalist id="regions"></datalist>
<label>__T_dealer__<input id="dealer" size="8" placeholder="D001" pattern="[A-Z0-9]{2,12}">
</label>
<label>__T_kpi__<select id="kpi">__OPTIONS__</select></label>
<button>__T_query__</button></form>
<nav><span id="view"></span> <a id="back" href="" hidden>__T_back__</a></nav>
<p id="err" role="alert"></p>
<section id="tiles"></section>
<section class="charts">
<figure><figcaption id="series-title"></figcaption><div id="series-chart" class="chart"></div>
</figure>
<figure id="ranking-box"><figcaption id="ranking-title"></figcaption>
<div id="ranking-chart" class="chart"></div></figure>
</section>
<table id="ranking-table"></table>
<details open><summary>__T_all_kpis__</summary><table id="kpi-table"></table></details>
<details id="recall-box" open><summary>__T_recalls__</summary><table id="recall-table"></table>
</details>
<script id="config" type="application/json">__CONFIG__</script>
<script src="/static/vendor/echarts/echarts.min.js"></script>
<script src="/static/dashboard.js"></script>
</body></html>
"""

# The page and its scripts come from BI alone; data calls go back to BI.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' "
                           "'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
                           "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def page(lang: str = "zh-CN") -> str:
    """The dashboard in one language (zh-CN or en); labels of every KPI included."""
    text, labels = TEXT[lang], KPI_LABELS[lang]
    config = {"lang": lang, "text": text, "labels": labels, "units": UNITS,
              "headline": HEADLINE, "grainLimits": GRAIN_LIMITS}
    options = "".join(f'<option value="{name}">{html.escape(labels[name])}</option>'
                      for name in KPIS)
    other = LANGUAGES[1 - LANGUAGES.index(lang)]
    out = (_PAGE.replace("__LANG__", lang).replace("__TITLE__", html.escape(text["title"]))
           .replace("__OTHER_LANG__", other)
           .replace("__OTHER_LANGUAGE__", html.escape(text["other_language"]))
           .replace("__OPTIONS__", options)
           # "</" inside a script element would end it early.
           .replace("__CONFIG__", json.dumps(config, ensure_ascii=False).replace("</", "<\\/")))
    for key, value in text.items():
        out = out.replace(f"__T_{key}__", html.escape(value))
    return out


# -- static files ----------------------------------------------------------------------------


# The only files /static serves: anything else, `..` included, is not found.
STATIC = StaticFiles("bi", {
    "dashboard.js": ("text/javascript; charset=utf-8", 300),
    "dashboard.css": ("text/css; charset=utf-8", 300),
    # The version is in the file's README and ETag; a day's caching is safe across upgrades.
    "vendor/echarts/echarts.min.js": ("text/javascript; charset=utf-8", 86400),
    "vendor/echarts/LICENSE": ("text/plain; charset=utf-8", 86400),
    "vendor/echarts/NOTICE": ("text/plain; charset=utf-8", 86400),
    "vendor/echarts/LICENSE-d3": ("text/plain; charset=utf-8", 86400),
    "vendor/echarts/LICENSE-zrender": ("text/plain; charset=utf-8", 86400),
    "vendor/echarts/README.md": ("text/markdown; charset=utf-8", 86400),
})


def static_file(path: str) -> StaticFile | None:
    """A whitelisted file of the package's `static/` folder, or None."""
    return STATIC.find(path)
