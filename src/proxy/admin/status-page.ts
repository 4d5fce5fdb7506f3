/**
 * The status page served at `/` by the admin listener: one self-contained HTML document (inline CSS and
 * script, no CDN, no external request but its own `/api/status`), embedded here as strings so that the
 * TypeScript build ships it without an asset-copy step.
 *
 * The page polls `/api/status` every 2 seconds and renders rules with their targets (state colours,
 * addresses in monospace), targets that left recently as "gone", request rates per rule and per backend
 * as inline SVG charts from the server-side samples, the recent traffic health per rule and per backend
 * (status classes, error rates, p50/p99 latency, 403s by reason; failing rows in red), each target's
 * last error with its time, recent events and the trusted keys with their scopes and live sessions.
 * Backend colours come from a fixed palette, then golden-angle hues, so that they stay distinct however
 * many backends there are. Every value from
 * the API is inserted with `textContent` (agent ids and meta come from the network), and the content
 * security policy allows only this script and style, by hash. When the API answers 401 the page asks for
 * an admin token and keeps it in `sessionStorage` for the tab.
 *
 * The script is written without template literals so that it can live inside this module's strings.
 */
import { createHash } from 'node:crypto';

const STYLE = String.raw`
:root {
  --bg: #f6f7f9; --panel: #ffffff; --text: #1d2330; --muted: #6b7385; --line: #e3e6ec; --soft: #f0f2f5;
  --ready: #1f9d55; --draining: #d68a00; --ejected: #d93f3f; --gone: #9aa1ad; --accent: #3b6fd8;
  --mono: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #14171c; --panel: #1b1f26; --text: #e3e7ee; --muted: #8d95a5; --line: #2a303a; --soft: #222731;
    --ready: #3ccf7c; --draining: #f0b429; --ejected: #f26d6d; --gone: #6b7280; --accent: #7aa2ff;
  }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--text); font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
header { display: flex; flex-wrap: wrap; align-items: center; gap: 12px 24px; padding: 14px 24px; background: var(--panel); border-bottom: 1px solid var(--line); }
header h1 { margin: 0; font-size: 18px; font-weight: 650; letter-spacing: .2px; }
header h1 span { color: var(--muted); font-weight: 400; }
.pill { display: inline-flex; align-items: center; gap: 6px; padding: 3px 10px; border-radius: 999px; font-weight: 600; font-size: 12px; background: var(--soft); }
.pill::before { content: ""; width: 8px; height: 8px; border-radius: 50%; background: currentColor; }
.pill.ok { color: var(--ready); } .pill.bad { color: var(--ejected); } .pill.wait { color: var(--draining); }
.facts { display: flex; flex-wrap: wrap; gap: 6px 18px; color: var(--muted); font-size: 13px; }
.facts b { color: var(--text); font-weight: 600; }
.updated { margin-left: auto; font-size: 12px; color: var(--muted); }
.mono, code { font-family: var(--mono); font-size: 12.5px; }
main { display: grid; grid-template-columns: minmax(0, 3fr) minmax(300px, 2fr); gap: 18px; padding: 18px 24px 32px; max-width: 1500px; margin: 0 auto; }
@media (max-width: 980px) { main { grid-template-columns: minmax(0, 1fr); } }
section { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 14px 16px; margin-bottom: 18px; }
section h2 { margin: 0 0 10px; font-size: 13px; text-transform: uppercase; letter-spacing: .08em; color: var(--muted); font-weight: 650; }
.rule { border: 1px solid var(--line); border-radius: 8px; margin: 10px 0; overflow: hidden; }
.rule-head { display: flex; align-items: center; justify-content: space-between; gap: 10px; padding: 8px 12px; background: var(--soft); }
.rule-head .mono { font-size: 14px; font-weight: 600; }
.badge { font-size: 12px; font-weight: 600; padding: 2px 8px; border-radius: 999px; }
.badge.ok { color: var(--ready); background: color-mix(in srgb, var(--ready) 14%, transparent); }
.badge.bad { color: var(--ejected); background: color-mix(in srgb, var(--ejected) 14%, transparent); }
table { width: 100%; border-collapse: collapse; }
th, td { text-align: left; padding: 6px 12px; border-top: 1px solid var(--line); vertical-align: top; }
th { font-size: 11px; text-transform: uppercase; letter-spacing: .06em; color: var(--muted); font-weight: 600; border-top: 0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.state { display: inline-flex; align-items: center; gap: 6px; font-weight: 600; }
.state::before { content: ""; width: 9px; height: 9px; border-radius: 50%; background: currentColor; }
.state.ready { color: var(--ready); } .state.draining { color: var(--draining); } .state.ejected, .state.unhealthy { color: var(--ejected); } .state.gone { color: var(--gone); }
tr.gone td { color: var(--gone); }
tr.note td { border-top: 0; padding-top: 0; }
.small { font-size: 11px; }
th.num { text-align: right; }
.err { color: var(--ejected); font-size: 12.5px; }
.muted { color: var(--muted); }
.empty { color: var(--muted); padding: 10px 2px; }
.chart { margin: 4px 0 14px; }
.chart h3 { margin: 0 0 4px; font-size: 13px; font-weight: 600; }
.chart svg { width: 100%; height: 150px; display: block; }
.chart .axis { stroke: var(--line); stroke-width: 1; }
.chart .tick { fill: var(--muted); font: 10px var(--mono); }
.legend { display: flex; flex-wrap: wrap; gap: 4px 14px; font-size: 12px; color: var(--muted); }
.legend i { display: inline-block; width: 10px; height: 3px; border-radius: 2px; margin-right: 5px; vertical-align: middle; }
.legend b { color: var(--text); font-weight: 600; font-variant-numeric: tabular-nums; }
.health h3 { margin: 12px 0 4px; font-size: 13px; font-weight: 600; }
.health h3:first-of-type { margin-top: 0; }
.health td, .health th { padding: 5px 8px; }
td.num, th.num, .nowrap { white-space: nowrap; }
.health tr[data-health="failing"] td { background: color-mix(in srgb, var(--ejected) 9%, transparent); }
.health tr[data-health="failing"] td.rate, .rate.failing { color: var(--ejected); font-weight: 650; }
.health tr[data-health="degraded"] td.rate, .rate.degraded { color: var(--draining); font-weight: 600; }
.health tr[data-health="idle"] td { color: var(--muted); }
.swatch { display: inline-block; width: 9px; height: 9px; border-radius: 2px; margin-right: 6px; vertical-align: middle; }
.badge.warn { color: var(--draining); background: color-mix(in srgb, var(--draining) 14%, transparent); }
.figures { font-size: 12px; color: var(--muted); font-variant-numeric: tabular-nums; margin-left: auto; margin-right: 10px; }
.figures b { color: var(--text); font-weight: 600; }
.refused { display: flex; gap: 14px; font-size: 12.5px; color: var(--muted); margin-top: 8px; }
.refused b { color: var(--text); }
ol.events { list-style: none; margin: 0; padding: 0; max-height: 460px; overflow: auto; }
ol.events li { display: grid; grid-template-columns: 64px 118px 1fr; gap: 8px; padding: 5px 0; border-top: 1px solid var(--line); font-size: 13px; }
ol.events li:first-child { border-top: 0; }
.ev { font-size: 11.5px; font-weight: 600; }
.ev.add { color: var(--ready); } .ev.remove { color: var(--draining); } .ev.bad { color: var(--ejected); } .ev.info { color: var(--accent); }
#auth { display: none; gap: 8px; align-items: center; }
#auth input { font: 12px var(--mono); width: 340px; max-width: 60vw; padding: 5px 8px; border: 1px solid var(--line); border-radius: 6px; background: var(--bg); color: var(--text); }
#auth button { padding: 5px 12px; border: 0; border-radius: 6px; background: var(--accent); color: #fff; font-weight: 600; cursor: pointer; }
`;

