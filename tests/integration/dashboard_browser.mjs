// Drives the dashboard in headless Chromium (puppeteer-core) against `certcast demo --serve`;
// run by dashboard_test.sh, which starts the server and passes what this needs in the environment:
//   DASHBOARD_URL (the printed http://ADDR:PORT/?token=SECRET, read-only), PLAN_TOKEN (read,plan,
//   admin) and OPERATOR_NAME (its name),
//   BASE, CHROMIUM, ARTIFACTS (screenshots), NPM_DIR (puppeteer-core and axe-core).
// Every check throws with what differed; any console error or page error fails the run.
import {createRequire} from 'node:module';
import {readFileSync, mkdirSync} from 'node:fs';
import path from 'node:path';

const env = process.env;
const require = createRequire(path.join(env.NPM_DIR, 'package.json'));
const puppeteer = require('puppeteer-core');
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const base = env.BASE;
const readToken = new URL(env.DASHBOARD_URL).searchParams.get('token');
mkdirSync(env.ARTIFACTS, {recursive: true});

function check(condition, message) {
  if (!condition) throw new Error(message);
}

async function apiGet(pathAndQuery, token) {
  const response = await fetch(base + pathAndQuery, {headers: {Authorization: 'Bearer ' + token}});
  check(response.ok, `GET ${pathAndQuery}: HTTP ${response.status}`);
  return response.json();
}

// Chromium's sandbox needs user namespaces that a root process in a CI container does not get:
// as root (CI) it runs without it. The page served is our own, on 127.0.0.1, and nothing else is
// browsed. As a normal user the sandbox stays on.
const args = ['--headless=new', '--disable-gpu', '--no-first-run', '--no-default-browser-check'];
if (process.getuid() === 0) args.push('--no-sandbox');
const browser = await puppeteer.launch({executablePath: env.CHROMIUM, args, protocolTimeout: 60000});
const problems = [];
const timings = {};

async function newPage(width = 1280, height = 900) {
  const page = await browser.newPage();
  await page.setViewport({width, height});
  page.setDefaultTimeout(20000);
  page.on('console', message => {
    if (message.type() === 'error' || message.type() === 'warn') {
      problems.push(`console ${message.type()} on ${page.url()}: ${message.text()}`);
    }
  });
  page.on('pageerror', error => problems.push(`page error on ${page.url()}: ${error.message}`));
  page.on('requestfailed', request => problems.push(`request failed: ${request.url()} ${request.failure()?.errorText}`));
  return page;
}

async function axe(page, name) {
  await page.evaluate(axeSource);
  const result = await page.evaluate(() => window.axe.run(document, {resultTypes: ['violations']}));
  const bad = result.violations.filter(v => v.impact === 'serious' || v.impact === 'critical');
  check(bad.length === 0, `axe on ${name}: ${bad.map(v => `${v.impact} ${v.id}: ${v.help} (${v.nodes.map(n => n.target.join(' ')).slice(0, 3).join('; ')})`).join(' | ')}`);
  return result.violations.length;
}

async function shot(page, name) {
  await page.screenshot({path: path.join(env.ARTIFACTS, name + '.png'), fullPage: true});
}

const started = Date.now();
const page = await newPage();

// 1. Sign-in: the token moves from the address into sessionStorage, and out of history.
let response = await page.goto(env.DASHBOARD_URL, {waitUntil: 'domcontentloaded'});
const csp = response.headers()['content-security-policy'] || '';
check(csp.includes("script-src 'self'") && !csp.includes('unsafe-inline'), `CSP header: "${csp}"`);
check(response.headers()['referrer-policy'] === 'no-referrer', 'no Referrer-Policy: no-referrer');
await page.waitForSelector('#ranking tbody tr');
check(!page.url().includes('token='), `token left in the address: ${page.url()}`);
check(await page.evaluate(() => sessionStorage.getItem('certcast.token')) === readToken, 'token not in sessionStorage');
check(!(await page.evaluate(() => document.referrer + history.length)).includes(readToken), 'token in referrer');
const who = await page.$eval('#who', e => e.textContent);
check(who.includes('read-only'), `header does not say read-only: "${who}"`);

