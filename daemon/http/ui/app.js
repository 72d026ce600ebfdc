// tracecol web UI: trace list (live) and trace view (waterfall, as_tree, span detail).
// Plain DOM, no dependencies. Every value from the daemon (span names, inputs, ...) is
// attacker-controlled: it only ever reaches the page through textContent / attributes,
// never innerHTML.
'use strict';

(() => {
  const LIST_ROW_H = 32;   // px, matches .trace-row in style.css
  const SPAN_ROW_H = 26;   // px, matches .span-row
  const OVERSCAN = 12;     // rows rendered above and below the visible ones
  const PAGE_SIZE = 200;   // traces per /api/traces request
  const POLL_MS = 3000;    // fallback when /api/stream is unavailable
  const KINDS = ['AGENT', 'LLM', 'TOOL', 'CHAIN', 'TEAM', 'CUSTOM'];

  const $ = (sel) => document.querySelector(sel);

  /** el('div', {class: 'x', text: 'y', 'data-k': v}, child...) — text only, never HTML. */
  function el(tag, props, ...children) {
    const e = document.createElement(tag);
    if (props) {
      for (const [k, v] of Object.entries(props)) {
        if (v === undefined || v === null || v === false) continue;
        if (k === 'class') e.className = v;
        else if (k === 'text') e.textContent = v;
        else if (k === 'title') e.title = v;
        else if (k === 'href') e.setAttribute('href', v);
        else e.setAttribute(k, v === true ? '' : String(v));
      }
    }
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  // ---------------------------------------------------------------- formatting

  function fmtDuration(ms) {
    if (ms === null || ms === undefined || Number.isNaN(ms)) return 'running';
    if (ms < 1) return `${(ms * 1000).toFixed(0)} µs`;
    if (ms < 1000) return `${ms < 10 ? ms.toFixed(2) : ms < 100 ? ms.toFixed(1) : ms.toFixed(0)} ms`;
    const s = ms / 1000;
    if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)} s`;
    const m = Math.floor(s / 60);
    return `${m}m ${String(Math.round(s - m * 60)).padStart(2, '0')}s`;
  }

  function fmtTime(epochSeconds) {
    if (epochSeconds === null || epochSeconds === undefined) return '—';
    const d = new Date(epochSeconds * 1000);
    const now = new Date();
    const hms = `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}:` +
      `${String(d.getSeconds()).padStart(2, '0')}.${String(d.getMilliseconds()).padStart(3, '0')}`;
    if (d.toDateString() === now.toDateString()) return hms;
    // The year only when it is not this one: "11-25 02:00:00.005" fits the list's column.
    const md = `${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
    return d.getFullYear() === now.getFullYear() ? `${md} ${hms}` : `${d.getFullYear()}-${md} ${hms}`;
  }

  function shortId(id) { return id ? id.replace(/^0+(?=[0-9a-f]{8})/, '') : ''; }

  function kindClass(kind) {
    const k = String(kind || 'CUSTOM').toUpperCase();
    return KINDS.includes(k) ? `kind-${k.toLowerCase()}` : 'kind-custom';
  }

  async function getJson(url) {
    const r = await fetch(url, { headers: { Accept: 'application/json' } });
    let body = null;
    try { body = await r.json(); } catch (_) { /* not JSON */ }
    if (!r.ok) throw new Error((body && body.error) || `HTTP ${r.status}`);
    return body;
  }

  // ---------------------------------------------------------------- virtual list

  /**
   * Renders only the rows inside (and near) the viewport of a scrolling box that holds a
   * .vspacer (sized to all rows) and a .vrows layer. renderRow(index) returns an element.
   */
  class VirtualList {
    constructor(box, rowHeight, renderRow, onRange) {
      this.box = box;
      this.rowHeight = rowHeight;
      this.renderRow = renderRow;
      this.onRange = onRange || (() => {});
      this.spacer = box.querySelector('.vspacer');
      this.rows = box.querySelector('.vrows');
      this.count = 0;
      this.queued = false;
      box.addEventListener('scroll', () => this.schedule(), { passive: true });
      window.addEventListener('resize', () => this.schedule());
    }
    setCount(n) {
      this.count = n;
      this.spacer.style.height = `${n * this.rowHeight}px`;
      this.render();
    }
    schedule() {
      if (this.queued) return;
      this.queued = true;
      requestAnimationFrame(() => { this.queued = false; this.render(); });
    }
    render() {
      const top = this.box.scrollTop;
      const height = this.box.clientHeight || 600;
      const first = Math.max(0, Math.floor(top / this.rowHeight) - OVERSCAN);
      const last = Math.min(this.count, Math.ceil((top + height) / this.rowHeight) + OVERSCAN);
      const out = [];
      for (let i = first; i < last; i++) {
        const row = this.renderRow(i);
        row.style.transform = `translateY(${i * this.rowHeight}px)`;
        out.push(row);
      }
      this.rows.replaceChildren(...out);
      this.onRange(first, last);
    }
    scrollToRow(i) {
      const top = i * this.rowHeight;
      const bottom = top + this.rowHeight;
      if (top < this.box.scrollTop) this.box.scrollTop = top;
      else if (bottom > this.box.scrollTop + this.box.clientHeight) this.box.scrollTop = bottom - this.box.clientHeight;
    }
  }

  // ---------------------------------------------------------------- trace list

  const list = {
    items: [],          // summaries, newest first
    byId: new Map(),    // trace_id -> summary
    cursor: null,
    done: false,
    loading: false,
    generation: 0,      // bumped when the filters change; stale answers are dropped
    error: '',
    view: null,
  };

  function filterParams() {
    const p = new URLSearchParams();
    const text = (id) => $(id).value.trim();
    if (text('#f-q')) p.set('q', text('#f-q'));
    if (text('#f-run')) p.set('run_id', text('#f-run'));
    if (text('#f-name')) p.set('name', text('#f-name'));
    if ($('#f-kind').value) p.set('kind', $('#f-kind').value);
    if (text('#f-min') && Number(text('#f-min')) > 0) p.set('min_duration_ms', text('#f-min'));
    if ($('#f-error').checked) p.set('error', 'true');
    return p;
  }

  /** A summary (as /api/traces gives) from a whole trace record (as /api/stream gives). */
  function summaryOf(trace) {
    const spans = trace.spans || [];
    const root = spans.find((s) => !s.parent_id) || spans[0];
    return {
      trace_id: trace.trace_id,
      run_id: trace.run_id ?? null,
      name: root ? root.name : '',
      span_count: trace.span_count ?? spans.length,
      error_count: trace.error_count ?? spans.filter((s) => s.error !== null && s.error !== undefined).length,
      started_at: trace.started_at ?? null,
      duration_ms: trace.duration_ms ?? null,
      complete: !!trace.complete,
    };
  }

  function listRow(i) {
    const t = list.items[i];
    const errors = t.error_count > 0;
    const running = t.duration_ms === null || t.duration_ms === undefined;
    const cls = ['trace-row', errors ? 'error' : '', running ? 'running' : '', i % 2 ? 'odd' : ''];
    const row = el('a', {
      class: cls.filter(Boolean).join(' '), href: `#/traces/${t.trace_id}`, role: 'listitem',
      'data-trace-id': t.trace_id, title: `trace ${t.trace_id}`,
    },
    el('span', { class: `dot ${errors ? 'dot-error' : running ? 'dot-running' : 'dot-ok'}` }),
    el('span', { class: 'time', text: fmtTime(t.started_at),
      title: t.started_at == null ? '' : new Date(t.started_at * 1000).toISOString() }),
    el('span', { class: 'name', text: t.name || '(unnamed)' }),
    el('span', { class: 'run', text: t.run_id || '' }),
    el('span', { class: 'num', text: t.span_count }),
    el('span', { class: `num errors${errors ? ' has-errors' : ''}`, text: errors ? t.error_count : '' }),
    el('span', { class: 'num dur', text: fmtDuration(t.duration_ms) }));
    if (t.arrived) {
      const age = performance.now() - t.arrived;
      if (age < 2500) {
        row.classList.add('fresh');
        row.style.animationDelay = `${-age}ms`;
      }
    }
    return row;
  }

  function updateListStatus() {
    const n = list.items.length;
    let text;
    if (list.error) text = `Could not load traces: ${list.error}`;
    else if (list.loading && n === 0) text = 'Loading…';
    else if (n === 0) text = 'No traces match. Agents send spans to the Unix socket; see protocol/PROTOCOL.md.';
    else if (list.done) text = `${n} trace${n === 1 ? '' : 's'}`;
    else text = `${n}+ traces loaded · scroll for more`;
    const status = $('#list-status');
    status.textContent = text;
    status.dataset.count = String(n);
    status.dataset.done = String(list.done);
  }

  async function loadPage() {
    if (list.loading || list.done) return;
    list.loading = true;
    const generation = list.generation;
    updateListStatus();
    const p = filterParams();
    p.set('limit', String(PAGE_SIZE));
    if (list.cursor) p.set('cursor', list.cursor);
    try {
      const page = await getJson(`/api/traces?${p}`);
      if (generation !== list.generation) return;
      list.error = '';
      for (const t of page.traces || []) {
        if (list.byId.has(t.trace_id)) continue;  // arrived live meanwhile
        list.byId.set(t.trace_id, t);
        list.items.push(t);
      }
      list.cursor = page.next_cursor || null;
      list.done = !page.next_cursor;
    } catch (e) {
      if (generation !== list.generation) return;
      list.error = e.message;
      list.done = true;
    } finally {
      if (generation === list.generation) list.loading = false;
    }
    list.view.setCount(list.items.length);
    updateListStatus();
  }

  /** New traces go on top (keeping what the reader looks at in place); known ones update. */
  function upsertTraces(summaries) {
    const box = $('#trace-list');
    let added = 0;
    for (let k = summaries.length - 1; k >= 0; k--) {
      const t = summaries[k];
      const known = list.byId.get(t.trace_id);
      if (known) {
        Object.assign(known, t);
        continue;
      }
      t.arrived = performance.now();
      list.byId.set(t.trace_id, t);
      list.items.unshift(t);
      added++;
    }
    if (added && box.scrollTop > 0) box.scrollTop += added * LIST_ROW_H;
    list.view.setCount(list.items.length);
    updateListStatus();
  }

  function resetList() {
    list.generation++;
    list.items = [];
    list.byId = new Map();
    list.cursor = null;
    list.done = false;
    list.loading = false;
    list.error = '';
    $('#trace-list').scrollTop = 0;
    list.view.setCount(0);
    loadPage();
    connectLive();
  }

  // ---------------------------------------------------------------- live updates

  const live = { source: null, pollTimer: 0, mode: 'connecting' };

  function setLive(mode, text) {
    live.mode = mode;
    const badge = $('#live-status');
    badge.dataset.mode = mode;
    badge.textContent = text || mode;
  }

  function onTraceEvent(ev) {
    let trace;
    try { trace = JSON.parse(ev.data); } catch (_) { return; }
    if (!trace || typeof trace.trace_id !== 'string' || trace.follow_up) return;
    upsertTraces([summaryOf(trace)]);
    // The trace on screen finished or changed: reload it (and its tree text) in place.
    if (current.trace && current.trace.trace_id === trace.trace_id && !$('#trace-view').hidden) openTrace(current.id);
  }

  function connectLive() {
    if (live.source) live.source.close();
    clearInterval(live.pollTimer);
    live.pollTimer = 0;
    const p = filterParams();
    p.set('events', 'trace');
    const source = new EventSource(`/api/stream?${p}`);
    live.source = source;
    setLive('connecting');
    source.addEventListener('open', () => setLive('live'));
    source.addEventListener('trace', onTraceEvent);
    source.addEventListener('error', () => {
      if (live.source !== source) return;
      if (source.readyState === EventSource.CLOSED) {
        // No stream here (an older daemon, a proxy that buffers): poll the first page.
        source.close();
        live.source = null;
        setLive('polling');
        live.pollTimer = setInterval(poll, POLL_MS);
      } else {
        setLive('reconnecting');
      }
    });
  }

  async function poll() {
    const generation = list.generation;
    const p = filterParams();
    p.set('limit', '50');
    try {
      const page = await getJson(`/api/traces?${p}`);
      if (generation === list.generation) upsertTraces(page.traces || []);
    } catch (_) { /* next tick tries again */ }
  }

  // ---------------------------------------------------------------- trace view

  const current = { id: '', trace: null, spans: [], t0: 0, total: 1, selected: -1, view: null, request: 0 };

  function fact(label, value, cls) {
    return el('span', { class: `fact ${cls || ''}` }, el('span', { class: 'fact-label', text: label }), String(value));
  }

  function spanEnd(s) { return s.ended_at === null || s.ended_at === undefined ? null : s.ended_at; }

  function layoutTrace(trace) {
    const spans = trace.spans || [];
    let t0 = Infinity;
    let t1 = -Infinity;
    for (const s of spans) {
      if (typeof s.started_at === 'number') { t0 = Math.min(t0, s.started_at); t1 = Math.max(t1, s.started_at); }
      const end = spanEnd(s);
      if (typeof end === 'number') t1 = Math.max(t1, end);
    }
    if (!Number.isFinite(t0)) { t0 = 0; t1 = 0; }
    // An open trace runs until now (or at least until its last known instant).
    if (spans.some((s) => spanEnd(s) === null)) t1 = Math.max(t1, Math.min(Date.now() / 1000, t1 + 3600));
    current.t0 = t0;
    current.total = Math.max(t1 - t0, 1e-6);
  }

  function renderAxis() {
    const ticks = $('#axis-ticks');
    const out = [];
    for (let k = 0; k <= 4; k++) {
      const tick = el('span', { class: 'tick', text: k === 0 ? '0' : fmtDuration((current.total * 1000 * k) / 4) });
      tick.style.left = `${k * 25}%`;
      out.push(tick);
    }
    ticks.replaceChildren(...out);
  }

  function spanRow(i) {
    const s = current.spans[i];
    const end = spanEnd(s);
    const running = end === null;
    const failed = s.error !== null && s.error !== undefined;
    const depth = s.depth || 0;
    const start = ((s.started_at - current.t0) / current.total) * 100;
    const stop = running ? 100 : ((end - current.t0) / current.total) * 100;
    const cls = ['span-row', kindClass(s.kind), failed ? 'error' : '', running ? 'running' : '',
      i === current.selected ? 'selected' : '', s.orphan ? 'orphan' : '', s.late ? 'late' : ''];
    const label = el('span', { class: 'span-label' },
      el('span', { class: 'kind-chip', text: String(s.kind || 'CUSTOM') }),
      el('span', { class: 'span-name', text: s.name || '(unnamed)' }),
      depth > 24 ? el('span', { class: 'depth-note', text: `depth ${depth}` }) : null);
    label.style.paddingLeft = `${6 + Math.min(depth, 24) * 14}px`;
    const bar = el('span', { class: 'bar' });
    bar.style.left = `${Math.max(0, Math.min(start, 100))}%`;
    bar.style.width = `${Math.max(stop - start, 0.15)}%`;
    const durText = running ? 'running' : fmtDuration(s.duration_ms ?? (end - s.started_at) * 1000);
    const dur = el('span', { class: 'bar-label', text: durText });
    if (start > 70) { dur.classList.add('before'); dur.style.right = `${100 - start}%`; } else dur.style.left = `${Math.min(stop, 100)}%`;
    const row = el('div', {
      class: cls.filter(Boolean).join(' '), role: 'listitem', 'data-index': i, 'data-span-id': s.span_id,
      'data-depth': depth, title: `${s.name || ''} (${s.kind || 'CUSTOM'})${failed ? ' — error' : ''}`,
    }, label, el('span', { class: 'timeline' }, bar, dur));
    return row;
  }

  // ---- span detail

  /** A collapsible JSON tree built from DOM nodes (textContent only). */
  function jsonTree(value, key, depth) {
    const keyNode = key === undefined ? null : el('span', { class: 'json-key', text: `${key}: ` });
    if (value !== null && typeof value === 'object') {
      const isArray = Array.isArray(value);
      const entries = isArray ? value.map((v, i) => [i, v]) : Object.entries(value);
      const summary = isArray ? `[…] ${entries.length} item${entries.length === 1 ? '' : 's'}`
        : `{…} ${entries.length} key${entries.length === 1 ? '' : 's'}`;
      if (entries.length === 0) {
        return el('div', { class: 'json-line' }, keyNode, el('span', { class: 'json-punct', text: isArray ? '[]' : '{}' }));
      }
      const details = el('details', { class: 'json-node', open: depth < 2 },
        el('summary', null, keyNode, el('span', { class: 'json-punct', text: summary })));
      const children = el('div', { class: 'json-children' });
      const shown = entries.slice(0, 500);
      for (const [k, v] of shown) children.append(jsonTree(v, k, depth + 1));
      if (entries.length > shown.length) {
        children.append(el('div', { class: 'json-more', text: `… ${entries.length - shown.length} more` }));
      }
      details.append(children);
      return details;
    }
    let cls = 'json-null';
    let text = 'null';
    if (typeof value === 'string') { cls = 'json-string'; text = JSON.stringify(value); }
    else if (typeof value === 'number') { cls = 'json-number'; text = String(value); }
    else if (typeof value === 'boolean') { cls = 'json-bool'; text = String(value); }
    return el('div', { class: 'json-line' }, keyNode, el('span', { class: cls, text }));
  }

  function detailSection(title, cls, value, absentText) {
    const section = el('section', { class: `detail-section ${cls}` }, el('h3', { text: title }));
    if (value === undefined) section.append(el('p', { class: 'muted', text: absentText }));
    else section.append(el('div', { class: 'json' }, jsonTree(value, undefined, 0)));
    return section;
  }

  function renderDetail() {
    const panel = $('#span-detail');
    const s = current.spans[current.selected];
    if (!s) {
      panel.replaceChildren(el('p', { class: 'hint', text: 'Select a span to see its inputs, outputs, metadata and error.' }));
      return;
    }
    const failed = s.error !== null && s.error !== undefined;
    const end = spanEnd(s);
    const head = el('div', { class: 'detail-head' },
      el('span', { class: `kind-chip ${kindClass(s.kind)}`, text: s.kind || 'CUSTOM' }),
      el('h2', { class: 'detail-name', text: s.name || '(unnamed)' }));
    const facts = el('dl', { class: 'detail-facts' });
    const add = (k, v) => facts.append(el('dt', { text: k }), el('dd', { text: v }));
    add('span_id', s.span_id);
    add('parent_id', s.parent_id || '— (root)');
    add('status', failed ? 'error' : end === null ? 'running' : 'ok');
    add('started', fmtTime(s.started_at));
    add('duration', end === null ? 'running' : fmtDuration(s.duration_ms ?? (end - s.started_at) * 1000));
    add('depth', String(s.depth || 0));
    if (s.run_id) add('run_id', s.run_id);
    if (s.orphan) add('orphan', 'parent never arrived');
    if (s.late) add('late', 'arrived after export');
    const parts = [head, facts];
    if (failed) {
      parts.push(el('section', { class: 'detail-section detail-error' },
        el('h3', { text: 'Error' }), el('pre', { class: 'error-text', text: String(s.error) || '(empty message)' })));
    }
    parts.push(detailSection('Inputs', 'detail-inputs', s.inputs, 'none'));
    parts.push(detailSection('Outputs', 'detail-outputs', s.outputs, 'absent'));
    parts.push(detailSection('Metadata', 'detail-metadata', s.metadata, 'none'));
    panel.replaceChildren(...parts);
    panel.dataset.spanId = s.span_id;
  }

  function select(i) {
    if (i < 0 || i >= current.spans.length) return;
    current.selected = i;
    current.view.scrollToRow(i);
    current.view.render();
    renderDetail();
  }

  function showMessage(text) {
    const m = $('#trace-message');
    m.textContent = text || '';
    m.hidden = !text;
  }

  /** Renders a trace record; keeps the selected span (by id) when the same trace updates. */
  function showTraceData(trace, treeText) {
    const previous = current.spans[current.selected];
    current.trace = trace;
    current.spans = trace.spans || [];
    current.selected = previous ? current.spans.findIndex((s) => s.span_id === previous.span_id) : -1;
    layoutTrace(trace);
    const summary = summaryOf(trace);
    $('#trace-title').textContent = summary.name || '(unnamed trace)';
    const facts = [
      fact('trace', trace.trace_id, 'mono'),
      summary.run_id ? fact('run', summary.run_id) : null,
      fact('started', fmtTime(summary.started_at)),
      fact('duration', fmtDuration(summary.duration_ms)),
      fact('spans', summary.span_count),
      fact('errors', summary.error_count, summary.error_count > 0 ? 'bad' : ''),
      el('span', { class: `badge ${trace.complete ? 'ok' : 'warn'}`, text: trace.complete ? 'complete' : 'incomplete' }),
    ];
    $('#trace-facts').replaceChildren(...facts.filter(Boolean));
    $('#span-count').textContent = `${current.spans.length} span${current.spans.length === 1 ? '' : 's'}`;
    $('#trace-view').classList.toggle('has-errors', summary.error_count > 0);
    renderAxis();
    current.view.setCount(current.spans.length);
    if (treeText !== null) $('#tree-text').textContent = treeText;
    renderDetail();
  }

  async function openTrace(id) {
    const request = ++current.request;
    if (current.id !== id) {
      current.id = id;
      current.trace = null;
      current.spans = [];
      current.selected = -1;
      $('#waterfall').scrollTop = 0;
      current.view.setCount(0);
      $('#trace-title').textContent = 'Loading…';
      $('#trace-facts').replaceChildren();
      $('#tree-text').textContent = '';
      renderDetail();
    }
    showMessage('');
    try {
      const [trace, tree] = await Promise.all([
        getJson(`/api/traces/${encodeURIComponent(id)}`),
        fetch(`/api/traces/${encodeURIComponent(id)}/tree`).then((r) => (r.ok ? r.text() : '')),
      ]);
      if (request !== current.request) return;
      showTraceData(trace, tree);
      document.title = `${summaryOf(trace).name || 'trace'} · tracecol`;
    } catch (e) {
      if (request !== current.request) return;
      $('#trace-title').textContent = 'Trace not available';
      showMessage(`${e.message} — the store keeps only recent traces; this one may have been evicted.`);
    }
  }

  function setTab(tree) {
    $('#tab-waterfall').classList.toggle('active', !tree);
    $('#tab-tree').classList.toggle('active', tree);
    $('#waterfall-pane').hidden = tree;
    $('#tree-pane').hidden = !tree;
    if (!tree) current.view.render();
  }

  // ---------------------------------------------------------------- routing

  function route() {
    const m = /^#\/traces\/([0-9a-fA-F]{1,32})\/?$/.exec(location.hash);
    if (m) {
      $('#list-view').hidden = true;
      $('#trace-view').hidden = false;
      openTrace(m[1].toLowerCase());
    } else {
      $('#trace-view').hidden = true;
      $('#list-view').hidden = false;
      document.title = 'tracecol';
      current.request++;
      list.view.render();
    }
  }

  function init() {
    list.view = new VirtualList($('#trace-list'), LIST_ROW_H, listRow, (first, last) => {
      if (!list.done && last >= list.items.length - OVERSCAN * 2) loadPage();
    });
    current.view = new VirtualList($('#waterfall'), SPAN_ROW_H, spanRow);

    let debounce = 0;
    const changed = () => { clearTimeout(debounce); debounce = setTimeout(resetList, 250); };
    $('#filters').addEventListener('input', changed);
    $('#filters').addEventListener('change', changed);
    $('#filters').addEventListener('submit', (e) => { e.preventDefault(); clearTimeout(debounce); resetList(); });
    $('#f-clear').addEventListener('click', () => { $('#filters').reset(); clearTimeout(debounce); resetList(); });

    $('#waterfall').addEventListener('click', (e) => {
      const row = e.target.closest('.span-row');
      if (row) select(Number(row.dataset.index));
    });
    $('#waterfall').addEventListener('keydown', (e) => {
      if (e.key === 'ArrowDown' || e.key === 'j') { select(Math.min(current.selected + 1, current.spans.length - 1)); e.preventDefault(); }
      if (e.key === 'ArrowUp' || e.key === 'k') { select(Math.max(current.selected - 1, 0)); e.preventDefault(); }
    });
    $('#tab-waterfall').addEventListener('click', () => setTab(false));
    $('#tab-tree').addEventListener('click', () => setTab(true));
    window.addEventListener('hashchange', route);

    loadPage();
    connectLive();
    route();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