const SCRIPT = String.raw`
(function () {
  'use strict';
  var POLL_MS = 2000;
  var GONE_MS = 10 * 60 * 1000;
  var COLORS = ['#3b6fd8', '#1f9d55', '#d68a00', '#b4479b', '#0e9aa7', '#d93f3f', '#7a5af5', '#6b8e23'];
  // A backend fails when this share of its answers are 5xx (or cut) over the window; any error degrades.
  var FAILING_RATE = 0.05;
  var SVG = 'http://www.w3.org/2000/svg';
  var timer = null;

  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function svg(tag, attrs) {
    var node = document.createElementNS(SVG, tag);
    for (var key in attrs) if (Object.prototype.hasOwnProperty.call(attrs, key)) node.setAttribute(key, String(attrs[key]));
    return node;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }
  function ago(iso) {
    if (!iso) return '';
    var s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    if (s < 60) return s + 's ago';
    if (s < 3600) return Math.floor(s / 60) + 'm ago';
    if (s < 86400) return Math.floor(s / 3600) + 'h ' + Math.floor((s % 3600) / 60) + 'm ago';
    return Math.floor(s / 86400) + 'd ago';
  }
  function clock(iso) { var d = new Date(iso); return d.toTimeString().slice(0, 8); }
  // The first eight names get the hand-picked palette; after it, hues step by the golden angle (137.5°)
  // with alternating lightness, so that neighbours stay far apart however many names there are.
  function colorAt(index) {
    if (index < COLORS.length) return COLORS[index];
    var k = index - COLORS.length;
    return 'hsl(' + ((k * 137.508 + 17) % 360).toFixed(1) + ', 62%, ' + (k % 2 === 0 ? 46 : 60) + '%)';
  }
  function colorOf(name, names) { var i = names.indexOf(name); return colorAt(i < 0 ? names.length : i); }
  function pct(v) { return v === 0 ? '0%' : v < 0.001 ? '<0.1%' : v >= 0.995 ? Math.round(v * 100) + '%' : (v * 100).toFixed(v < 0.1 ? 1 : 0) + '%'; }
  function ms(v) { return v === undefined || v === null ? '–' : v >= 1000 ? (v / 1000).toFixed(v >= 10000 ? 0 : 1) + ' s' : v >= 10 ? Math.round(v) + ' ms' : v.toFixed(1) + ' ms'; }
  function health(f) {
    if (!f || f.requests === 0) return 'idle';
    if (f.failureRate >= FAILING_RATE) return 'failing';
    return f.errorRate > 0 ? 'degraded' : 'ok';
  }
  function span(windowMs) { var s = Math.round(windowMs / 1000); return s < 120 ? s + ' s' : Math.round(s / 60) + ' min'; }
  function rate(v) { return v === 0 ? '0' : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2); }

  function headers() {
    var token = sessionStorage.getItem('inteli-admin-token');
    return token ? { authorization: 'Bearer ' + token } : {};
  }

  function poll() {
    fetch('api/status', { headers: headers(), cache: 'no-store' }).then(function (res) {
      if (res.status === 401 || res.status === 403) {
        $('auth').style.display = 'flex';
        setPill('wait', res.status === 401 ? 'Token required' : 'Not an admin key');
        return null;
      }
      if (!res.ok) throw new Error('HTTP ' + res.status);
      $('auth').style.display = 'none';
      return res.json();
    }).then(function (report) {
      if (report) render(report);
    }).catch(function () {
      setPill('bad', 'Unreachable');
    }).then(function () {
      timer = setTimeout(poll, POLL_MS);
    });
  }

  function setPill(kind, text) { var pill = $('ready'); pill.className = 'pill ' + kind; pill.textContent = text; }

  function render(r) {
    setPill(r.proxy.ready ? 'ok' : 'bad', r.proxy.ready ? 'Ready' : 'Not ready (' + r.proxy.state + ')');
    var facts = clear($('facts'));
    var listeners = Object.keys(r.proxy.listeners);
    for (var i = 0; i < listeners.length; i++) {
      var f = el('span', null, listeners[i] + ' ');
      f.appendChild(el('b', 'mono', r.proxy.listeners[listeners[i]]));
      facts.appendChild(f);
    }
    var extra = [['in flight', r.proxy.inFlight], ['tunnels', r.proxy.tunnels], ['sessions', r.sessions.length], ['up', ago(r.proxy.startedAt).replace(' ago', '')]];
    for (var j = 0; j < extra.length; j++) {
      var g = el('span', null, extra[j][0] + ' ');
      g.appendChild(el('b', null, extra[j][1]));
      facts.appendChild(g);
    }
    $('updated').textContent = 'updated ' + clock(r.generatedAt);
    var names = backendNames(r);
    renderRules(r);
    renderCharts(r.rates, names);
    renderHealth(r.traffic, names);
    renderEvents(r.events);
    renderKeys(r.keys);
    renderFleet(r.fleet);
  }

  // Every backend name the page colours, sorted, so that one backend has one colour in every part.
  function backendNames(r) {
    var names = [];
    function add(n) { if (names.indexOf(n) < 0) names.push(n); }
    r.rates.samples.forEach(function (s) { Object.keys(s.backends).forEach(add); });
    if (r.traffic) Object.keys(r.traffic.backends).forEach(add);
    return names.sort();
  }

  function healthTable(figures, kind, names) {
    var table = el('table');
    var hr = el('tr');
    var classes = [];
    Object.keys(figures).forEach(function (n) { Object.keys(figures[n].classes).forEach(function (c) { if (classes.indexOf(c) < 0) classes.push(c); }); });
    // 2xx, 4xx and 5xx always; 3xx, cut and aborted only when some row has them, to keep the table narrow.
    classes = ['2xx', '3xx', '4xx', '5xx', 'cut', 'aborted'].filter(function (c) {
      if (classes.indexOf(c) < 0) return false;
      return c === '2xx' || c === '4xx' || c === '5xx' || Object.keys(figures).some(function (n) { return figures[n].classes[c] > 0; });
    });
    var head = [[kind === 'rule' ? 'Rule' : 'Backend'], ['Requests', 'num']].concat(classes.map(function (c) { return [c, 'num']; }), [['Errors', 'num'], ['p50', 'num'], ['p99', 'num']]);
    if (kind === 'rule') head.push(['No target', 'num']);
    head.forEach(function (h) { hr.appendChild(el('th', h[1], h[0])); });
    table.appendChild(hr);
    var keys = Object.keys(figures).sort();
    if (keys.length === 0) {
      var none = el('tr'); var cell = el('td', 'empty', 'No traffic yet.'); cell.colSpan = head.length; none.appendChild(cell); table.appendChild(none);
    }
    keys.forEach(function (n) {
      var f = figures[n];
      var tr = el('tr');
      var h = health(f);
      tr.setAttribute('data-' + kind, n);
      tr.setAttribute('data-health', h);
      var name = el('td', kind === 'rule' ? 'mono' : null);
      if (kind === 'backend') { var sw = el('i', 'swatch'); sw.style.background = colorOf(n, names); name.appendChild(sw); }
      name.appendChild(document.createTextNode(n));
      if (h === 'failing') { name.appendChild(document.createTextNode(' ')); name.appendChild(el('span', 'badge bad', 'failing')); }
      tr.appendChild(name);
      tr.appendChild(el('td', 'num', f.requests));
      classes.forEach(function (c) { tr.appendChild(el('td', 'num' + (c !== '2xx' && c !== '3xx' && f.classes[c] ? ' rate' : ''), f.classes[c] || 0)); });
      var errors = el('td', 'num rate', pct(f.errorRate));
      errors.title = pct(f.failureRate) + ' 5xx or cut';
      tr.appendChild(errors);
      tr.appendChild(el('td', 'num', ms(f.p50Ms)));
      tr.appendChild(el('td', 'num', ms(f.p99Ms)));
      if (kind === 'rule') tr.appendChild(el('td', 'num' + (f.noTarget ? ' rate' : ''), f.noTarget));
      table.appendChild(tr);
    });
    return table;
  }

  function renderHealth(t, names) {
    var box = clear($('health'));
    if (!t) return;
    $('health-window').textContent = 'last ' + span(t.windowMs);
    box.appendChild(el('h3', null, 'By rule'));
    box.appendChild(healthTable(t.rules, 'rule', names));
    box.appendChild(el('h3', null, 'By backend'));
    box.appendChild(healthTable(t.backends, 'backend', names));
    var refused = el('div', 'refused');
    refused.appendChild(document.createTextNode('Answered by the proxy: '));
    [['no route', t.refused.NO_ROUTE], ['no target', t.refused.NO_TARGET], ['loop (508)', t.refused.LOOP_DETECTED], ['tunnel limit (503)', t.refused.TUNNEL_LIMIT]].forEach(function (x) {
      if (x[1] === undefined) return;
      var s = el('span', null, x[0] + ' ');
      s.appendChild(el('b', null, x[1]));
      refused.appendChild(s);
    });
    box.appendChild(refused);
  }

  function goneByRule(r) {
    var live = {};
    r.rules.forEach(function (rule) { rule.targets.forEach(function (t) { live[t.backendId] = true; live[rule.rule + '|' + t.agentId + '|' + t.origin] = true; }); });
    var byRule = {};
    var seen = {};
    r.removed.forEach(function (ev) {
      if (live[ev.backendId] || Date.now() - Date.parse(ev.time) > GONE_MS) return;
      (ev.rules || []).forEach(function (rule) {
        (ev.origins || []).forEach(function (origin) {
          var key = rule + '|' + ev.agentId + '|' + origin;
          if (live[key] || seen[key]) return;
          seen[key] = true;
          (byRule[rule] = byRule[rule] || []).push({ agentId: ev.agentId, origin: origin, reason: ev.reason, time: ev.time, backendId: ev.backendId });
        });
      });
    });
    return byRule;
  }

  function renderRules(r) {
    var box = clear($('rules'));
    var gone = goneByRule(r);
    var rules = r.rules.slice();
    Object.keys(gone).forEach(function (name) {
      if (!rules.some(function (rule) { return rule.rule === name; })) rules.push({ rule: name, readyTargets: 0, targets: [] });
    });
    rules.sort(function (a, b) { return a.rule < b.rule ? -1 : a.rule > b.rule ? 1 : 0; });
    if (rules.length === 0) { box.appendChild(el('div', 'empty', 'No rules yet: no backend has registered.')); return; }
    rules.forEach(function (rule) {
      var card = el('div', 'rule');
      card.setAttribute('data-rule', rule.rule);
      var head = el('div', 'rule-head');
      head.appendChild(el('span', 'mono', rule.rule));
      var f = r.traffic && r.traffic.rules[rule.rule];
      if (f && f.requests > 0) {
        var figs = el('span', 'figures');
        var h = health(f);
        card.setAttribute('data-health', h);
        figs.appendChild(document.createTextNode(f.requests + ' req · errors '));
        figs.appendChild(el('b', 'rate ' + h, pct(f.errorRate)));
        figs.appendChild(document.createTextNode(' · p50 ' + ms(f.p50Ms) + ' · p99 ' + ms(f.p99Ms)));
        head.appendChild(figs);
        if (h === 'failing') head.appendChild(el('span', 'badge bad', 'failing: ' + pct(f.failureRate) + ' 5xx'));
      }
      var total = rule.targets.length;
      head.appendChild(el('span', 'badge ' + (rule.readyTargets > 0 ? 'ok' : 'bad'), rule.readyTargets > 0 ? rule.readyTargets + ' / ' + total + ' ready' : 'no ready target (403)'));
      card.appendChild(head);
      var table = el('table');
      var hr = el('tr');
      [['State'], ['Backend'], ['Target'], ['Weight', 'num'], ['In flight', 'num'], ['Since']].forEach(function (h) { hr.appendChild(el('th', h[1], h[0])); });
      table.appendChild(hr);
      rule.targets.forEach(function (t) {
        var tr = el('tr');
        tr.setAttribute('data-agent', t.agentId);
        tr.setAttribute('data-state', t.state);
        var st = el('td'); st.appendChild(el('span', 'state ' + t.state, t.state)); tr.appendChild(st);
        var who = el('td', null, t.agentId);
        if (t.fingerprint) { var fp = el('div', 'mono muted small', t.fingerprint.slice(0, 12) + '…'); fp.title = 'key ' + t.fingerprint; who.appendChild(fp); }
        tr.appendChild(who);
        tr.appendChild(el('td', 'mono', t.origin));
        tr.appendChild(el('td', 'num', t.weight));
        tr.appendChild(el('td', 'num', t.inFlight));
        var reg = el('td', 'muted', ago(t.registeredAt)); reg.title = t.registeredAt || ''; tr.appendChild(reg);
        table.appendChild(tr);
        if (t.lastError) {
          var er = el('tr', 'note');
          var when = t.lastErrorAt ? ' at ' + clock(t.lastErrorAt) + ' (' + ago(t.lastErrorAt) + ')' : '';
          var cell = el('td', 'err', (t.state === 'ejected' && t.ejectedUntil ? 'ejected until ' + clock(t.ejectedUntil) + '; last error' : 'last error') + when + ': ' + t.lastError);
          if (t.lastErrorAt) cell.title = t.lastErrorAt;
          cell.colSpan = 6;
          er.appendChild(cell);
          table.appendChild(er);
        }
      });
      (gone[rule.rule] || []).forEach(function (g) {
        var tr = el('tr', 'gone');
        tr.setAttribute('data-agent', g.agentId);
        tr.setAttribute('data-state', 'gone');
        var st = el('td'); st.appendChild(el('span', 'state gone', 'gone')); tr.appendChild(st);
        tr.appendChild(el('td', null, g.agentId));
        tr.appendChild(el('td', 'mono', g.origin));
        var why = el('td', null, 'left ' + ago(g.time) + (g.reason ? ' · ' + g.reason : ''));
        why.colSpan = 3;
        tr.appendChild(why);
        table.appendChild(tr);
      });
      card.appendChild(table);
      box.appendChild(card);
    });
  }

  function renderCharts(rates, backendColours) {
    chart($('chart-rules'), rates, 'rules');
    chart($('chart-backends'), rates, 'backends', backendColours);
  }

  function chart(box, rates, field, palette) {
    var svgNode = clear(box.querySelector('svg'));
    var legend = clear(box.querySelector('.legend'));
    var samples = rates.samples;
    var names = [];
    samples.forEach(function (s) { Object.keys(s[field]).forEach(function (n) { if (names.indexOf(n) < 0) names.push(n); }); });
    names.sort();
    var W = 600, H = 150, L = 38, R = 8, T = 8, B = 20;
    svgNode.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    svgNode.setAttribute('preserveAspectRatio', 'none');
    var max = 0;
    samples.forEach(function (s) { names.forEach(function (n) { max = Math.max(max, s[field][n] || 0); }); });
    var top = max <= 1 ? 1 : Math.pow(10, Math.floor(Math.log10(max)));
    top = max <= 1 ? 1 : Math.ceil(max / top) * top;
    var span = Math.max(1, (samples.length > 1 ? samples[samples.length - 1].time - samples[0].time : rates.intervalMs));
    var t0 = samples.length ? samples[samples.length - 1].time - span : 0;
    function x(t) { return L + (W - L - R) * ((t - t0) / span); }
    function y(v) { return T + (H - T - B) * (1 - v / top); }
    [0, 0.5, 1].forEach(function (f) {
      svgNode.appendChild(svg('line', { x1: L, x2: W - R, y1: y(top * f), y2: y(top * f), 'class': 'axis' }));
      var label = svg('text', { x: L - 4, y: y(top * f) + 3, 'text-anchor': 'end', 'class': 'tick' });
      label.textContent = top >= 4 ? String(Math.round(top * f)) : String(Math.round(top * f * 100) / 100);
      svgNode.appendChild(label);
    });
    var minutes = svg('text', { x: W - R, y: H - 4, 'text-anchor': 'end', 'class': 'tick' });
    var secs = Math.round(span / 1000);
    minutes.textContent = samples.length > 1 ? 'req/s over the last ' + (secs < 120 ? secs + ' s' : Math.round(secs / 60) + ' min') : 'req/s (collecting…)';
    svgNode.appendChild(minutes);
    names.forEach(function (n) {
      var points = samples.map(function (s) { return x(s.time).toFixed(1) + ',' + y(s[field][n] || 0).toFixed(1); });
      if (points.length === 1) points.unshift(L + ',' + points[0].split(',')[1]);
      svgNode.appendChild(svg('polyline', { points: points.join(' '), fill: 'none', stroke: colorOf(n, palette || names), 'stroke-width': 2, 'stroke-linejoin': 'round', 'vector-effect': 'non-scaling-stroke' }));
      var item = el('span');
      var swatch = el('i'); swatch.style.background = colorOf(n, palette || names);
      item.appendChild(swatch);
      item.appendChild(document.createTextNode(n + ' '));
      var last = samples.length ? samples[samples.length - 1][field][n] || 0 : 0;
      var peak = 0;
      samples.forEach(function (s) { peak = Math.max(peak, s[field][n] || 0); });
      item.appendChild(el('b', null, rate(last)));
      item.appendChild(document.createTextNode(' now · peak ' + rate(peak)));
      legend.appendChild(item);
    });
    if (names.length === 0) legend.appendChild(el('span', null, 'no traffic yet'));
  }

  var EVENT_STYLE = {
    backend_added: ['add', 'added'], backend_removed: ['remove', 'removed'], backend_rejected: ['bad', 'rejected'],
    session_opened: ['info', 'session open'], session_closed: ['info', 'session closed'],
    auth_failure: ['bad', 'auth failure'], admin_auth_failure: ['bad', 'admin auth failure']
  };

  function renderEvents(events) {
    var list = clear($('events'));
    if (events.length === 0) { list.appendChild(el('li', 'empty', 'No events yet.')); return; }
    events.slice(0, 100).forEach(function (ev) {
      var style = EVENT_STYLE[ev.type] || ['info', ev.type];
      var li = el('li');
      var time = el('span', 'mono muted', clock(ev.time)); time.title = ev.time; li.appendChild(time);
      li.appendChild(el('span', 'ev ' + style[0], style[1] + (ev.count > 1 ? ' ×' + ev.count : '')));
      var what = el('span');
      if (ev.agentId) what.appendChild(el('b', null, ev.agentId + ' '));
      var detail = [];
      if (ev.rules && ev.rules.length) detail.push(ev.rules.join(' '));
      if (ev.origins && ev.origins.length) detail.push(ev.origins.join(' '));
      if (ev.reason) detail.push('(' + ev.reason + ')');
      if (ev.detail && ev.type !== 'session_opened' && ev.type !== 'session_closed') detail.push(ev.detail);
      what.appendChild(el('span', 'muted', detail.join(' ')));
      li.appendChild(what);
      list.appendChild(li);
    });
  }

  function renderKeys(keys) {
    var box = clear($('keys'));
    if (!keys) { box.appendChild(el('div', 'empty', 'No trust store (control plane disabled).')); return; }
    if (keys.length === 0) { box.appendChild(el('div', 'empty', 'No trusted keys.')); return; }
    var table = el('table');
    var hr = el('tr');
    [['Id'], ['Role'], ['Scope'], ['Sessions', 'num'], ['Fingerprint'], ['Added']].forEach(function (h) { hr.appendChild(el('th', h[1], h[0])); });
    table.appendChild(hr);
    keys.forEach(function (k) {
      var tr = el('tr');
      tr.setAttribute('data-key', k.id);
      tr.appendChild(el('td', 'nowrap', k.id));
      tr.appendChild(el('td', 'muted', k.role));
      var scope = k.scope || {};
      var sc = el('td', 'mono small');
      sc.appendChild(document.createTextNode((scope.rules && scope.rules.length ? scope.rules.join(' ') : (k.role === 'admin' ? 'admin' : 'no rules'))));
      if (scope.hosts && scope.hosts.length) sc.appendChild(el('div', 'muted', 'hosts ' + scope.hosts.join(' ')));
      tr.appendChild(sc);
      var live = el('td', 'num', k.sessions === undefined ? '–' : k.sessions);
      live.setAttribute('data-sessions', k.sessions === undefined ? '' : String(k.sessions));
      tr.appendChild(live);
      var fp = el('td', 'mono muted nowrap', k.fingerprint.slice(0, 10) + '…'); fp.title = k.fingerprint; tr.appendChild(fp);
      tr.appendChild(el('td', 'muted', ago(k.createdAt)));
      table.appendChild(tr);
    });
    box.appendChild(table);
  }

  function renderFleet(fleet) {
    var box = clear($('fleet'));
    if (!fleet) { box.appendChild(el('div', 'empty', 'No fleet information.')); return; }
    var trust = el('div', fleet.trust.ok ? 'muted' : 'ev bad', 'Trust store: ' + fleet.trust.kind + (fleet.trust.ok ? ', current' : ', NOT usable: ' + (fleet.trust.reason || 'unknown')));
    box.appendChild(trust);
    if (!fleet.shared) box.appendChild(el('div', 'empty', 'This proxy runs on its own (no PROXY_REDIS_URL).'));
    var table = el('table');
    var hr = el('tr');
    ['Node', 'Addresses', 'Started'].forEach(function (h) { hr.appendChild(el('th', null, h)); });
    table.appendChild(hr);
    fleet.nodes.forEach(function (n) {
      var tr = el('tr');
      tr.appendChild(el('td', n.self ? null : 'muted', n.id + (n.self ? ' (this proxy)' : '')));
      tr.appendChild(el('td', 'mono muted', n.addresses.join(' ')));
      tr.appendChild(el('td', 'muted', ago(n.startedAt)));
      table.appendChild(tr);
    });
    box.appendChild(table);
  }

  $('auth').addEventListener('submit', function (event) {
    event.preventDefault();
    var value = $('token').value.trim();
    if (value) sessionStorage.setItem('inteli-admin-token', value);
    $('token').value = '';
    if (timer) clearTimeout(timer);
    poll();
  });
  poll();
})();
`;