// 2. Fleet page: KPIs, ranking in risk order, the timeline.
const fleet = await apiGet('/v1/fleet', readToken);
const firstPage = await apiGet('/v1/lineages?limit=50', readToken);
const rankingCerts = await page.$$eval('#ranking tbody tr td:nth-child(2) a', links => links.map(a => a.textContent));
check(JSON.stringify(rankingCerts) === JSON.stringify(firstPage.lineages.map(l => l.cert)),
      `ranking differs from GET /v1/lineages: ${rankingCerts.slice(0, 3)} vs ${firstPage.lineages.slice(0, 3).map(l => l.cert)}`);
const kpiText = await page.$eval('.kpis', e => e.textContent);
check(kpiText.includes(fleet.certificates.toLocaleString('en')), `KPIs lack the certificate count ${fleet.certificates}: ${kpiText}`);
check(await page.$('svg[aria-label="Expiries and renewal due dates per day"]') !== null, 'no expiry timeline chart');
await shot(page, 'fleet');
timings.axe_fleet = await axe(page, 'fleet');

// 3. Read-only: the UI says so and offers no write; the API refuses the write too.
check(await page.$eval('#plan-button', b => b.disabled), 'plan button enabled for a read-only token');
const note = await page.$eval('#read-only-note', e => e.textContent);
check(note.includes('Read-only'), `read-only note: "${note}"`);
const refused = await fetch(base + '/v1/plan', {method: 'POST', headers: {Authorization: 'Bearer ' + readToken}});
check(refused.status === 403, `POST /v1/plan with the read-only token: HTTP ${refused.status}, want 403`);

// 4. The ranking links to the lineage page, whose timeline shows that lineage's events (keyboard:
// tab to the first ranking link and press Enter).
const top = firstPage.lineages[0].cert;
let focused = '';
for (let i = 0; i < 80 && focused !== top; ++i) {
  await page.keyboard.press('Tab');
  focused = await page.evaluate(() => document.activeElement && document.activeElement.closest('#ranking') ? document.activeElement.textContent : '');
}
check(focused === top, `keyboard: Tab never reached the first ranking link (${top})`);
await page.keyboard.press('Enter');
await page.waitForSelector('#lineage-facts');
check(page.url().endsWith('#/lineage/' + encodeURIComponent(top)), `lineage address: ${page.url()}`);
const detail = await apiGet(`/v1/lineages/${encodeURIComponent(top)}?days=30&events=300`, readToken);
check(detail.recent_events.length > 0, `lineage ${top} has no events in 30 days`);
const rows = await page.$$eval('#events tbody tr', trs => trs.map(tr => [tr.children[0].textContent, tr.children[1].textContent]));
check(rows.length === detail.recent_events.length, `events table: ${rows.length} rows, API ${detail.recent_events.length}`);
rows.forEach(([, type], i) => check(type === detail.recent_events[i].type, `event ${i}: ${type} vs ${detail.recent_events[i].type}`));
check(detail.recent_events.every(e => e.cert === undefined || e.cert === top), 'API gave events of another lineage');
const chartMarks = await page.$$eval('svg[aria-label="Events of this lineage over time"] circle, svg[aria-label="Events of this lineage over time"] rect.marker-bad', m => m.length);
check(chartMarks >= detail.recent_events.length, `event timeline chart: ${chartMarks} marks for ${detail.recent_events.length} events`);
check(detail.risk_history.length > 0, 'no risk history for the top lineage');
check(await page.$('svg[aria-label="Risk over time"] line.threshold') !== null, 'risk chart without the alert threshold line');
await shot(page, 'lineage');
timings.axe_lineage = await axe(page, 'lineage');

// 5. A filter changes the ranking: pick the CA (or client) value with the fewest lineages.
await page.goto(base + '/#/fleet', {waitUntil: 'domcontentloaded'});
await page.waitForSelector('#ranking tbody tr');
let facetName = null, facetValue = null, facetCount = 0;
for (const name of ['ca', 'client', 'challenge']) {
  const values = fleet.facets[name];
  if (values.length > 1) {
    const smallest = values[values.length - 1];
    facetName = name; facetValue = smallest.value; facetCount = smallest.lineages;
    break;
  }
}
check(facetName !== null, 'the demo fleet has one CA, client and challenge: nothing to filter on');
await page.select('#filter-' + facetName, facetValue);
await Promise.all([
  page.waitForFunction(n => document.querySelector('#ranking caption')?.textContent.includes(`: ${n} lineages`), {}, facetCount.toLocaleString('en')),
  page.click('form.filters button[type=submit]'),
]);
const filtered = await page.$$eval('#ranking tbody tr td:nth-child(2) a', links => links.map(a => a.textContent));
const expected = await apiGet(`/v1/lineages?${facetName}=${encodeURIComponent(facetValue)}&limit=50`, readToken);
check(JSON.stringify(filtered) === JSON.stringify(expected.lineages.map(l => l.cert)), `filtered ranking differs from the API's`);
check(JSON.stringify(filtered) !== JSON.stringify(rankingCerts), 'the filter did not change the ranking');
check(page.url().includes(`${facetName}=`), `filter not in the address: ${page.url()}`);
await shot(page, 'fleet-filtered');

