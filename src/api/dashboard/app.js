// certcast dashboard (docs/dashboard.md). Plain JavaScript, no library: every number comes from
// the API (docs/api.md) with the bearer token kept in this tab's sessionStorage, and charts are
// SVG drawn here (why: docs/decisions.md, 2026-12-04). Nothing is built with innerHTML from data:
// text goes in through textContent, so a certificate name cannot become markup.
'use strict';

const TOKEN_KEY = 'certcast.token';
const PAGE_SIZE = 50;
const SVG_NS = 'http://www.w3.org/2000/svg';
let token = null;
let me = null;        // GET /v1/token: name, scopes, host
let apiPaths = null;  // paths of the OpenAPI document: which optional parts this server has

// ---- sign-in -------------------------------------------------------------------------------
// A token given as ?token= (certcast demo --serve prints such an address) moves into
// sessionStorage and out of the address bar at once, so it stays out of history, bookmarks and
// Referer headers (the server also sends Referrer-Policy: no-referrer).
function takeTokenFromAddress() {
  const url = new URL(window.location.href);
  const given = url.searchParams.get('token');
  if (given) {
    sessionStorage.setItem(TOKEN_KEY, given);
    url.searchParams.delete('token');
    history.replaceState(null, '', url.pathname + url.search + url.hash);
  }
  token = sessionStorage.getItem(TOKEN_KEY);
}

function signOut() {
  sessionStorage.removeItem(TOKEN_KEY);
  token = null;
  me = null;
  route();
}

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function api(path, options = {}) {
  const headers = {Authorization: 'Bearer ' + token};
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(path, {
    method: options.method || 'GET',
    headers,
    body: options.body,
    cache: 'no-store',
    credentials: 'omit',
  });
  let body = null;
  try { body = await response.json(); } catch (e) { body = null; }
  if (!response.ok) {
    const error = body && body.error ? body.error : {code: 'http_' + response.status, message: response.statusText};
    if (response.status === 401) {
      sessionStorage.removeItem(TOKEN_KEY);
      token = null;
    }
    throw new ApiError(response.status, error.code, error.message);
  }
  return body;
}

function can(scope) {
  return me !== null && me.scopes.includes(scope);
}

// ---- DOM helpers ---------------------------------------------------------------------------
function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'text') node.textContent = value;
    else if (key === 'class') node.className = value;
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function svg(tag, attributes, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attributes || {})) {
    if (value === null || value === undefined) continue;
    if (key === 'text') node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) if (child) node.append(child);
  return node;
}

function main() { return document.getElementById('main'); }

function setStatus(text) { document.getElementById('status').textContent = text; }

function showPage(title, ...content) {
  const m = main();
  m.replaceChildren(el('h1', {text: title}), ...content);
  document.title = title + ' · certcast';
}

function errorBox(error) {
  if (error instanceof ApiError && error.status === 403) {
    return el('p', {class: 'denied', role: 'alert'},
              'Your token cannot do this: ', error.message);
  }
  return el('p', {class: 'error', role: 'alert'}, 'Could not load: ', error.message || String(error));
}

