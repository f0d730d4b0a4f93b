"use strict";
// The mmcot run report. Plain DOM, no framework; every text from the run goes in as textContent.
// Static mode filters the inlined problems in memory; serve mode asks /api/problems for each page.
(function () {
  const DATA = JSON.parse(document.getElementById("mmcot-data").textContent);
  const S = DATA.summary;
  const FILTERS = ["band", "outcome", "reason", "source"];
  const FOLD_CHARS = 600;
  const state = { band: "", outcome: "", reason: "", source: "", q: "", offset: 0 };

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined || c === "") continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }
  const fmt = (v, digits = 3) => (v === null || v === undefined ? "–" : typeof v === "number" && !Number.isInteger(v) ? v.toFixed(digits) : String(v));
  const q3 = (q) => [q.p10, q.p50, q.p90].map((v) => fmt(v, 1)).join(" / ");

  function folded(text, cls) {
    const box = el("div", { class: "text " + (cls || "") }, text);
    if (text.length <= FOLD_CHARS) return box;
    box.classList.add("folded");
    const more = el("button", { type: "button", class: "more" }, `show all (${text.length} characters)`);
    more.addEventListener("click", () => {
      const open = box.classList.toggle("folded");
      more.textContent = open ? `show all (${text.length} characters)` : "fold";
    });
    return el("div", {}, box, more);
  }

  // ---- header, funnel, bands ----
  function renderRun() {
    const r = S.run;
    document.title = `mmcot report: ${r.name || r.run_id}`;
    document.getElementById("run").append(
      el("h1", {}, `${r.name || "run"} — ${S.counts.read} read, ${S.counts.kept} kept`),
      el("div", { class: "meta" }, `run ${r.run_id} · ${r.created_at} · ${fmt(r.wall_time_s, 0)} s · config ${String(r.config_hash || "").slice(0, 12)} · `,
        el("code", {}, r.command || ""), ` · ${r.out_dir}`));
  }

  function reasonLink(outcome, reason, count) {
    return el("a", { class: "reason", href: "#problems-section", "data-outcome": outcome, "data-reason": reason,
      onclick: (ev) => { ev.preventDefault(); setFilters({ outcome, reason }); } },
      `${outcome} ${reason}`, el("span", { class: "n" }, `(${count})`));
  }

  function renderFunnel() {
    const table = document.getElementById("funnel");
    table.append(el("tr", {}, el("th", {}, "step"), el("th", { class: "num" }, "problems"), el("th", {}, "removed on the way (click to list them)")));
    for (const step of S.funnel) {
      const count = step.name === "kept"
        ? el("a", { class: "reason", href: "#problems-section", "data-outcome": "kept", onclick: (ev) => { ev.preventDefault(); setFilters({ outcome: "kept" }); } }, String(step.remaining))
        : String(step.remaining);
      table.append(el("tr", { "data-step": step.name }, el("td", {}, step.name), el("td", { class: "num count" }, count),
        el("td", {}, step.removed.map((r) => reasonLink(r.outcome, r.reason, r.count)))));
    }
    const c = S.counts;
    document.getElementById("accounting").append(
      `Accounting: read (${c.read}) = kept (${c.kept}) + dropped (${c.dropped}) + dead-lettered (${c.dead_lettered}) `,
      el("b", { class: c.balanced ? "ok" : "bad" }, c.balanced ? "holds" : "DOES NOT HOLD"),
      `. Chains: ${fmt(S.stats.chains)} (${fmt(S.stats.chains_correct)} correct, ${fmt(S.stats.chains_truncated)} truncated).`);
  }

  function renderBands() {
    const table = document.getElementById("bands");
    if (!S.bands.length) { table.replaceWith(el("p", { class: "empty" }, "No chains were generated.")); return; }
    const cols = ["band", "mean difficulty", "problems", "chains", "correct", "truncated", "repaired", "pass rate", "kept", "tokens p10/p50/p90 (all)", "tokens p10/p50/p90 (kept)"];
    table.append(el("tr", {}, cols.map((c, i) => el("th", { class: i ? "num" : "" }, c))));
    for (const b of S.bands) {
      const cells = [b.difficulty_mean, b.problems, b.chains, b.correct_chains, b.truncated_chains, b.repaired_chains, b.pass_rate, b.kept, q3(b.tokens_all), q3(b.tokens_kept)];
      table.append(el("tr", { "data-band": b.name },
        el("td", {}, el("a", { class: "reason", href: "#problems-section", onclick: (ev) => { ev.preventDefault(); setFilters({ band: b.name }); } }, b.name)),
        cells.map((v) => el("td", { class: "num" }, fmt(v)))));
    }
    const plots = document.getElementById("plots");
    for (const p of S.plots) if (p.src) plots.append(el("img", { src: p.src, alt: p.path, title: p.path }));
  }

  function renderSample() {
    const s = S.sample;
    document.getElementById("sampled").textContent = s.whole
      ? `Every problem of the run (${s.problems}).`
      : `A sample of ${s.problems} of the run's ${s.read} problems: ${s.method} (output.sample_problems: ${s.limit}, plus one of each set). ` +
        "Filters and search apply to the sample; the funnel and bands above count every problem.";
  }

  // ---- filters ----
  const form = document.getElementById("filters");
  function renderFilterOptions() {
    const labels = { outcome: { kept: "kept", dropped: "dropped", "dead-lettered": "dead-lettered", unaccounted: "unaccounted" } };
    for (const f of FILTERS) {
      const select = form.elements[f];
      select.append(el("option", { value: "" }, `all (${S.problems})`));
      for (const [value, n] of Object.entries(S.facets[f] || {})) select.append(el("option", { value }, `${(labels[f] || {})[value] || value} (${n})`));
      select.addEventListener("change", () => setFilters({ [f]: select.value }, true));
    }
    let timer = null;
    form.elements.q.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(() => setFilters({ q: form.elements.q.value }, true), 200); });
    document.getElementById("clear").addEventListener("click", () => setFilters({ band: "", outcome: "", reason: "", source: "", q: "" }));
  }

  function setFilters(changes, keepOthers) {
    if (!keepOthers) for (const f of [...FILTERS, "q"]) state[f] = "";
    Object.assign(state, changes);
    state.offset = 0;
    for (const f of FILTERS) {
      const select = form.elements[f];
      if (state[f] && ![...select.options].some((o) => o.value === state[f])) select.append(el("option", { value: state[f] }, state[f]));
      select.value = state[f];
    }
    form.elements.q.value = state.q;
    const shown = new URLSearchParams(Object.entries(state).filter(([k, v]) => v && k !== "offset"));
    history.replaceState(null, "", shown.toString() ? `#${shown}` : location.pathname + location.search);
    refresh(!keepOthers);
  }

  function matches(p) {
    if (FILTERS.some((f) => state[f] && p[f] !== state[f])) return false;
    const q = state.q.toLowerCase();
    return !q || p.question.toLowerCase().includes(q) || p.id.toLowerCase().includes(q);
  }

  async function query() {
    if (DATA.mode === "static") {
      const chosen = DATA.problems.filter(matches);
      return { total: chosen.length, problems: chosen.slice(state.offset, state.offset + DATA.page_size) };
    }
    const params = new URLSearchParams({ offset: state.offset, limit: DATA.page_size });
    for (const f of [...FILTERS, "q"]) if (state[f]) params.set(f, state[f]);
    const resp = await fetch(`api/problems?${params}`);
    if (!resp.ok) throw new Error(`api/problems: HTTP ${resp.status}`);
    return resp.json();
  }

  let generation = 0;
  async function refresh(scroll) {
    const mine = ++generation;
    const page = await query();
    if (mine !== generation) return;  // a newer request superseded this one
    const list = document.getElementById("problems");
    list.replaceChildren(...(page.problems.length ? page.problems.map(renderProblem) : [el("p", { class: "empty" }, "No problem matches these filters.")]));
    const last = Math.min(state.offset + page.problems.length, page.total);
    document.getElementById("status").textContent = page.total ? `problems ${state.offset + 1}–${last} of ${page.total}` : "0 problems";
    document.getElementById("status").dataset.total = page.total;
    for (const b of document.querySelectorAll(".pager .prev")) b.disabled = state.offset === 0;
    for (const b of document.querySelectorAll(".pager .next")) b.disabled = last >= page.total;
    if (scroll) document.getElementById("problems-section").scrollIntoView();
  }
  for (const b of document.querySelectorAll(".pager .prev")) b.addEventListener("click", () => { state.offset = Math.max(0, state.offset - DATA.page_size); refresh(true); });
  for (const b of document.querySelectorAll(".pager .next")) b.addEventListener("click", () => { state.offset += DATA.page_size; refresh(true); });

  // ---- one problem ----
  function dl(pairs) {
    return el("dl", {}, pairs.filter(([, v]) => v !== null && v !== undefined && v !== "" && !(Array.isArray(v) && !v.length))
      .map(([k, v]) => [el("dt", {}, k), el("dd", {}, v instanceof Node ? v : typeof v === "object" ? JSON.stringify(v) : typeof v === "string" && v.length > FOLD_CHARS ? folded(v) : fmt(v))]));
  }

  function renderChains(chains) {
    if (!chains.length) return el("p", { class: "empty" }, "No chains: the problem left before the teacher was asked.");
    const table = el("table", { class: "chains" }, el("tr", {},
      ["#", "plan", "tokens", "finish", "extracted", "verdict", "checks", "marks"].map((c) => el("th", {}, c))));
    for (const c of chains) {
      const v = c.verdict, p = c.plan || {};
      const plan = el("span", { title: `policy ${p.policy || "?"}, prompt ${p.prompt_style || "?"}, first sample ${fmt(p.first_sample)}` },
        `${p.band || "?"} · ≤${fmt(p.max_tokens)} tok, target ${fmt(p.length_budget)} · T ${fmt(p.temperature, 2)}, top-p ${fmt(p.top_p, 2)}, rep ${fmt(p.repetition_penalty, 2)} · ${p.prompt_style || ""}`);
      const checks = Object.entries(v.checks);
      const passed = checks.filter(([, ok]) => ok).map(([k]) => k);
      const checkList = el("span", { class: "checks" }, checks.filter(([, ok]) => !ok).map(([k]) => el("span", { class: "bad" }, `✗ ${k}`)),
        passed.length ? el("span", { class: "ok", title: passed.join(", ") }, `✓ ${passed.length} passed`) : null);
      const marks = [c.kept ? el("span", { class: "badge mark", title: "the chain kept for SFT" }, "★ kept") : null,
        c.provenance !== "teacher" ? el("span", { class: "badge mark" }, c.provenance) : null,
        c.duplicate_of !== null && c.duplicate_of !== undefined ? el("span", { class: "badge mark" }, `duplicate of #${c.duplicate_of}`) : null,
        c.cached ? el("span", { class: "badge" }, "cached") : null];
      table.append(el("tr", { class: c.kept ? "kept-chain" : "", "data-verdict": v.status },
        el("td", {}, fmt(c.sample_index)), el("td", { class: "plan" }, plan), el("td", { class: "num" }, fmt(c.completion_tokens)),
        el("td", {}, c.finish_reason || ""), el("td", {}, v.extracted_answer ?? "–"),
        el("td", {}, el("span", { class: `badge ${v.status}` }, v.status), v.reasons.length ? ` ${v.reasons.join(", ")}` : ""),
        el("td", {}, checkList), el("td", {}, marks)));
      const extra = { ...c.extra, ...(Object.keys(v.extra || {}).length ? { verdict: v.extra } : {}) };
      table.append(el("tr", { class: c.kept ? "kept-chain" : "" }, el("td", { colspan: 8 },
        el("details", {}, el("summary", {}, `chain text (${(c.reasoning + c.answer_text).length} characters)`),
          c.reasoning ? [el("b", {}, "reasoning"), folded(c.reasoning)] : null, el("b", {}, "answer"), folded(c.answer_text),
          Object.keys(extra).length ? dl(Object.entries(extra)) : null))));
    }
    return table;
  }

  function renderProblem(p) {
    const outcome = el("span", { class: `badge ${p.outcome}` }, p.outcome);
    const head = el("div", { class: "head" }, el("span", { class: "pid" }, p.id), outcome,
      p.reason ? el("span", { class: "reason-word" }, p.reason) : null,
      el("span", {}, `source ${p.source}`), p.band ? el("span", {}, `band ${p.band}`) : null,
      el("span", {}, `difficulty ${fmt(p.difficulty)}`), el("span", {}, `pass rate ${fmt(p.pass_rate)} (${p.n_correct}/${p.n_chains})`),
      p.in_rl ? el("span", { class: "badge" }, "RL row") : null,
      p.preference_pairs.length ? el("span", { class: "badge" }, `preference: ${p.preference_pairs.join(", ")}`) : null);
    const images = el("div", { class: "images" }, p.images.map((img, i) => img.src
      ? el("img", { src: img.src, alt: `image ${i} of ${p.id}`, title: `${img.path || ""} ${img.width}×${img.height}` })
      : el("div", { class: "empty" }, img.error || "no image")));
    const survivor = p.survivor_id ? el("a", { class: "reason", href: "#problems-section", onclick: (ev) => { ev.preventDefault(); setFilters({ q: p.survivor_id }); } }, p.survivor_id) : null;
    const facts = el("div", { class: "facts" },
      p.question ? folded(p.question, "question") : el("p", { class: "empty" }, "No question text stored for this problem (the run's rejected rows carry ids only)."),
      dl([["choices", p.choices.length ? p.choices.map((c, i) => `${String.fromCharCode(65 + i)}. ${c}`).join("; ") : null],
        ["gold answer", p.answer], ["answer type", p.answer_type], ["detail", p.detail], ["duplicate of", survivor],
        ["selection", p.selection], ...Object.entries(p.facts), ...Object.entries(p.scores).map(([k, v]) => [k, v])]),
      renderChains(p.chains));
    return el("article", { class: "problem", "data-id": p.id, "data-band": p.band, "data-outcome": p.outcome, "data-reason": p.reason, "data-source": p.source },
      head, el("div", { class: "body" }, p.images.length ? images : null, facts));
  }

  renderRun();
  renderFunnel();
  renderBands();
  renderSample();
  renderFilterOptions();
  const linked = Object.fromEntries([...new URLSearchParams(location.hash.slice(1))].filter(([k]) => k in state && k !== "offset"));
  if (Object.keys(linked).length) setFilters(linked); else refresh(false);
})();
