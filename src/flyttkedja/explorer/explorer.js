// The planner's scenario explorer: programmes composed in the page, evaluated by evaluate.js.
//
// Reads its data from <script id="explorer-data"> (model.json's counts, labels in English and
// Swedish, the scenario's programmes), draws into <div id="explorer">, and charts with the
// plotly.js inlined in the file (<script id="plotly-js">, unpacked here or by the report's
// loader). No request is made. Sets <html data-explorer="ready"> (or "failed") when drawn, and
// exposes window.flyttkedja = {evaluate, toToml, parseToml, state, render, ready}.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const root = document.documentElement;
  const MAX_PROGRAMMES = 4;
  const COLOURS = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a"];
  const GROSS = "moves_gross_per_100_new";
  const ADJUSTED = "moves_adjusted_per_100_new";  // the model's gross × the run's ratio (evaluation.py)
  const RATIO = "displacement_ratio";
  const ROUNDS_MEASURE = "below_median_share_by_round";
  const data = JSON.parse($("explorer-data").textContent);
  const C = data.constants;
  const model = new window.FlyttkedjaModel(data.model, C);
  const hasIncome = model.probabilities().B !== null;  // rounds into below-median-income areas
  const host = $("explorer");
  const embedded = host.dataset.embedded === "1";  // a section of the report: its headings are one level down
  const H = embedded ? "h3" : "h2";
  // The scenario run's net figures belong to the programmes as run: each starting programme keeps them
  // (with its lines as run) while the planner leaves its lines alone.
  const runOf = new WeakMap();
  const linesKey = (p) => { try { return JSON.stringify(model.validate(p).lines.map((l) => { const { written, ...rest } = l; return rest; })); } catch (e) { return null; } };
  const state = {
    lang: data.lang,
    programmes: data.programmes.slice(0, MAX_PROGRAMMES).map((p) => JSON.parse(JSON.stringify(p))),
    // the rounds chart opens on the most deprived area type the model has seen
    roundArea: model.keys.includes("area_type")
      ? (C.area_types.find((a) => model.parts.some((p) => p[model.keys.indexOf("area_type")] === a)) || C.area_types[0])
      : C.area_types[0],
    source: data.source, name: data.name,
  };
  state.programmes.forEach((p, i) => { if ((data.runs[i] || []).length) runOf.set(p, { rows: data.runs[i], key: linesKey(p) }); });

  // ------------------------------------------------------------------ words and numbers
  const t = (key) => {
    const words = data.labels[state.lang];
    return Object.prototype.hasOwnProperty.call(words, key) ? words[key] : String(key).replace(/_/g, " ");
  };
  const fmt = (x, digits) => {
    if (x === null || x === undefined || !Number.isFinite(x)) return "–";
    return new Intl.NumberFormat(state.lang === "sv" ? "sv-SE" : "en-GB",
                                 { minimumFractionDigits: digits, maximumFractionDigits: digits }).format(x);
  };
  const withInterval = (row, digits) => (row.lower === null ? fmt(row.estimate, digits)
    : `${fmt(row.estimate, digits)} (${fmt(row.lower, digits)}–${fmt(row.upper, digits)})`);

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "text") e.textContent = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (v !== null && v !== undefined && v !== false) e.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children) if (c !== null && c !== undefined) e.append(c);
    return e;
  }

  // ------------------------------------------------------------------ the model's answer
  function evaluate(programme) { return model.evaluate(programme); }

  function evaluateAll() {
    return state.programmes.map((p) => {
      try { return { ok: evaluate(p) }; } catch (e) {
        if (e instanceof window.FlyttkedjaScenarioError) return { error: e.message };
        throw e;
      }
    });
  }

  const find = (res, measure, group = null, area = "region", line = null) =>
    res.rows.find((r) => r.measure === measure && r.group === group && r.area === area && r.line === line);
  // a line of res whose kind has a displacement ratio the run did not resolve (evaluation.ratio_resolved)
  const unresolved = (res, line = undefined) => res.rows.some((r) => r.measure === RATIO && r.line !== null
    && (line === undefined || r.line === line) && !find(res, ADJUSTED, null, "region", r.line));

  // ------------------------------------------------------------------ TOML (what `flyttkedja scenario run` reads)
  const tomlString = (s) => JSON.stringify(String(s)).replace(/\u007f/g, "\\u007F");
  const tomlValue = (v) => (typeof v === "string" ? tomlString(v) : Array.isArray(v) ? `[${v.map(tomlValue).join(", ")}]`
    : typeof v === "boolean" ? String(v) : Number.isInteger(v) ? String(v) : String(v));

  function toToml(st = state) {
    const out = ["# Written by the flyttkedja explorer; run: flyttkedja scenario run FILE --out DIR",
                 `name = ${tomlString(st.name || "explorer")}`, ""];
    if (st.source) {
      out.push("[source]");
      for (const [k, v] of Object.entries(st.source)) if (v !== null && v !== undefined) out.push(`${k} = ${tomlValue(v)}`);
      out.push("");
    }
    out.push("[model]", `strata = ${tomlValue(model.keys)}`, `shrinkage = ${tomlValue(model.shrinkage)}`, "");
    for (const p of st.programmes) {
      out.push("[[programme]]", `name = ${tomlString(p.name)}`);
      for (const line of p.line) {
        out.push("[[programme.line]]");
        for (const k of C.line_fields) if (line[k] !== undefined && line[k] !== null) out.push(`${k} = ${tomlValue(line[k])}`);
      }
      out.push("");
    }
    return out.join("\n");
  }

  // A reader for the TOML subset scenario files use: tables, arrays of tables, strings, numbers,
  // booleans and arrays of those, comments. Returns the parsed document (plain objects).
  function parseToml(text) {
    const doc = {};
    let cur = doc;
    const lines = text.split(/\r?\n/);
    const value = (src, n) => {
      src = src.trim();
      let m;
      if ((m = src.match(/^"((?:[^"\\]|\\.)*)"/))) return [JSON.parse(`"${m[1]}"`), src.slice(m[0].length)];
      if ((m = src.match(/^'([^']*)'/))) return [m[1], src.slice(m[0].length)];
      if ((m = src.match(/^(true|false)\b/))) return [m[1] === "true", src.slice(m[0].length)];
      if ((m = src.match(/^[+-]?(\d[\d_]*)(\.\d[\d_]*)?([eE][+-]?\d+)?/)) && m[0]) {
        const s = m[0].replace(/_/g, "");
        return [m[2] || m[3] ? parseFloat(s) : parseInt(s, 10), src.slice(m[0].length)];
      }
      if (src.startsWith("[")) {
        const arr = [];
        let rest = src.slice(1).trim();
        while (!rest.startsWith("]")) {
          const [v, after] = value(rest, n);
          arr.push(v);
          rest = after.trim();
          if (rest.startsWith(",")) rest = rest.slice(1).trim();
          else if (!rest.startsWith("]")) throw new Error(`line ${n}: expected , or ] in an array`);
        }
        return [arr, rest.slice(1)];
      }
      throw new Error(`line ${n}: cannot read the value ${src.slice(0, 30)}`);
    };
    const path = (names, array, n) => {
      let obj = doc;
      names.forEach((name, i) => {
        const last = i === names.length - 1;
        if (last && array) {
          if (!Array.isArray(obj[name])) obj[name] = [];
          obj[name].push({});
          obj = obj[name][obj[name].length - 1];
        } else {
          if (obj[name] === undefined) obj[name] = {};
          obj = Array.isArray(obj[name]) ? obj[name][obj[name].length - 1] : obj[name];
          if (typeof obj !== "object") throw new Error(`line ${n}: ${name} is not a table`);
        }
      });
      return obj;
    };
    lines.forEach((raw, i) => {
      const n = i + 1;
      const line = raw.trim();
      if (!line || line.startsWith("#")) return;
      let m;
      if ((m = line.match(/^\[\[\s*([A-Za-z0-9_.\s]+?)\s*\]\]\s*(#.*)?$/))) { cur = path(m[1].split(".").map((s) => s.trim()), true, n); return; }
      if ((m = line.match(/^\[\s*([A-Za-z0-9_.\s]+?)\s*\]\s*(#.*)?$/))) { cur = path(m[1].split(".").map((s) => s.trim()), false, n); return; }
      if ((m = line.match(/^([A-Za-z0-9_-]+)\s*=\s*(.*)$/))) {
        const [v, rest] = value(m[2], n);
        if (rest.trim() && !rest.trim().startsWith("#")) throw new Error(`line ${n}: unexpected ${rest.trim().slice(0, 20)}`);
        cur[m[1]] = v;
        return;
      }
      throw new Error(`line ${n}: not a key = value, [table] or [[table]]`);
    });
    return doc;
  }

  function loadToml(text) {
    const doc = parseToml(text);
    const progs = doc.programme;
    if (!Array.isArray(progs) || !progs.length) throw new Error(t("no_programmes"));
    progs.slice(0, MAX_PROGRAMMES).forEach((p, i) => {
      try { model.validate(p); } catch (e) { throw new Error(e.message.replace("programme[0]", `programme[${i}]`)); }
    });
    state.programmes = progs.slice(0, MAX_PROGRAMMES).map((p) => ({ name: p.name, line: p.line }));
    if (doc.name) state.name = doc.name;
    if (doc.source) state.source = doc.source;
  }

  // ------------------------------------------------------------------ plotly.js (inlined, compressed)
  // plotly.js: unpacked by analysis/plotly_unpack.js (once per page, shared with the report's charts).
  // In the report the bundle comes after this script: wait for the whole page first.
  async function plotlyReady() {
    if (document.readyState === "loading") {
      await new Promise((done) => document.addEventListener("DOMContentLoaded", done, { once: true }));
    }
    return window.flyttkedjaPlotly();
  }

  // ------------------------------------------------------------------ the programme editor
  const OPTIONAL = ["landlord", "building_type", "municipality", "area_type", "target_group"];
  const choices = {
    tenure: C.tenures, landlord: C.landlords, building_type: C.building_types, area_type: C.area_types,
    target_group: C.target_groups, rooms: [1, 2, 3, 4, 5], municipality: data.municipalities,
  };

  function select(pi, li, key, line) {
    const current = line[key] === undefined ? null : line[key];
    const opts = [];
    if (OPTIONAL.includes(key)) opts.push(el("option", { value: "", text: "—" }));
    for (const v of choices[key]) {
      opts.push(el("option", { value: String(v), selected: String(v) === String(current),
                               text: key === "rooms" ? (v === 5 ? "5+" : String(v)) : key === "municipality" ? v : t(v) }));
    }
    const disabled = key === "landlord" && line.tenure !== "rental";
    return el("select", {
      id: `p${pi}-l${li}-${key}`, "data-key": key, "aria-label": t(key), disabled,
      onchange: (ev) => {
        const v = ev.target.value;
        if (v === "") delete line[key];
        else line[key] = key === "rooms" ? parseInt(v, 10) : v;
        if (key === "tenure") {
          const landlord = $(`p${pi}-l${li}-landlord`);
          if (v !== "rental") { delete line.landlord; landlord.value = ""; }
          landlord.disabled = v !== "rental";
        }
        update();
      },
    }, ...opts);
  }

  function editor() {
    const cards = state.programmes.map((p, pi) => {
      const head = el("tr", {}, ...["count", "tenure", "landlord", "rooms", "building_type", "municipality",
                                    "area_type", "allocation", ""].map((k) => el("th", { text: k ? t(k) : "" })));
      const rows = p.line.map((line, li) => el("tr", {},
        el("td", {}, el("input", {
          type: "number", min: "1", step: "1", value: String(line.count), id: `p${pi}-l${li}-count`, "aria-label": t("count"),
          onchange: (ev) => { const n = parseInt(ev.target.value, 10); if (n >= 1) line.count = n; else ev.target.value = String(line.count); update(); },
        })),
        ...["tenure", "landlord", "rooms", "building_type", "municipality", "area_type", "target_group"]
          .map((k) => el("td", {}, select(pi, li, k, line))),
        el("td", {}, el("button", {
          type: "button", class: "x", title: t("remove_line"), id: `p${pi}-l${li}-remove`, disabled: p.line.length < 2,
          onclick: () => { p.line.splice(li, 1); render(); }, text: "×",
        }))));
      return el("div", { class: "card", style: `border-top-color:${COLOURS[pi]}` },
        el("div", { class: "cardhead" },
          el("input", {
            class: "name", id: `p${pi}-name`, value: p.name, "aria-label": t("programme_name"),
            onchange: (ev) => {
              const name = ev.target.value;
              if (name.trim() && !state.programmes.some((q) => q !== p && q.name === name)) p.name = name;
              else ev.target.value = p.name;  // programme names are unique in a scenario file
              update();
            },
          }),
          el("button", { type: "button", id: `p${pi}-remove`, disabled: state.programmes.length < 2,
                         onclick: () => { state.programmes.splice(pi, 1); render(); }, text: t("remove_programme") })),
        el("table", { class: "lines" }, el("thead", {}, head), el("tbody", {}, ...rows)),
        el("button", {
          type: "button", id: `p${pi}-add-line`,
          onclick: () => { p.line.push({ ...p.line[p.line.length - 1] }); render(); }, text: t("add_line"),
        }));
    });
    const add = el("button", {
      type: "button", id: "add-programme", disabled: state.programmes.length >= MAX_PROGRAMMES, text: t("add_programme"),
      onclick: () => {
        const last = state.programmes[state.programmes.length - 1];
        let k = state.programmes.length + 1;
        while (state.programmes.some((p) => p.name === `${t("programme")} ${k}`)) k++;
        state.programmes.push({ name: `${t("programme")} ${k}`, line: JSON.parse(JSON.stringify(last.line)) });
        render();
      },
    });
    return el("section", { id: "programmes" }, el(H, { text: t("programmes") }),
              el("p", { class: "note", text: t("editor_note") }), el("div", { class: "cards" }, ...cards), add);
  }

  // ------------------------------------------------------------------ figures
  function figuresTable(results) {
    const ok = results.map((r) => r.ok || null);
    const head = el("tr", {}, el("th", { text: t("measure") }),
                    ...state.programmes.map((p, i) => el("th", { style: `color:${COLOURS[i]}`, text: p.name })));
    const spec = [["chain_length_mean", null, "region", 2]];
    for (const area of C.areas) spec.push([GROSS, null, area, 0]);
    spec.push([ADJUSTED, null, "region", 0]);
    for (const ten of C.tenures) spec.push([`vacancies_${ten}_per_100_new`, ten, "region", 0]);
    for (const g of model.groups) spec.push([`reached_${g}_per_100_new`, g, "region", 0]);
    const rows = spec.map(([measure, group, area, digits]) => {
      const label = measure === GROSS ? `${t(measure)} · ${t("area_" + area)}` : measure === ADJUSTED ? t(ADJUSTED)
        : measure.startsWith("vacancies_") ? `${t("vacancies")} · ${t(group)}`
        : measure.startsWith("reached_") ? `${t("reached")} · ${t(group)}` : t(measure);
      const cells = ok.map((res, pi) => {
        const row = res && find(res, measure, group, area);
        // never gross under this label; a line whose ratio's interval includes 0 has a ratio row but no adjusted one
        const none = !res || measure !== ADJUSTED ? "–" : unresolved(res) ? t("unresolved_some") : t("no_ratio_some");
        return el("td", { id: `fig-${pi}-${measure}-${area}`, "data-value": row ? String(row.estimate) : null,
                          text: row ? withInterval(row, digits) : none });
      });
      if (measure !== ADJUSTED && ok.every((res) => !res || !find(res, measure, group, area))) return null;
      return el("tr", {}, el("td", { class: "k", text: label }), ...cells);
    }).filter((r) => r !== null);
    if (state.programmes.some((p) => runOf.has(p))) {
      rows.push(el("tr", {}, el("td", { class: "k run", colspan: String(state.programmes.length + 1), text: t("from_run") })));
      for (const measure of ["moves_gross_per_100_new", "moves_net_per_100_new", "displacement_ratio"]) {
        const digits = measure === "displacement_ratio" ? 2 : 0;
        const cells = state.programmes.map((p, pi) => {
          const run = runOf.get(p), row = run && run.rows.find((r) => r.measure === measure);
          const text = !run || !row ? "–" : run.key !== linesKey(p) ? t("changed") : row.suppressed ? ".." : withInterval(row, digits);
          return el("td", { id: `run-${pi}-${measure}`, text });
        });
        rows.push(el("tr", {}, el("td", { class: "k", text: measure === "moves_net_per_100_new" ? t(measure) : t("run_" + measure) }), ...cells));
      }
    }
    return el("table", { class: "figures", id: "figures" }, el("thead", {}, head), el("tbody", {}, ...rows));
  }

  // Gross moves of each line (per 100 of its own dwellings): which line of a programme carries its chains.
  function linesTable(results) {
    const rows = [];
    results.forEach((r, pi) => {
      if (!r.ok) return;
      state.programmes[pi].line.forEach((line, li) => {
        const row = find(r.ok, GROSS, null, "region", String(li + 1));
        const what = [`${line.count}`, t(line.tenure), line.landlord ? t(line.landlord) : null,
                      `${line.rooms === 5 ? "5+" : line.rooms} ${t("rooms")}`, line.building_type ? t(line.building_type) : null,
                      line.municipality || null, line.area_type ? t(line.area_type) : null,
                      line.target_group ? `→ ${t(line.target_group)}` : null].filter((x) => x !== null).join(", ");
        const net = find(r.ok, ADJUSTED, null, "region", String(li + 1)), ratio = find(r.ok, RATIO, null, "region", String(li + 1));
        rows.push(el("tr", {}, el("td", { class: "k", style: `color:${COLOURS[pi]}`, text: state.programmes[pi].name }),
                      el("td", { class: "k", text: what }),
                      el("td", { id: `line-${pi}-${li}-gross`, "data-value": row ? String(row.estimate) : null,
                                 text: row ? withInterval(row, 0) : "–" }),
                      el("td", { id: `line-${pi}-${li}-ratio`, text: ratio ? withInterval(ratio, 2) : t("no_ratio") }),
                      el("td", { id: `line-${pi}-${li}-net`, "data-value": net ? String(net.estimate) : null,
                                 text: net ? withInterval(net, 0) : ratio ? t("unresolved") : t("no_ratio") })));
      });
    });
    return el("details", { id: "by-line" }, el("summary", { text: t("by_line") }),
              el("table", {}, el("thead", {}, el("tr", {}, el("th", { text: t("programme") }), el("th", { text: t("line") }),
                                                   el("th", { text: t(GROSS) }), el("th", { text: t("ratio_line") }),
                                                   el("th", { text: t("net_line") }))),
                 el("tbody", {}, ...rows)));
  }

  function warningsList(results) {
    const items = [], seen = new Set();  // a model-wide warning comes with every programme: list it once
    results.forEach((r, pi) => {
      if (r.error) items.push(el("li", { class: "error", text: `${state.programmes[pi].name}: ${r.error}` }));
      else for (const w of r.ok.warnings) if (!seen.has(w)) { seen.add(w); items.push(el("li", { text: w })); }
    });
    const error = model.modelError();
    const note = error > 0 ? t("interval_model_error").replace("{s}", fmt(100 * error, 1)) : t("no_model_error");
    return el("div", { id: "warnings" }, el("p", { class: "note", text: note }),
              items.length ? el("ul", {}, ...items) : el("p", { class: "note", text: t("no_warnings") }));
  }

  function layout(title, extra) {
    return Object.assign({
      title: { text: title, x: 0, xanchor: "left", font: { size: 15 } }, height: 340, autosize: true,
      separators: state.lang === "sv" ? ", " : ".,", font: { family: 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif', size: 13 },
      margin: { l: 60, r: 20, t: 50, b: 60 }, barmode: "group", hovermode: "closest", paper_bgcolor: "#fff", plot_bgcolor: "#fff",
      legend: { orientation: "h", x: 0, y: -0.2 }, yaxis: { rangemode: "tozero", gridcolor: "#e6e6e6", fixedrange: true },
      xaxis: { fixedrange: true, type: "category" },
    }, extra || {});
  }

  function charts(results) {
    const series = (fn) => results.map((r, pi) => (r.ok ? fn(r.ok, pi) : null)).filter((s) => s !== null);
    // every figure with its 95% interval: error bars, and the interval on hover
    const errors = (rows) => (rows.some((r) => r && r.lower !== null) ? {
      error_y: { type: "data", array: rows.map((r) => (!r || r.upper === null ? 0 : r.upper - r.estimate)),
                 arrayminus: rows.map((r) => (!r || r.lower === null ? 0 : r.estimate - r.lower)), visible: true,
                 color: "#222", thickness: 1, width: 3 },
    } : {});
    const bar = (res, pi, cats, rows, extra, format = ".4~g") => Object.assign({
      type: "bar", name: state.programmes[pi].name, marker: { color: COLOURS[pi] }, x: cats,
      y: rows.map((r) => (r ? r.estimate : null)),
      customdata: rows.map((r) => (r && r.lower !== null ? [r.lower, r.upper] : [null, null])),
      hovertemplate: `%{x}: %{y:${format}} (%{customdata[0]:${format}}–%{customdata[1]:${format}})<extra>%{fullData.name}</extra>`,
    }, errors(rows), extra || {});
    const gross = series((res, pi) => {
      const areas = C.areas.filter((a) => find(res, GROSS, null, a));
      return bar(res, pi, areas.map((a) => t("area_" + a)), areas.map((a) => find(res, GROSS, null, a)));
    });
    const vac = series((res, pi) => bar(res, pi, C.tenures.map(t), C.tenures.map((x) => find(res, `vacancies_${x}_per_100_new`, x))));
    const reach = series((res, pi) => bar(res, pi, model.groups.map(t), model.groups.map((g) => find(res, `reached_${g}_per_100_new`, g))));
    const bins = Array.from({ length: 21 }, (_, k) => (k === 20 ? "20+" : String(k)));
    const length = series((res, pi) => bar(res, pi, bins, bins.map((b) => find(res, "chain_length_share", b)), {}, ".1%"));
    const roundLine = (measure) => series((res, pi) => {
      const rows = [1, 2, 3, 4, 5, 6].map((k) => find(res, measure, String(k)));
      return Object.assign({
        type: "scatter", mode: "lines+markers", name: state.programmes[pi].name, line: { color: COLOURS[pi] },
        x: [1, 2, 3, 4, 5, 6].map(String), y: rows.map((r) => (r ? r.estimate : null)),
        customdata: rows.map((r) => (r && r.lower !== null ? [r.lower, r.upper] : [null, null])),
        hovertemplate: `${t("round")} %{x}: %{y:.1%} (%{customdata[0]:.1%}–%{customdata[1]:.1%})<extra>%{fullData.name}</extra>`,
      }, errors(rows));
    });
    const rounds = roundLine(ROUNDS_MEASURE), roundsArea = roundLine(`vacancies_area_${state.roundArea}_share_by_round`);
    const figs = [
      ["gross", gross, layout(t(GROSS), { yaxis: { title: { text: t("per_100") }, rangemode: "tozero", gridcolor: "#e6e6e6", fixedrange: true } })],
      ["vacancies", vac, layout(t("vacancies_by_tenure"), { yaxis: { title: { text: t("per_100") }, rangemode: "tozero", gridcolor: "#e6e6e6", fixedrange: true } })],
      ["reached", reach, layout(t("reached_by_group"), { yaxis: { title: { text: t("per_100") }, rangemode: "tozero", gridcolor: "#e6e6e6", fixedrange: true } })],
      ["length", length, layout(t("length_distribution"), { xaxis: { title: { text: t("length_moves") }, type: "category", fixedrange: true },
                                                           yaxis: { tickformat: ".0%", rangemode: "tozero", gridcolor: "#e6e6e6", fixedrange: true } })],
    ];
    const share = { tickformat: ".0%", rangemode: "tozero", gridcolor: "#e6e6e6", fixedrange: true };
    if (hasIncome) {
      figs.push(["rounds", rounds, layout(t("rounds_below_title"), {
        xaxis: { title: { text: t("round") }, type: "category", fixedrange: true }, yaxis: share })]);
    }
    if (model.keys.includes("area_type")) {
      figs.push(["rounds_area", roundsArea, layout(`${t("rounds_title")}: ${t(state.roundArea)}`, {
        xaxis: { title: { text: t("round") }, type: "category", fixedrange: true },
        yaxis: { tickformat: ".0%", rangemode: "tozero", gridcolor: "#e6e6e6", fixedrange: true } })]);
    }
    return figs;
  }

  // ------------------------------------------------------------------ the page
  let drawing = Promise.resolve();

  // render(): the whole page (language, programmes or lines added or removed); update(): the results
  // only, so that the control being used stays in place while the planner edits values.
  function render() {
    const toolbar = el("div", { class: "toolbar" },
      el("button", { type: "button", id: "lang-en", disabled: state.lang === "en", onclick: () => { state.lang = "en"; render(); }, text: "English" }),
      el("button", { type: "button", id: "lang-sv", disabled: state.lang === "sv", onclick: () => { state.lang = "sv"; render(); }, text: "Svenska" }),
      el("button", { type: "button", id: "save-toml", text: t("save_toml"), onclick: saveToml }),
      el("label", { class: "button", for: "load-toml", text: t("load_toml") }),
      el("input", { type: "file", id: "load-toml", accept: ".toml,text/plain", hidden: true, onchange: openToml }),
      el("span", { id: "toml-status", class: "note" }));
    host.replaceChildren(...[
      embedded ? null : el("h1", { text: t("explorer_title") }), el("p", { class: "note", text: t("explorer_intro") }), toolbar,
      editor(), el("section", { id: "results" }), el("p", { class: "note", text: t("method_text") })].filter(Boolean));
    if (!embedded) document.documentElement.lang = state.lang;
    return update();
  }

  function update() {
    const results = evaluateAll();
    const figs = charts(results);
    const roundPick = model.keys.includes("area_type") ? el("label", {}, `${t("area_type")}: `,
      el("select", { id: "round-area", onchange: (ev) => { state.roundArea = ev.target.value; update(); } },
         ...C.area_types.map((a) => el("option", { value: a, selected: a === state.roundArea, text: t(a) })))) : null;
    const chartDivs = figs.map(([name]) => el("div", { class: "xchart", id: `xchart-${name}`, "data-chart": name }));
    $("results").replaceChildren(...[el(H, { text: t("results") }), figuresTable(results), linesTable(results), warningsList(results),
      el("div", { class: "xcharts" }, ...chartDivs.slice(0, 4)), ...chartDivs.slice(4).filter((d) => d.dataset.chart === "rounds"),
      roundPick, ...chartDivs.slice(4).filter((d) => d.dataset.chart === "rounds_area")].filter(Boolean));
    drawing = drawing.then(async () => {
      const Plotly = await plotlyReady();
      for (const [name, traces, lay] of figs) {
        const div = $(`xchart-${name}`);
        if (div) await Plotly.react(div, traces, lay, { responsive: true, displaylogo: false, locale: state.lang,
                                                        modeBarButtons: [["toImage"]] });
      }
    });
    return drawing;
  }

  function saveToml() {
    const blob = new Blob([toToml()], { type: "application/toml" });
    const a = el("a", { href: URL.createObjectURL(blob), download: "programmes.toml" });
    document.body.append(a);
    a.click();
    a.remove();
  }

  function openToml(ev) {
    const file = ev.target.files[0];
    if (!file) return;
    file.text().then((text) => {
      try { loadToml(text); render(); $("toml-status").textContent = `${t("loaded")} ${file.name}`; } catch (e) {
        $("toml-status").textContent = `${t("not_loaded")}: ${e.message}`;
      }
    });
  }

  window.flyttkedja = { evaluate, evaluateMany: (ps) => ps.map(evaluate), toToml, parseToml, loadToml, state, render, update, model };
  window.flyttkedja.ready = render().then(() => { root.dataset.explorer = "ready"; }, (e) => {
    root.dataset.explorer = "failed";
    console.error("flyttkedja explorer: charts not drawn:", e);
  });
})();
