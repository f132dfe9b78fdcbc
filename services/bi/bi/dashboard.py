"""The headquarters dashboard: one page (zh-CN with English beside) over the KPI API.

The page itself holds no data; it calls `/kpis` and `/rankings` with the token the user
pastes, so the API's role checks apply unchanged.
"""

from __future__ import annotations

import html
import json

from bi.kpis import KPIS

LABELS: dict[str, str] = {
    "ro_count": "进厂台次 RO count",
    "ros_delivered": "交车台次 ROs delivered",
    "ros_customer_pay": "客户付费台次 customer-pay ROs",
    "ros_warranty": "保修台次 warranty ROs",
    "ros_internal": "内部台次 internal ROs",
    "revenue": "产值 revenue",
    "revenue_customer_pay": "客户付费产值 customer-pay revenue",
    "revenue_warranty": "保修产值 warranty revenue",
    "revenue_internal": "内部产值 internal revenue",
    "hours_per_ro": "单车工时 hours per RO",
    "effective_labour_rate": "有效工时单价 effective labour rate",
    "technician_efficiency": "技师效率 technician efficiency",
    "quote_approval_rate": "报价通过率 (项) quote approval (lines)",
    "quote_approval_rate_value": "报价通过率 (金额) quote approval (value)",
    "declined_work_recapture": "拒修再转化率 declined-work recapture",
    "parts_fill_rate": "配件满足率 parts fill rate",
    "appointment_show_rate": "预约到店率 appointment show rate",
    "on_time_delivery": "准时交车率 on-time delivery",
    "comeback_rate": "返修率 comeback rate",
    "qc_rework_rate": "质检返工率 QC rework rate",
    "csi": "满意度 CSI",
    "nps": "净推荐值 NPS",
    "reminder_booking_rate": "提醒预约转化率 reminder → booking",
    "reminder_arrival_rate": "提醒到店转化率 reminder → arrival",
    "lead_arrival_rate": "线索到店率 lead → arrival",
    "cycle_time_booking_to_reception": "预约→接车 (小时) booking → reception (h)",
    "cycle_time_reception_to_inspection": "接车→环检 (小时) reception → inspection (h)",
    "cycle_time_inspection_to_approval": "环检→确认 (小时) inspection → approval (h)",
    "cycle_time_approval_to_work_done": "确认→完工 (小时) approval → work done (h)",
    "cycle_time_work_done_to_qc": "完工→质检 (小时) work done → QC (h)",
    "cycle_time_qc_to_delivery": "质检→交车 (小时) QC → delivery (h)",
}

_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>售后 KPI 看板 · After-sales KPI dashboard</title>
<style>
body{font-family:system-ui,"PingFang SC","Microsoft YaHei",sans-serif;margin:1.5rem;color:#222}
label{margin-right:1rem}input,select,button{font:inherit;margin-left:.3rem}
table{border-collapse:collapse;margin-top:1rem}td,th{border:1px solid #ccc;padding:.3rem .6rem}
td.v{text-align:right;font-variant-numeric:tabular-nums}#err{color:#b00}
</style></head><body>
<h1>售后 KPI 看板 <small>After-sales KPI dashboard</small></h1>
<form id="q">
<label>令牌 Token<input id="token" type="password" size="30" required></label>
<label>从 From<input id="from" type="date" required></label>
<label>到 To<input id="to" type="date" required></label>
<label>经销商 Dealer<input id="dealer" size="8" placeholder="D001"></label>
<label>区域 Region<input id="region" size="10"></label>
<label>排名指标 Rank by<select id="kpi">__OPTIONS__</select></label>
<button>查询 Query</button></form>
<p id="err"></p>
<table id="kpis"></table>
<table id="ranking"></table>
<script>
const LABELS = __LABELS__;
const $ = id => document.getElementById(id);
const cell = v => v === null ? "—" : v;
const today = new Date().toISOString().slice(0, 10);
$("to").value = today; $("from").value = today.slice(0, 8) + "01";
$("token").value = sessionStorage.getItem("bi-token") || "";
async function get(path, params) {
  const q = new URLSearchParams(Object.entries(params).filter(([, v]) => v));
  const r = await fetch(path + "?" + q, {headers: {Authorization: "Bearer " + $("token").value}});
  const body = await r.json();
  if (!r.ok) throw new Error(r.status + " " + (body.message || ""));
  return body;
}
$("q").addEventListener("submit", async ev => {
  ev.preventDefault(); $("err").textContent = "";
  sessionStorage.setItem("bi-token", $("token").value);
  const range = {from: $("from").value, to: $("to").value};
  try {
    const k = await get("/kpis", {...range, dealer: $("dealer").value, region: $("region").value});
    $("kpis").innerHTML = "<tr><th>指标 KPI</th><th>值 Value</th></tr>" + Object.entries(k.kpis)
      .map(([n, v]) => `<tr><td>${LABELS[n] || n}</td><td class="v">${cell(v)}</td></tr>`).join("");
    $("ranking").innerHTML = "";
    if (!$("dealer").value) {
      const r = await get("/rankings", {...range, kpi: $("kpi").value, region: $("region").value});
      $("ranking").innerHTML = `<tr><th>名次 Rank</th><th>经销商 Dealer</th><th>区域 Region</th>
        <th>${LABELS[r.kpi]}</th></tr>` + r.items.map(i => `<tr><td>${cell(i.rank)}</td>
        <td>${i.dealer_code} ${i.name || ""}</td><td>${i.region}</td>
        <td class="v">${cell(i.value)}</td></tr>`).join("");
    }
  } catch (e) { $("err").textContent = "出错 Error: " + e.message; }
});
</script></body></html>
"""


def page() -> str:
    options = "".join(f'<option value="{name}">{html.escape(LABELS.get(name, name))}</option>'
                      for name in KPIS)
    return (_PAGE.replace("__OPTIONS__", options)
            .replace("__LABELS__", json.dumps(LABELS, ensure_ascii=False)))