// ---- formatting ----------------------------------------------------------------------------
function pct(x, digits = 1) { return x === null || x === undefined ? '–' : (100 * x).toFixed(digits) + ' %'; }
function num(x) { return x === null || x === undefined ? '–' : Number(x).toLocaleString('en'); }
function when(iso) { return iso ? iso.replace('T', ' ').replace(/:\d\dZ$/, ' UTC').replace(/Z$/, ' UTC') : '–'; }
function day(iso) { return iso ? iso.slice(0, 10) : '–'; }
function duration(seconds) {
  if (seconds === null || seconds === undefined) return '–';
  if (seconds < 3600) return Math.round(seconds / 60) + ' min';
  if (seconds < 172800) return (seconds / 3600).toFixed(1) + ' h';
  return (seconds / 86400).toFixed(1) + ' d';
}
function actionWords(action) {
  if (!action) return 'none';
  let words = action.action.replace(/_/g, ' ');
  if (action.challenge) words += ' → ' + action.challenge;
  if (action.ca) words += ' → ' + action.ca.replace(/^https?:\/\//, '').split('/')[0];
  return words;
}

// ---- charts (SVG; meaning carried by shape, dash and label as well as colour) ---------------
function chart(width, height, label, description) {
  const root = svg('svg', {class: 'chart', viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': label});
  root.append(svg('title', {text: label}), svg('desc', {text: description}));
  const defs = svg('defs');
  const hatch = svg('pattern', {id: 'hatch', width: 6, height: 6, patternUnits: 'userSpaceOnUse', patternTransform: 'rotate(45)'});
  hatch.append(svg('line', {x1: 0, y1: 0, x2: 0, y2: 6, class: 'hatch-line'}));
  defs.append(hatch);
  root.append(defs);
  return root;
}

// Axes with ticks for a plot area; returns functions mapping data to pixels.
function axes(root, box, xDomain, yDomain, xLabel, yLabel, xTicks, yTicks, xFormat, yFormat) {
  const [x0, x1] = xDomain, [y0, y1] = yDomain;
  const sx = v => box.left + (x1 === x0 ? 0 : (v - x0) / (x1 - x0)) * (box.right - box.left);
  const sy = v => box.bottom - (y1 === y0 ? 0 : (v - y0) / (y1 - y0)) * (box.bottom - box.top);
  for (const t of yTicks) {
    root.append(svg('line', {x1: box.left, x2: box.right, y1: sy(t), y2: sy(t), class: 'grid'}));
    root.append(svg('text', {x: box.left - 4, y: sy(t) + 4, 'text-anchor': 'end', text: yFormat(t)}));
  }
  for (const t of xTicks) {
    root.append(svg('text', {x: sx(t), y: box.bottom + 14, 'text-anchor': 'middle', text: xFormat(t)}));
  }
  root.append(svg('line', {x1: box.left, x2: box.right, y1: box.bottom, y2: box.bottom, class: 'axis'}));
  root.append(svg('line', {x1: box.left, x2: box.left, y1: box.top, y2: box.bottom, class: 'axis'}));
  root.append(svg('text', {x: (box.left + box.right) / 2, y: box.bottom + 30, 'text-anchor': 'middle', text: xLabel}));
  root.append(svg('text', {x: 12, y: (box.top + box.bottom) / 2, 'text-anchor': 'middle',
                           transform: `rotate(-90 12 ${(box.top + box.bottom) / 2})`, text: yLabel}));
  return {sx, sy};
}

function niceMax(v) {
  if (v <= 0) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function legend(root, x, y, items) {
  items.forEach((item, i) => {
    const gx = x + i * 170;
    root.append(item.symbol(gx, y));
    root.append(svg('text', {x: gx + 18, y: y + 4, text: item.label}));
  });
}

// Expiries (solid bars) and client renewal due dates (hatched bars) per day.
function timelineChart(timeline) {
  const width = 720, height = 230;
  const box = {left: 44, right: width - 10, top: 30, bottom: height - 40};
  const max = niceMax(Math.max(1, ...timeline.map(d => Math.max(d.expiries, d.renewals_due))));
  const root = chart(width, height, 'Expiries and renewal due dates per day',
                     'Solid bars: certificates expiring that day. Hatched bars: certificates whose ACME client is due to renew that day.');
  const days = timeline.length;
  const xTicks = [];
  for (let i = 0; i < days; i += Math.max(1, Math.round(days / 6))) xTicks.push(i);
  const {sx, sy} = axes(root, box, [0, days], [0, max], 'day (UTC)', 'lineages', xTicks,
                        [0, max / 2, max], i => day(timeline[Math.min(i, days - 1)].day).slice(5), v => String(Math.round(v)));
  const slot = (box.right - box.left) / days;
  const barWidth = Math.max(1, slot / 2 - 1);
  timeline.forEach((d, i) => {
    if (d.expiries > 0) {
      root.append(svg('rect', {x: sx(i), y: sy(d.expiries), width: barWidth, height: box.bottom - sy(d.expiries), class: 'bar-solid'},
                      svg('title', {text: `${day(d.day)}: ${d.expiries} expire`})));
    }
    if (d.renewals_due > 0) {
      root.append(svg('rect', {x: sx(i) + barWidth + 1, y: sy(d.renewals_due), width: barWidth, height: box.bottom - sy(d.renewals_due), class: 'bar-hatched'},
                      svg('title', {text: `${day(d.day)}: ${d.renewals_due} due to renew`})));
    }
  });
  legend(root, box.left, 14, [
    {label: 'expiries (solid)', symbol: (x, y) => svg('rect', {x, y: y - 6, width: 12, height: 12, class: 'bar-solid'})},
    {label: 'renewals due (hatched)', symbol: (x, y) => svg('rect', {x, y: y - 6, width: 12, height: 12, class: 'bar-hatched'})},
  ]);
  return root;
}

// A line of (x, y) points with a marker shape at each; optional dashed horizontal threshold.
function lineChart({title, description, points, xDomain, xTicks, xFormat, xLabel, yLabel, threshold, thresholdLabel, markers, extra}) {
  const width = 720, height = 260;
  const box = {left: 50, right: width - 12, top: 30, bottom: height - 42};
  const root = chart(width, height, title, description);
  const {sx, sy} = axes(root, box, xDomain, [0, 1], xLabel, yLabel, xTicks, [0, 0.25, 0.5, 0.75, 1], xFormat, v => v.toFixed(2));
  if (extra) extra(root, sx, sy);
  if (threshold !== null && threshold !== undefined) {
    root.append(svg('line', {x1: box.left, x2: box.right, y1: sy(threshold), y2: sy(threshold), class: 'threshold'}));
    root.append(svg('text', {x: box.right - 4, y: sy(threshold) - 5, 'text-anchor': 'end', text: `${thresholdLabel} ${threshold.toFixed(3)}`}));
  }
  const drawn = points.filter(p => p.y !== null);
  if (drawn.length > 1) {
    root.append(svg('polyline', {points: drawn.map(p => `${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(' '), class: 'series'}));
  }
  if (markers !== false) {
    for (const p of drawn) root.append(svg('circle', {cx: sx(p.x), cy: sy(p.y), r: 3.5, class: 'marker'}, svg('title', {text: p.label || ''})));
  }
  return root;
}

function barList(title, rows) {
  // Horizontal bars with the figure written beside each: readable without colour at all.
  const width = 720, rowHeight = 24, left = 210;
  const height = 20 + rows.length * rowHeight;
  const root = chart(width, height, title, rows.map(r => `${r.label}: ${r.text}`).join('; '));
  rows.forEach((r, i) => {
    const y = 10 + i * rowHeight;
    root.append(svg('text', {x: left - 8, y: y + 14, 'text-anchor': 'end', text: r.label}));
    root.append(svg('rect', {x: left, y: y + 3, width: Math.max(1, r.value * (width - left - 130)), height: 14, class: 'bar-solid'}));
    root.append(svg('rect', {x: left, y: y + 3, width: width - left - 130, height: 14, fill: 'none', class: 'axis'}));
    root.append(svg('text', {x: width - 122, y: y + 14, text: r.text}));
  });
  return root;
}

function riskBar(risk) {
  const root = svg('svg', {class: 'riskbar', viewBox: '0 0 100 10', preserveAspectRatio: 'none', 'aria-hidden': 'true'});
  if (risk !== null) root.append(svg('rect', {x: 0, y: 0, width: Math.max(1, 100 * risk), height: 10, class: 'bar-solid'}));
  return root;
}

// ---- pages ---------------------------------------------------------------------------------
const FILTERS = ['host', 'client', 'ca', 'challenge', 'cause'];

function hashParams() {
  const hash = window.location.hash.replace(/^#/, '');
  const q = hash.indexOf('?');
  return {path: q < 0 ? hash : hash.slice(0, q), params: new URLSearchParams(q < 0 ? '' : hash.slice(q + 1))};
}

async function fleetPage(params) {
  const filters = new URLSearchParams();
  for (const f of FILTERS) if (params.get(f)) filters.set(f, params.get(f));
  const offset = Number(params.get('offset') || 0);
  const listQuery = new URLSearchParams(filters);
  listQuery.set('limit', PAGE_SIZE);
  listQuery.set('offset', offset);
  const [summary, page] = await Promise.all([
    api('/v1/fleet?' + filters.toString()),
    api('/v1/lineages?' + listQuery.toString()),
  ]);
  const k = summary;
  const kpi = (label, value, sub) => el('div', {class: 'kpi'}, el('dt', {text: label}), el('dd', {}, value, sub ? el('span', {class: 'sub', text: sub}) : null));
  const kpis = el('dl', {class: 'kpis', 'aria-label': 'Key figures'},
    kpi('Certificates', num(k.certificates), k.certificates === k.fleet_certificates ? 'whole fleet' : `of ${num(k.fleet_certificates)} (filtered)`),
    kpi('At risk in 7 days', num(k.at_risk_7d.total), `${k.at_risk_7d.alerting} forecast · ${k.at_risk_7d.failing} failing · ${k.at_risk_7d.expiring} expiring`),
    kpi('Open incidents', el('a', {href: '#/incidents', text: num(k.open_incidents)}), 'whole fleet'),
    kpi('Renewal success (30 d)', pct(k.renewals.success_ratio), `${num(k.renewals.succeeded)} ok · ${num(k.renewals.failed)} failed`),
    kpi('MTTR (30 d)', duration(k.repairs.mean_time_to_repair_seconds), `${num(k.repairs.count)} repairs`),
    kpi('Forecast precision (30 d)', pct(k.forecast.precision), `${k.forecast.alerts_hit} of ${k.forecast.alerts_judged} alerts`),
    kpi('Forecast recall (30 d)', pct(k.forecast.recall), `${k.forecast.onsets_forecast} of ${k.forecast.onsets} failures`),
    kpi('Planned actions', num(k.planned_actions), `model ${k.model}`),
  );

  // Filters: selects from the fleet's own values (facets); the host list can be long, so it is
  // a text field with suggestions.
  const form = el('form', {class: 'filters', 'aria-label': 'Filters'});
  for (const f of FILTERS) {
    const values = summary.facets[f] || [];
    let input;
    if (f === 'host') {
      input = el('input', {name: f, id: 'filter-host', list: 'hosts', value: params.get(f) || '', autocomplete: 'off'});
      form.append(el('datalist', {id: 'hosts'}, values.map(v => el('option', {value: v.value}))));
    } else {
      input = el('select', {name: f, id: 'filter-' + f},
                 el('option', {value: '', text: 'any'}),
                 values.map(v => el('option', {value: v.value, selected: params.get(f) === v.value, text: `${v.value} (${v.lineages})`})));
    }
    form.append(el('label', {for: input.id}, f === 'ca' ? 'CA' : f, input));
  }
  form.append(el('button', {type: 'submit', text: 'Apply'}));
  form.append(el('button', {type: 'button', class: 'secondary', text: 'Clear', onclick: () => { window.location.hash = '#/fleet'; }}));
  form.addEventListener('submit', event => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const f of FILTERS) {
      const v = form.elements[f].value.trim();
      if (v) next.set(f, v);
    }
    window.location.hash = '#/fleet' + (next.toString() ? '?' + next.toString() : '');
  });

  // The ranking.
  const table = el('table', {class: 'ranking', id: 'ranking'},
    el('caption', {text: `Risk ranking: ${num(page.total)} lineages, highest risk first (risk = probability of a renewal failure within the model's horizon)`}),
    el('thead', {}, el('tr', {},
      el('th', {scope: 'col', class: 'num', text: '#'}),
      el('th', {scope: 'col', text: 'Certificate'}),
      el('th', {scope: 'col', text: 'Risk'}),
      el('th', {scope: 'col', text: 'Why'}),
      el('th', {scope: 'col', text: 'Planned action'}),
      el('th', {scope: 'col', class: 'wide', text: 'Host'}),
      el('th', {scope: 'col', class: 'wide', text: 'Expires'}),
      el('th', {scope: 'col', class: 'wide', text: 'Client renews'}))));
  const body = el('tbody');
  page.lineages.forEach((l, i) => {
    body.append(el('tr', {},
      el('td', {class: 'num', text: String(offset + i + 1)}),
      el('td', {}, el('a', {href: '#/lineage/' + encodeURIComponent(l.cert), text: l.cert}),
         l.in_episode ? el('span', {class: 'badge bad', text: 'failing'}) : null),
      el('td', {class: 'risk-cell'}, l.risk === null ? 'no model' : pct(l.risk), riskBar(l.risk)),
      el('td', {text: l.reason}),
      el('td', {text: actionWords(l.action)}),
      el('td', {class: 'wide', text: l.host}),
      el('td', {class: 'wide', text: day(l.not_after)}),
      el('td', {class: 'wide', text: day(l.renewal_due)})));
  });
  table.append(body);
  const pageLink = (label, to) => {
    const next = new URLSearchParams(filters);
    next.set('offset', to);
    return el('a', {href: '#/fleet?' + next.toString(), text: label});
  };
  const pager = el('nav', {class: 'pager', 'aria-label': 'Ranking pages'},
    offset > 0 ? pageLink('← Previous', Math.max(0, offset - PAGE_SIZE)) : null,
    el('span', {text: page.total === 0 ? 'no lineages match' : `${offset + 1}–${offset + page.lineages.length} of ${num(page.total)}`}),
    page.next_cursor !== null ? pageLink('Next →', Number(page.next_cursor)) : null);

  // A dry plan: needs the plan scope; a token without it is told so rather than refused later.
  const planResult = el('div', {id: 'plan-result', 'aria-live': 'polite'});
  const planButton = el('button', {type: 'button', id: 'plan-button', text: 'Preview a plan now (dry run)', disabled: !can('plan')});
  planButton.addEventListener('click', async () => {
    planButton.disabled = true;
    planResult.replaceChildren(el('p', {text: 'Planning…'}));
    try {
      const plan = await api('/v1/plan', {method: 'POST', body: '{}'});
      planResult.replaceChildren(el('p', {id: 'plan-summary',
        text: `Dry plan at ${when(plan.at)}: ${plan.actions.length} actions proposed, ${plan.held.length} held over ${plan.lineages} lineages. Nothing was stored or carried out.`}));
    } catch (error) {
      planResult.replaceChildren(errorBox(error));
    } finally {
      planButton.disabled = !can('plan');
    }
  });
  const planBox = el('section', {'aria-labelledby': 'plan-heading'},
    el('h2', {id: 'plan-heading', text: 'Plan'}),
    planButton,
    can('plan') ? null : el('p', {class: 'denied', id: 'read-only-note',
      text: `Read-only: your token (${me.scopes.join(', ')}) cannot ask for a plan or change anything; that needs a token with the plan scope.`}),
    planResult);

  const timelineFigure = el('figure', {},
    timelineChart(summary.timeline),
    el('figcaption', {text: `Next ${summary.timeline.length} days from ${day(summary.at)}. ${summary.renewals_overdue} lineages are past their client's renewal due date; ${summary.expired} certificates have expired.`}));

  showPage('Fleet', el('p', {class: 'note', text: `Fleet view at ${when(summary.at)}, model ${summary.model}.`}),
           kpis, form,
           el('h2', {text: 'Risk ranking'}), el('div', {class: 'table-wrap'}, table), pager,
           el('h2', {text: 'Expiry and renewal-due timeline'}), timelineFigure,
           planBox);
  performance.mark('certcast-ranking-rendered');
}

function eventSummary(e) {
  const skip = new Set(['v', 'type', 'ts', 'cert', 'source', 'id']);
  const parts = [];
  for (const [key, value] of Object.entries(e)) {
    if (skip.has(key) || value === null || value === '' || typeof value === 'object') continue;
    parts.push(`${key}=${value}`);
  }
  return parts.slice(0, 8).join(' · ');
}

function eventFailed(e) {
  return e.outcome === 'failure' || e.ok === false || (e.error && e.error !== '');
}

// Event timeline: one row per event type, a shape per event (filled = failed, hollow = ok).
function eventTimelineChart(events, since, at) {
  const types = [...new Set(events.map(e => e.type))].sort();
  const width = 720, rowHeight = 26, left = 110;
  const height = 50 + types.length * rowHeight;
  const root = chart(width, height, 'Events of this lineage over time',
                     'One row per event type; a filled square is a failed attempt or probe, a hollow circle an event without error.');
  const t0 = Date.parse(since), t1 = Date.parse(at);
  const sx = t => left + (t1 === t0 ? 0 : (t - t0) / (t1 - t0)) * (width - left - 12);
  types.forEach((type, i) => {
    const y = 20 + i * rowHeight;
    root.append(svg('text', {x: left - 6, y: y + 4, 'text-anchor': 'end', text: type}));
    root.append(svg('line', {x1: left, x2: width - 12, y1: y, y2: y, class: 'grid'}));
  });
  for (const e of events) {
    const y = 20 + types.indexOf(e.type) * rowHeight, x = sx(Date.parse(e.ts));
    const label = `${when(e.ts)} ${e.type}${eventFailed(e) ? ' (failed)' : ''}`;
    root.append(eventFailed(e)
      ? svg('rect', {x: x - 4, y: y - 4, width: 8, height: 8, class: 'marker-bad'}, svg('title', {text: label}))
      : svg('circle', {cx: x, cy: y, r: 4, class: 'marker-hollow'}, svg('title', {text: label})));
  }
  const bottom = 20 + types.length * rowHeight;
  root.append(svg('text', {x: left, y: bottom + 8, text: day(since)}));
  root.append(svg('text', {x: width - 12, y: bottom + 8, 'text-anchor': 'end', text: day(at)}));
  legend(root, left, bottom + 24, [
    {label: 'failed (filled square)', symbol: (x, y) => svg('rect', {x: x + 2, y: y - 4, width: 8, height: 8, class: 'marker-bad'})},
    {label: 'ok (hollow circle)', symbol: (x, y) => svg('circle', {cx: x + 6, cy: y, r: 4, class: 'marker-hollow'})},
  ]);
  return root;
}

function recordTable(caption, records, id) {
  if (records.length === 0) return el('p', {class: 'note', id, text: caption + ': none.'});
  return el('div', {class: 'table-wrap'}, el('table', {id},
    el('caption', {text: caption}),
    el('thead', {}, el('tr', {}, el('th', {scope: 'col', text: 'seq'}), el('th', {scope: 'col', text: 'When'}),
                    el('th', {scope: 'col', text: 'What'}), el('th', {scope: 'col', text: 'Record'}))),
    el('tbody', {}, records.map(r => el('tr', {},
      el('td', {text: String(r.seq)}), el('td', {text: when(r.at)}),
      el('td', {text: recordWords(r)}),
      el('td', {}, el('details', {}, el('summary', {text: 'JSON'}), el('pre', {class: 'record', text: JSON.stringify(r.record, null, 1)}))))))));
}

function recordWords(r) {
  const rec = r.record || {};
  if (typeof rec !== 'object') return String(rec);
  const bits = [r.kind || rec.kind, rec.action, rec.outcome, rec.reason || rec.message].filter(Boolean);
  return bits.join(': ');
}

async function lineagePage(cert) {
  const [l, audit] = await Promise.all([
    api(`/v1/lineages/${encodeURIComponent(cert)}?days=30&events=300`),
    api(`/v1/audit?cert=${encodeURIComponent(cert)}&limit=50`),
  ]);
  const factList = el('dl', {class: 'facts', id: 'lineage-facts'});
  for (const [k, v] of [
    ['Risk', l.risk === null ? 'no model' : pct(l.risk) + (l.in_episode ? ' (already failing)' : '')],
    ['Why', l.reason],
    ['Planned action', actionWords(l.action) + (l.action ? ` (${l.action.reason_code})` : '')],
    ['Diagnosed cause', l.diagnosis ? `${l.cause}: ${l.diagnosis}` : 'none'],
    ['Held back', l.held || 'nothing'],
    ['Names', l.names.join(', ')],
    ['Hosts', l.hosts.join(', ') || l.host],
    ['Client / CA / challenge', `${l.client} / ${l.ca} / ${l.challenge}`],
    ['Certificate', `${l.serial || '–'}, valid ${day(l.not_before)} to ${day(l.not_after)}`],
    ['Client renews', when(l.renewal_due)],
    ['Served', l.served],
    ['Last success / failure', `${when(l.last_success)} / ${when(l.last_failure)} (${l.episode_failures} failures in this episode)`],
  ]) factList.append(el('dt', {text: k}), el('dd', {text: v}));

  const reasons = l.risk_reasons.length
    ? el('ul', {class: 'reasons', id: 'risk-reasons'}, l.risk_reasons.map(r => el('li', {text: r})))
    : el('p', {class: 'note', text: 'No reasons recorded for this forecast (reasons are computed for the highest risks and for lineages with a planned action).'});

  const history = l.risk_history;
  let riskFigure;
  if (history.length === 0) {
    riskFigure = el('p', {class: 'note', text: 'No risk history yet: the server records each day\'s forecast when it plans.'});
  } else {
    const t0 = Date.parse(history[0].day), t1 = Math.max(t0 + 86400000, Date.parse(history[history.length - 1].day));
    const points = history.filter(p => p.risk !== null).map(p => ({x: Date.parse(p.day), y: p.risk, label: `${day(p.day)}: ${pct(p.risk)}`}));
    const below = history.filter(p => p.risk === null);
    riskFigure = el('figure', {},
      lineChart({
        title: 'Risk over time', description: 'Daily risk (circles joined by a line) with the alert threshold (dashed line); days when the lineage was not among the highest risks are drawn as downward triangles at the bound.',
        points,
        xDomain: [t0, t1], xTicks: [t0, (t0 + t1) / 2, t1], xFormat: t => new Date(t).toISOString().slice(5, 10),
        xLabel: 'day (UTC)', yLabel: 'risk', threshold: l.alert_threshold, thresholdLabel: 'alert threshold',
        extra: (root, sx, sy) => {
          for (const p of below) {
            const x = sx(Date.parse(p.day)), y = sy(p.below);
            root.append(svg('path', {d: `M${x - 4},${y - 3} L${x + 4},${y - 3} L${x},${y + 4} Z`, class: 'marker-hollow'},
                            svg('title', {text: `${day(p.day)}: below ${pct(p.below)}`})));
          }
        },
      }),
      el('figcaption', {text: `${history.length} days recorded; ${below.length} of them below the day's 500 highest risks (triangle at the bound).`}));
  }

  const events = l.recent_events;
  const eventsTable = el('div', {class: 'table-wrap'}, el('table', {id: 'events'},
    el('caption', {text: `Events since ${when(l.events_since)} (newest first, at most 300)`}),
    el('thead', {}, el('tr', {}, el('th', {scope: 'col', text: 'When'}), el('th', {scope: 'col', text: 'Type'}), el('th', {scope: 'col', text: 'Outcome'}), el('th', {scope: 'col', text: 'Details'}))),
    el('tbody', {}, events.map(e => el('tr', {'data-type': e.type},
      el('td', {text: when(e.ts)}), el('td', {text: e.type}),
      el('td', {text: eventFailed(e) ? 'failed' : 'ok'}),
      el('td', {text: eventSummary(e)}))))));

  showPage('Lineage ' + l.cert,
    el('p', {}, el('a', {href: '#/fleet', text: '← Fleet'})),
    factList,
    el('h2', {text: 'Why this risk'}), reasons,
    el('h2', {text: 'Risk over time'}), riskFigure,
    el('h2', {text: 'Events'}),
    events.length ? el('figure', {}, eventTimelineChart(events, l.events_since, l.at), el('figcaption', {text: `${events.length} events of the last 30 days.`})) : el('p', {class: 'note', text: 'No events in the last 30 days.'}),
    events.length ? eventsTable : null,
    el('h2', {text: 'Decisions'}), recordTable('Decisions the planner recorded for this lineage', l.decisions, 'decisions'),
    el('h2', {text: 'Actions'}), recordTable('Actions carried out for this lineage', l.actions, 'actions'),
    el('h2', {text: 'Audit records'}), recordTable('Audit records that name this lineage', audit.records, 'lineage-audit'));
}

// Incidents (GET /v1/incidents, docs/alerts.md): alerts grouped by cause, open first, each with
// the lineages it affects; silences (GET /v1/silences) with who set them and until when. Setting
// or ending a silence needs the admin scope (POST/DELETE /v1/silences); a token without it sees
// why instead of a form that would be refused.
const SEVERITY_WORDS = {page: 'page (act now)', ticket: 'ticket', info: 'info (recorded, not sent)', watch: 'watch (re-checked each plan)'};

function incidentLineages(incident) {
  const lineages = incident.lineages || [];
  if (lineages.length === 0) return el('span', {text: '–'});
  return el('ul', {class: 'compact'}, lineages.map(l => el('li', {},
    el('a', {href: '#/lineage/' + encodeURIComponent(l.cert), text: l.cert}),
    ` (${l.host || 'no host'}, ${l.severity}${l.recovered ? ', recovered ' + when(l.recovered) : ''}${l.silenced_by ? ', silenced by ' + l.silenced_by : ''})`,
    l.message ? el('span', {class: 'sub', text: l.message}) : null)));
}

function incidentTable(caption, incidents, id, silenceButton) {
  if (incidents.length === 0) return el('p', {class: 'note', id, text: caption + ': none.'});
  return el('div', {class: 'table-wrap'}, el('table', {id, class: 'incidents'},
    el('caption', {text: caption}),
    el('thead', {}, el('tr', {},
      el('th', {scope: 'col', text: 'Cause'}), el('th', {scope: 'col', text: 'Severity'}),
      el('th', {scope: 'col', text: 'Opened'}), el('th', {scope: 'col', text: incidents[0].state === 'open' ? 'Updated' : 'Resolved'}),
      el('th', {scope: 'col', class: 'num', text: 'Lineages'}), el('th', {scope: 'col', text: 'Affected lineages'}),
      silenceButton ? el('th', {scope: 'col', text: 'Silence'}) : null)),
    el('tbody', {}, incidents.map(x => el('tr', {'data-incident': x.id},
      el('td', {}, el('strong', {text: x.cause || x.cause_key}), el('span', {class: 'sub', text: `${x.cause_key} · ${x.id}`}),
         x.unreadable ? el('span', {class: 'badge bad', text: 'unreadable: ' + x.unreadable}) : null),
      el('td', {}, el('span', {class: 'badge sev-' + x.severity, text: SEVERITY_WORDS[x.severity] || x.severity}),
         x.peak_severity && x.peak_severity !== x.severity ? el('span', {class: 'sub', text: 'peak ' + x.peak_severity}) : null),
      el('td', {text: when(x.opened)}),
      el('td', {text: when(x.state === 'open' ? x.updated : x.resolved)}),
      el('td', {class: 'num', text: `${num(x.affected)}${x.recovered ? ` (${num(x.recovered)} recovered)` : ''}`}),
      el('td', {}, incidentLineages(x)),
      silenceButton ? el('td', {}, silenceButton(x)) : null)))));
}

function silenceTable(silences, endButton) {
  if (silences.length === 0) return el('p', {class: 'note', id: 'silences', text: 'Silences: none set.'});
  return el('div', {class: 'table-wrap'}, el('table', {id: 'silences'},
    el('caption', {text: 'Silences, in force and past (alerts they match stay in their incident but send no notice)'}),
    el('thead', {}, el('tr', {},
      el('th', {scope: 'col', text: 'Matches'}), el('th', {scope: 'col', text: 'Set by'}), el('th', {scope: 'col', text: 'From'}),
      el('th', {scope: 'col', text: 'Until'}), el('th', {scope: 'col', text: 'State'}), el('th', {scope: 'col', text: 'Comment'}),
      endButton ? el('th', {scope: 'col', text: 'End'}) : null)),
    el('tbody', {}, silences.map(s => el('tr', {'data-silence': s.id},
      el('td', {}, `${s.matcher} = `, el('code', {text: s.value}), el('span', {class: 'sub', text: s.id})),
      el('td', {text: s.created_by}),
      el('td', {text: when(s.created)}),
      el('td', {text: s.ended ? `${when(s.ended)} (ended by ${s.ended_by})` : when(s.until)}),
      el('td', {}, el('span', {class: s.in_force ? 'badge good' : 'badge', text: s.in_force ? 'in force' : 'over'})),
      el('td', {text: s.comment || '–'}),
      endButton ? el('td', {}, s.in_force ? endButton(s) : null) : null)))));
}

async function incidentsPage() {
  if (!apiPaths.has('/v1/incidents')) {
    showPage('Incidents', el('p', {id: 'incidents-absent', text: 'This server does not keep incidents: its API has no /v1/incidents route. Alerts the planner decides are listed as decisions on the Audit page.'}));
    return;
  }
  const [open, resolved, silences] = await Promise.all([
    api('/v1/incidents?state=open&limit=200'),
    api('/v1/incidents?state=resolved&limit=50'),
    api('/v1/silences?state=all'),
  ]);
  const writer = can('admin');
  const result = el('div', {id: 'silence-result', 'aria-live': 'polite'});

  // The silence form: what to match, for how long, why. Buttons on incidents fill it in.
  const matcher = el('select', {id: 'silence-matcher', name: 'matcher', disabled: !writer},
    ['cause', 'lineage', 'host', 'label'].map(m => el('option', {value: m, text: m})));
  const value = el('input', {id: 'silence-value', name: 'value', required: true, autocomplete: 'off', disabled: !writer, size: 32});
  const length = el('select', {id: 'silence-duration', name: 'duration', disabled: !writer},
    [['1h', '1 hour'], ['4h', '4 hours'], ['1d', '1 day'], ['7d', '7 days']].map(([v, t]) => el('option', {value: v, text: t, selected: v === '4h'})));
  const comment = el('input', {id: 'silence-comment', name: 'comment', autocomplete: 'off', disabled: !writer, size: 32, maxlength: 1000});
  const submit = el('button', {type: 'submit', id: 'silence-submit', text: 'Set silence', disabled: !writer});
  const form = el('form', {class: 'filters', id: 'silence-form', 'aria-labelledby': 'silence-heading'},
    el('label', {for: 'silence-matcher'}, 'Match by', matcher),
    el('label', {for: 'silence-value'}, 'Value', value),
    el('label', {for: 'silence-duration'}, 'For', length),
    el('label', {for: 'silence-comment'}, 'Comment', comment),
    submit);
  form.addEventListener('submit', async event => {
    event.preventDefault();
    submit.disabled = true;
    try {
      const body = {matcher: matcher.value, value: value.value.trim(), duration: length.value};
      if (comment.value.trim()) body.comment = comment.value.trim();
      const s = await api('/v1/silences', {method: 'POST', body: JSON.stringify(body)});
      await incidentsPage();
      document.getElementById('silence-result').replaceChildren(el('p', {id: 'silence-done', role: 'status',
        text: `Silence ${s.id} set on ${s.matcher} = ${s.value} until ${when(s.until)} by ${s.created_by}.`}));
    } catch (error) {
      result.replaceChildren(errorBox(error));
      submit.disabled = !writer;
    }
  });
  const silenceThis = writer ? x => el('button', {type: 'button', class: 'secondary', text: 'Silence cause',
    'aria-label': `Silence ${x.cause_key}`,
    onclick: () => { matcher.value = 'cause'; value.value = x.cause_key; value.focus(); }}) : null;
  const endThis = writer ? s => el('button', {type: 'button', class: 'secondary', text: 'End now',
    'aria-label': `End silence ${s.id}`,
    onclick: async () => {
      try {
        await api('/v1/silences/' + encodeURIComponent(s.id), {method: 'DELETE'});
        await incidentsPage();
      } catch (error) {
        result.replaceChildren(errorBox(error));
      }
    }}) : null;

  const openList = open.incidents || [], resolvedList = resolved.incidents || [];
  showPage('Incidents',
    el('p', {class: 'note', text: `As of ${when(open.at)}: ${openList.length} open, ${resolvedList.length} recently resolved. Alerts that share a cause (a registered domain, a CA, a host, an ACME account) form one incident; severity comes from the certificate's deadline (docs/alerts.md).`}),
    el('h2', {text: 'Open'}),
    incidentTable('Open incidents, most recently updated first', openList, 'incidents-open', silenceThis),
    el('h2', {text: 'Resolved'}),
    incidentTable('Resolved incidents, most recently updated first (at most 50)', resolvedList, 'incidents-resolved', null),
    el('section', {'aria-labelledby': 'silence-heading'},
      el('h2', {id: 'silence-heading', text: 'Silences'}),
      writer ? null : el('p', {class: 'denied', id: 'silence-read-only',
        text: `Read-only: your token (${me.scopes.join(', ')}) cannot set or end silences; that needs a token with the admin scope.`}),
      form, result,
      silenceTable(silences.silences || [], endThis)));
}

async function modelPage() {
  const [models, summary] = await Promise.all([api('/v1/models'), api('/v1/fleet')]);
  const inUse = models.models.find(m => m.metadata && `store model #${m.id}` === models.in_use) || models.models[0];
  if (!inUse) {
    showPage('Model', el('p', {text: `No model stored (in use: ${models.in_use}). Train one with certcast train --db.`}));
    return;
  }
  const meta = inUse.metadata || {};
  const metrics = meta.metrics || {};
  const v = metrics.validation || {};
  const figures = el('div', {class: 'table-wrap'}, el('table', {id: 'model-figures'},
    el('caption', {text: 'Validation (the newest quarter of the training days) against the live fleet over the trailing 30 days'}),
    el('thead', {}, el('tr', {}, el('th', {scope: 'col', text: 'Figure'}), el('th', {scope: 'col', class: 'num', text: 'Validation'}), el('th', {scope: 'col', class: 'num', text: 'Live (30 d)'}))),
    el('tbody', {},
      [['Alert precision', pct(v.precision), pct(summary.forecast.precision)],
       ['Episode recall', pct(v.recall), pct(summary.forecast.recall)],
       ['Alerts judged / true', `${num(v.alerts)} / ${num(v.true_alerts)}`, `${num(summary.forecast.alerts_judged)} / ${num(summary.forecast.alerts_hit)}`],
       ['Failure episodes / caught', `${num(v.episodes)} / ${num(v.caught)}`, `${num(summary.forecast.onsets)} / ${num(summary.forecast.onsets_forecast)}`],
       ['PR-AUC', v.pr_auc === undefined ? '–' : v.pr_auc.toFixed(3), '–'],
       ['Brier score', v.brier === undefined ? '–' : v.brier.toFixed(4), '–'],
       ['Median lead time', v.median_lead_days === undefined ? '–' : v.median_lead_days.toFixed(1) + ' d', '–'],
       ['Alert threshold', meta.alert_threshold === undefined ? '–' : meta.alert_threshold.toFixed(3), summary.alert_threshold === null ? '–' : summary.alert_threshold.toFixed(3)],
      ].map(([a, b, c]) => el('tr', {}, el('th', {scope: 'row', text: a}), el('td', {class: 'num', text: b}), el('td', {class: 'num', text: c}))))));

  const charts = el('div', {class: 'grid2'});
  const pr = v.pr_curve || [];
  if (pr.length) {
    charts.append(el('figure', {}, lineChart({
      title: 'Precision-recall curve (validation)', description: 'Precision (vertical) against recall (horizontal) as the alert threshold falls; the solid line is the curve, the filled square the operating point.',
      points: pr.map(([r, p]) => ({x: r, y: p, label: `recall ${pct(r)}, precision ${pct(p)}`})), markers: false,
      xDomain: [0, 1], xTicks: [0, 0.25, 0.5, 0.75, 1], xFormat: t => t.toFixed(2), xLabel: 'recall (rows)', yLabel: 'precision',
      extra: (root, sx, sy) => {
        if (v.recall !== undefined && v.precision !== undefined) {
          root.append(svg('rect', {x: sx(v.recall) - 5, y: sy(v.precision) - 5, width: 10, height: 10, class: 'marker-bad'},
                          svg('title', {text: `operating point: episode recall ${pct(v.recall)}, alert precision ${pct(v.precision)}`})));
          root.append(svg('text', {x: sx(v.recall) + 8, y: sy(v.precision) - 8, text: 'operating point'}));
        }
      },
    }), el('figcaption', {text: `PR-AUC ${v.pr_auc !== undefined ? v.pr_auc.toFixed(3) : '–'} over ${num(v.scored_days)} lineage-days.`})));
  }
  const cal = v.calibration_bins || [];
  if (cal.length) {
    charts.append(el('figure', {}, lineChart({
      title: 'Calibration (validation)', description: 'Observed failure rate (vertical) against mean predicted risk (horizontal) per bin; circles are bins labelled with their size, the dashed diagonal is perfect calibration.',
      points: cal.map(([m, o, n]) => ({x: m, y: o, label: `predicted ${pct(m)}, observed ${pct(o)}, ${n} rows`})),
      xDomain: [0, 1], xTicks: [0, 0.25, 0.5, 0.75, 1], xFormat: t => t.toFixed(2), xLabel: 'mean predicted risk', yLabel: 'observed rate',
      extra: (root, sx, sy) => {
        root.append(svg('line', {x1: sx(0), y1: sy(0), x2: sx(1), y2: sy(1), class: 'diagonal'}));
        for (const [m, o, n] of cal) root.append(svg('text', {x: sx(m) + 6, y: sy(o) - 6, text: String(n)}));
      },
    }), el('figcaption', {text: 'Numbers beside the circles: rows in the bin.'})));
  }
  const causes = Object.entries(v.by_cause || {});
  const causeChart = causes.length
    ? el('figure', {}, barList('Recall per cause (validation)', causes.map(([cause, c]) => ({
        label: cause, value: c.episodes ? c.caught / c.episodes : 0, text: `${c.caught}/${c.episodes} (${pct(c.episodes ? c.caught / c.episodes : null, 0)})`}))),
        el('figcaption', {text: 'Failure episodes caught in time, per cause.'}))
    : el('p', {class: 'note', text: 'No failure episodes in the validation slice.'});
  showPage('Model',
    el('p', {class: 'note', text: `In use: ${models.in_use}. ${inUse.name} #${inUse.id}, created ${when(inUse.created)}, ${meta.algorithm || ''} trained ${day(meta.train_from)} to ${day(meta.train_until)}, horizon ${duration(meta.horizon_seconds)}.`}),
    meta.prior_only ? el('p', {class: 'denied', text: 'This model learned nothing (no failures in its training history): every lineage gets the base rate.'}) : null,
    figures,
    el('h2', {text: 'Validation charts'}), charts,
    el('h2', {text: 'Recall per cause'}), causeChart);
}

async function auditPage(params) {
  const cursor = params.get('after') || '0';
  const [verify, page] = await Promise.all([api('/v1/audit/verify'), api(`/v1/audit?limit=${PAGE_SIZE}&cursor=${encodeURIComponent(cursor)}`)]);
  const chain = verify.ok
    ? el('p', {id: 'chain-status'}, el('span', {class: 'badge good', text: '✔ verified'}), ` The hash chain of all ${num(verify.records)} records verifies: none was changed, removed or reordered since it was written.`)
    : el('p', {id: 'chain-status', class: 'denied'}, el('span', {class: 'badge bad', text: '✖ broken'}), ` The chain breaks at record ${verify.first_bad_seq}: ${verify.problem}.`);
  const next = page.next_cursor !== null ? el('a', {href: '#/audit?after=' + encodeURIComponent(page.next_cursor), text: 'Older records →'}) : null;
  const rows = page.records.map(r => ({...r}));
  showPage('Audit', chain,
    recordTable(`Audit records after seq ${cursor}, oldest first`, rows, 'audit-records'),
    el('nav', {class: 'pager', 'aria-label': 'Audit pages'}, cursor !== '0' ? el('a', {href: '#/audit', text: '← First records'}) : null, next));
}

function signInPage(message) {
  const input = el('input', {id: 'token-input', type: 'password', autocomplete: 'off', required: true});
  const form = el('form', {class: 'signin'},
    message ? el('p', {class: 'error', role: 'alert', text: message}) : null,
    el('p', {text: 'Paste an API token (certcast token create --scope read). It is kept in this tab only and sent as a bearer header.'}),
    el('label', {for: 'token-input'}, 'Token', input),
    el('button', {type: 'submit', text: 'Sign in'}));
  form.addEventListener('submit', event => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, input.value.trim());
    token = input.value.trim();
    route();
  });
  showPage('Sign in', form);
}

async function route() {
  const {path, params} = hashParams();
  const page = path.split('/')[1] || 'fleet';
  for (const a of document.querySelectorAll('nav a[data-page]')) {
    if (a.dataset.page === page || (page === 'lineage' && a.dataset.page === 'fleet')) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const signOutButton = document.getElementById('sign-out');
  if (!token) {
    signOutButton.hidden = true;
    document.getElementById('who').textContent = '';
    signInPage();
    return;
  }
  setStatus('Loading…');
  try {
    if (me === null) {
      me = await api('/v1/token');
      const doc = await api('/v1/openapi.json');
      apiPaths = new Set(Object.keys(doc.paths));
      document.getElementById('who').textContent = `Signed in as ${me.name} (${me.scopes.join(', ')})` + (can('plan') || can('act') || can('admin') ? '' : ' · read-only');
      signOutButton.hidden = false;
    }
    if (page === 'fleet') await fleetPage(params);
    else if (page === 'lineage') await lineagePage(decodeURIComponent(path.split('/').slice(2).join('/')));
    else if (page === 'incidents') await incidentsPage(params);
    else if (page === 'model') await modelPage(params);
    else if (page === 'audit') await auditPage(params);
    else showPage('Not found', el('p', {text: `No page "${page}".`}));
    setStatus('');
  } catch (error) {
    setStatus('');
    if (error instanceof ApiError && error.status === 401) {
      me = null;
      signInPage('The server did not accept the token: ' + error.message);
      return;
    }
    showPage('Error', errorBox(error));
  }
}

document.addEventListener('DOMContentLoaded', () => {
  takeTokenFromAddress();
  document.getElementById('sign-out').addEventListener('click', signOut);
  window.addEventListener('hashchange', () => {
    route().then(() => main().focus({preventScroll: true}));
  });
  route();
});