// 6. Model, Audit, Incidents pages (the Incidents page's lists equal the API's).
await page.goto(base + '/#/model', {waitUntil: 'domcontentloaded'});
await page.waitForSelector('#model-figures');
check(await page.$('svg[aria-label="Precision-recall curve (validation)"]') !== null, 'no PR curve');
check(await page.$('svg[aria-label="Calibration (validation)"]') !== null, 'no calibration chart');
await shot(page, 'model');
timings.axe_model = await axe(page, 'model');
await page.goto(base + '/#/audit', {waitUntil: 'domcontentloaded'});
await page.waitForSelector('#chain-status');
const chain = await page.$eval('#chain-status', e => e.textContent);
const verify = await apiGet('/v1/audit/verify', readToken);
check(verify.ok && chain.includes('verified') && chain.includes(verify.records.toLocaleString('en')), `chain status: "${chain}"`);
await page.waitForSelector('#audit-records tbody tr');
await shot(page, 'audit');
timings.axe_audit = await axe(page, 'audit');
await page.goto(base + '/#/incidents', {waitUntil: 'domcontentloaded'});
await page.waitForSelector('#silence-form');
const openIncidents = await apiGet('/v1/incidents?state=open&limit=200', readToken);
const resolvedIncidents = await apiGet('/v1/incidents?state=resolved&limit=50', readToken);
check(openIncidents.incidents.length > 0, 'the demo fleet has no open incident: the Incidents page shows nothing to test');
const shownOpen = await page.$$eval('#incidents-open tbody tr', trs => trs.map(tr => tr.dataset.incident));
check(JSON.stringify(shownOpen) === JSON.stringify(openIncidents.incidents.map(x => x.id)),
      `open incidents differ from GET /v1/incidents: ${shownOpen.slice(0, 3)} vs ${openIncidents.incidents.slice(0, 3).map(x => x.id)}`);
const shownResolved = await page.$$eval('#incidents-resolved tbody tr', trs => trs.map(tr => tr.dataset.incident));
check(JSON.stringify(shownResolved) === JSON.stringify(resolvedIncidents.incidents.map(x => x.id)), 'resolved incidents differ from the API');
const firstIncident = openIncidents.incidents[0];
const affected = await page.$$eval(`#incidents-open tr[data-incident="${firstIncident.id}"] td ul a`, links => links.map(a => a.textContent));
check(JSON.stringify(affected) === JSON.stringify(firstIncident.lineages.map(l => l.cert)),
      `incident ${firstIncident.id} lists ${affected} instead of ${firstIncident.lineages.map(l => l.cert)}`);
// Read-only: the form is there but disabled, the page says why, and the API refuses the write.
check(await page.$eval('#silence-submit', b => b.disabled), 'silence button enabled for a read-only token');
const silenceNote = await page.$eval('#silence-read-only', e => e.textContent);
check(silenceNote.includes('Read-only') && silenceNote.includes('admin'), `silence read-only note: "${silenceNote}"`);
const refusedSilence = await fetch(base + '/v1/silences', {method: 'POST', headers: {Authorization: 'Bearer ' + readToken, 'Content-Type': 'application/json'},
                                   body: JSON.stringify({matcher: 'cause', value: firstIncident.cause_key, duration: '1h'})});
check(refusedSilence.status === 403, `POST /v1/silences with the read-only token: HTTP ${refusedSilence.status}, want 403`);
check((await apiGet('/v1/silences?state=all', readToken)).silences.length === 0, 'a silence exists after the refused write');
await shot(page, 'incidents');
timings.axe_incidents = await axe(page, 'incidents');

