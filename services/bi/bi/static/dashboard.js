// The headquarters dashboard: KPI tiles, a trend line and a dealer ranking over BI's API.
// Labels, units and the grain rule come from the page (bi/dashboard.py), in its language.
"use strict";
(() => {
  const CFG = JSON.parse(document.getElementById("config").textContent);
  const T = CFG.text, LABELS = CFG.labels;
  const TOKEN_KEY = "bi-token";
  const TOP = 20; // dealers drawn in the ranking chart; the table lists them all
  const $ = id => document.getElementById(id);
  const number = new Intl.NumberFormat(CFG.lang, {maximumFractionDigits: 2});

  // A link such as /dashboard#token=… signs the reader in at once; the fragment never reaches
  // a server log, and is removed from the address bar so it is not copied along.
  const fragment = new URLSearchParams(location.hash.slice(1));
  if (fragment.get("token")) {
    sessionStorage.setItem(TOKEN_KEY, fragment.get("token"));
    history.replaceState(null, "", location.pathname + location.search);
  }
  $("token").value = sessionStorage.getItem(TOKEN_KEY) || "";

  const iso = d => d.toISOString().slice(0, 10);
  function fromUrl() {
    const p = new URLSearchParams(location.search);
    const today = new Date();
    $("to").value = p.get("to") || iso(today);
    $("from").value = p.get("from") || iso(new Date(today.getTime() - 29 * 86400000));
    $("region").value = p.get("region") || "";
    $("dealer").value = p.get("dealer") || "";
    $("kpi").value = p.get("kpi") || "revenue";
  }

  function pageQuery(lang) {
    const q = new URLSearchParams({lang});
    for (const id of ["from", "to", "region", "dealer", "kpi"]) {
      if ($(id).value) q.set(id, $(id).value);
    }
    return "?" + q;
  }

  function remember(push) {
    const url = pageQuery(CFG.lang);
    if (push) history.pushState(null, "", url); else history.replaceState(null, "", url);
    $("language").href = pageQuery(CFG.lang === "en" ? "zh-CN" : "en");
  }

  function grainFor(first, last) {
    const days = (Date.parse(last) - Date.parse(first)) / 86400000 + 1;
    for (const [grain, limit] of CFG.grainLimits) if (days <= limit) return grain;
    return "month";
  }

  const percent = name => CFG.units[name] === "percent";
  const chartValue = (name, v) => v === null ? null : Number(v) * (percent(name) ? 100 : 1);
  function show(name, v) {
    if (v === null || v === undefined) return "—";
    const n = Number(v);
    switch (CFG.units[name]) {
      case "percent": return (n * 100).toFixed(1) + "%";
      case "money": return "¥" + number.format(n);
      case "hours": return number.format(n) + " h";
      default: return number.format(n);
    }
  }
  const region = code => code === "UNASSIGNED" ? T.unassigned : code;

  function el(tag, props, ...children) {
    const node = Object.assign(document.createElement(tag), props || {});
    node.append(...children.map(c => c instanceof Node ? c : String(c)));
    return node;
  }

  async function get(path, params) {
    const q = new URLSearchParams(Object.entries(params).filter(([, v]) => v));
    const answer = await fetch(path + "?" + q,
      {headers: {Authorization: "Bearer " + $("token").value.trim()}});
    const body = await answer.json().catch(() => ({}));
    if (!answer.ok) {
      const fields = body.fields ? " (" + Object.keys(body.fields).join(", ") + ")" : "";
      throw new Error(`${answer.status} ${body.message || ""}${fields}`);
    }
    return body;
  }

  const seriesChart = echarts.init($("series-chart"));
  const rankingChart = echarts.init($("ranking-chart"));
  window.addEventListener("resize", () => { seriesChart.resize(); rankingChart.resize(); });
  rankingChart.on("click", p => openDealer(p.name));

  function renderTiles(values, selected) {
    $("tiles").replaceChildren(...CFG.headline.map(name => {
      const tile = el("div", {className: "tile" + (name === selected ? " selected" : ""),
                              title: LABELS[name]},
        el("div", {className: "label"}, LABELS[name]),
        el("div", {className: "value"}, show(name, values[name])));
      tile.dataset.kpi = name;
      tile.addEventListener("click", () => { $("kpi").value = name; load(true); });
      return tile;
    }));
  }

  function renderKpiTable(values) {
    $("kpi-table").replaceChildren(
      el("thead", null, el("tr", null, el("th", null, T.kpi_name), el("th", null, T.value))),
      el("tbody", null, ...Object.keys(LABELS).map(name => el("tr", null,
        el("td", null, LABELS[name]), el("td", {className: "v"}, show(name, values[name]))))));
  }

  function renderSeries(name, items, grain, range) {
    $("series-title").textContent = `${T.series} · ${LABELS[name]} (${T[grain]})`;
    seriesChart.setOption({
      tooltip: {trigger: "axis", valueFormatter: v => {
        const n = Array.isArray(v) ? v[1] : v;
        if (n === null || n === undefined) return T.no_data;
        return percent(name) ? n.toFixed(1) + "%" : number.format(n);
      }},
      grid: {left: 64, right: 24, top: 24, bottom: 40},
      // A time axis: periods without data keep their width instead of being closed up.
      xAxis: {type: "time", min: range.from, max: range.to},
      yAxis: {type: "value", axisLabel: {formatter: v => percent(name) ? v + "%" :
        number.format(v)}},
      series: [{type: "line", name: LABELS[name], areaStyle: {opacity: 0.08},
                showSymbol: items.length <= 60,
                data: items.map(i => [i.period, chartValue(name, i.value)])}],
    }, true);
  }

  function renderRanking(name, items) {
    const ranked = items.filter(i => i.rank !== null).slice(0, TOP);
    $("ranking-title").textContent =
      `${T.ranking} · ${LABELS[name]} (${T.top.replace("{n}", ranked.length)})`;
    rankingChart.setOption({
      tooltip: {trigger: "axis", axisPointer: {type: "shadow"}},
      grid: {left: 64, right: 32, top: 8, bottom: 24},
      xAxis: {type: "value", axisLabel: {formatter: v => percent(name) ? v + "%" :
        number.format(v)}},
      yAxis: {type: "category", inverse: true, data: ranked.map(i => i.dealer_code)},
      series: [{type: "bar", name: LABELS[name], cursor: "pointer",
                data: ranked.map(i => chartValue(name, i.value))}],
    }, true);
    const rows = items.map(i => {
      const row = el("tr", {title: T.dealer_view},
        el("td", {className: "v"}, i.rank === null ? "—" : i.rank),
        el("td", null, `${i.dealer_code} ${i.name || ""}`), el("td", null, region(i.region)),
        el("td", {className: "v"}, show(name, i.value)));
      row.addEventListener("click", () => openDealer(i.dealer_code));
      return row;
    });
    $("ranking-table").replaceChildren(
      el("thead", null, el("tr", null, el("th", null, T.rank), el("th", null, T.dealer),
                           el("th", null, T.region), el("th", null, LABELS[name]))),
      el("tbody", null, ...rows));
  }

  // Each campaign's completion, then its regions' and dealers' (indented), as percentages.
  function renderRecalls(items) {
    const pct = v => v === null ? T.no_data : (Number(v) * 100).toFixed(1) + "%";
    const line = (name, c, cls) => el("tr", {className: cls}, el("td", null, name),
      el("td", {className: "v"}, c.cars), el("td", {className: "v"}, c.completed),
      el("td", {className: "v"}, pct(c.completion_rate)));
    $("recall-table").replaceChildren(
      el("thead", null, el("tr", null, el("th", null, T.campaign), el("th", null, T.cars),
                           el("th", null, T.completed), el("th", null, T.completion_rate))),
      el("tbody", null, ...items.flatMap(c => [
        line(`${c.campaign_code} ${c.title}`, c, "campaign"),
        ...c.regions.map(r => line(`${T.region} ${region(r.region)}`, r, "sub")),
        ...c.dealers.map(d => line(`${T.dealer} ${d.dealer_code}`, d, "sub"))])));
  }

  function openDealer(code) {
    $("dealer").value = code;
    load(true);
  }

  let regionsLoaded = false;
  async function loadRegions() {
    if (regionsLoaded) return;
    try { // analysts may list dealers; a dealer manager may not, and needs no region list
      const found = new Set((await get("/dealers", {})).items.map(d => d.region));
      $("regions").replaceChildren(...[...found].sort().map(r => el("option", {value: r})));
      regionsLoaded = true;
    } catch (e) { /* the field stays a free text box */ }
  }

  async function load(push) {
    $("err").textContent = "";
    remember(push);
    const token = $("token").value.trim();
    if (!token) { $("err").textContent = T.need_token; return; }
    sessionStorage.setItem(TOKEN_KEY, token);
    const range = {from: $("from").value, to: $("to").value};
    const dealer = $("dealer").value.trim(), kpi = $("kpi").value;
    const grain = grainFor(range.from, range.to);
    const scope = dealer ? {...range, dealer} : {...range, region: $("region").value.trim()};
    $("view").textContent = dealer ? `${T.dealer_view}: ${dealer}` :
      T.hq + (scope.region ? ` · ${T.region} ${region(scope.region)}` : "");
    $("back").hidden = !dealer;
    $("ranking-box").hidden = $("ranking-table").hidden = Boolean(dealer);
    $("recall-box").hidden = Boolean(dealer);
    try {
      const [k, s, r] = await Promise.all([
        get("/kpis", scope), get("/series", {...scope, kpi, grain}),
        dealer ? null : get("/rankings", {...range, region: scope.region, kpi})]);
      renderTiles(k.kpis, kpi);
      renderKpiTable(k.kpis);
      renderSeries(kpi, s.items, grain, range);
      if (r) renderRanking(kpi, r.items);
      if (!dealer) loadRegions();
      // Analysts only: anyone else keeps the rest of the page without the recalls.
      if (!dealer) get("/recall-completion", {}).then(c => renderRecalls(c.items),
                                                      () => { $("recall-box").hidden = true; });
    } catch (e) {
      $("err").textContent = `${T.error}: ${e.message}`;
    }
  }

  $("q").addEventListener("submit", ev => { ev.preventDefault(); load(true); });
  $("back").addEventListener("click", ev => {
    ev.preventDefault(); $("dealer").value = ""; load(true);
  });
  window.addEventListener("popstate", () => { fromUrl(); load(false); });
  fromUrl();
  if ($("token").value) load(false); else remember(false);
})();