const BODY = String.raw`
<header>
  <h1>inteli-proxy <span>status</span></h1>
  <span id="ready" class="pill wait">Loading…</span>
  <div id="facts" class="facts"></div>
  <span id="updated" class="updated"></span>
  <form id="auth"><input id="token" type="password" autocomplete="off" placeholder="admin token (JWT, aud inteli-proxy-admin)" aria-label="admin token"><button type="submit">Use token</button></form>
</header>
<main>
  <div>
    <section><h2>Rules and targets</h2><div id="rules"><div class="empty">Loading…</div></div></section>
    <section><h2>Traffic health <span id="health-window" class="muted"></span></h2><div id="health" class="health"></div></section>
  </div>
  <div>
    <section>
      <h2>Request rate</h2>
      <div class="chart" id="chart-rules"><h3>By rule</h3><svg role="img" aria-label="requests per second by rule"></svg><div class="legend"></div></div>
      <div class="chart" id="chart-backends"><h3>By backend</h3><svg role="img" aria-label="requests per second by backend"></svg><div class="legend"></div></div>
    </section>
    <section><h2>Recent events</h2><ol id="events" class="events"></ol></section>
    <section><h2>Fleet</h2><div id="fleet"></div></section>
    <section><h2>Trusted keys</h2><div id="keys"></div></section>
  </div>
</main>
`;

function sha256(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

/** The page. */
export const STATUS_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>inteli-proxy status</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body>${BODY}<script>${SCRIPT}</script>
</body>
</html>
`;

/** Content security policy of the page: its own script and style (by hash) and same-origin fetches only. */
export const STATUS_PAGE_CSP = [
  "default-src 'none'",
  `script-src ${sha256(SCRIPT)}`,
  `style-src ${sha256(STYLE)}`,
  "connect-src 'self'",
  'img-src data:',
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');