// 7. A phone's width: nothing wider than the screen.
await page.setViewport({width: 390, height: 844, isMobile: true});
await page.goto(base + '/#/fleet', {waitUntil: 'domcontentloaded'});
await page.waitForSelector('#ranking tbody tr');
const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
check(overflow <= 1, `fleet page is ${overflow} px wider than a 390 px screen`);
await shot(page, 'fleet-phone');
await page.close();

// 8. A token with the plan scope: the button works and its request reaches the API.
const planner = await newPage();
await planner.goto(`${base}/?token=${encodeURIComponent(env.PLAN_TOKEN)}#/fleet`, {waitUntil: 'domcontentloaded'});
await planner.waitForSelector('#ranking tbody tr');
check(!(await planner.$eval('#plan-button', b => b.disabled)), 'plan button disabled for a plan token');
const [planResponse] = await Promise.all([
  planner.waitForResponse(r => r.url().endsWith('/v1/plan') && r.request().method() === 'POST'),
  planner.click('#plan-button'),
]);
check(planResponse.status() === 200, `POST /v1/plan from the UI: HTTP ${planResponse.status()}`);
const plan = await planResponse.json();
await planner.waitForSelector('#plan-summary');
const summaryText = await planner.$eval('#plan-summary', e => e.textContent);
check(summaryText.includes(`${plan.actions.length} actions proposed`), `plan summary: "${summaryText}"`);
await shot(planner, 'fleet-plan');
await planner.close();

// 9. The same token (admin scope too) sets a silence from the Incidents page: the button on the
// first open incident fills in its cause, the form posts it, and the API then has it, by this
// token's name; ending it from the page reaches the API as well.
const operator = await newPage();
await operator.goto(`${base}/?token=${encodeURIComponent(env.PLAN_TOKEN)}#/incidents`, {waitUntil: 'domcontentloaded'});
await operator.waitForSelector('#incidents-open tbody tr');
check(await operator.$('#silence-read-only') === null, 'read-only note shown to an admin token');
await operator.click(`#incidents-open tr[data-incident="${firstIncident.id}"] button`);
check(await operator.$eval('#silence-value', i => i.value) === firstIncident.cause_key, 'Silence cause did not fill in the cause key');
await operator.select('#silence-duration', '1d');
await operator.type('#silence-comment', 'dashboard test');
const [silenceResponse] = await Promise.all([
  operator.waitForResponse(r => r.url().endsWith('/v1/silences') && r.request().method() === 'POST'),
  operator.click('#silence-submit'),
]);
check(silenceResponse.status() === 201, `POST /v1/silences from the UI: HTTP ${silenceResponse.status()}`);
await operator.waitForSelector('#silence-done');
const silences = (await apiGet('/v1/silences', readToken)).silences;
check(silences.length === 1, `GET /v1/silences: ${silences.length} in force, want 1`);
const silence = silences[0];
check(silence.matcher === 'cause' && silence.value === firstIncident.cause_key && silence.comment === 'dashboard test' &&
      silence.created_by === env.OPERATOR_NAME && silence.in_force,
      `silence as stored: ${JSON.stringify(silence)}`);
const hours = (Date.parse(silence.until) - Date.parse(silence.created)) / 3600000;
check(Math.abs(hours - 24) < 0.01, `silence lasts ${hours} h, want 24`);
check(await operator.$(`#silences tr[data-silence="${silence.id}"]`) !== null, 'the new silence is not in the table');
await shot(operator, 'incidents-silenced');
await Promise.all([
  operator.waitForResponse(r => r.url().endsWith('/v1/silences/' + silence.id) && r.request().method() === 'DELETE' && r.status() === 200),
  operator.click(`#silences tr[data-silence="${silence.id}"] button`),
]);
const ended = (await apiGet('/v1/silences?state=all', readToken)).silences.find(s => s.id === silence.id);
check(ended && !ended.in_force && ended.ended_by === env.OPERATOR_NAME, `silence after End now: ${JSON.stringify(ended)}`);
await operator.close();

await browser.close();
check(problems.length === 0, 'browser problems:\n  ' + problems.join('\n  '));
console.log(JSON.stringify({ok: true, seconds: (Date.now() - started) / 1000, filter: `${facetName}=${facetValue}`,
                            axe_minor_or_moderate: timings}));
