// The local control plane's web console (plain browser JavaScript, no framework, no build step).
// Views are hash routes: #/applications, #/deployments, #/deployments/<id>, #/hosts. Data comes
// from the console's read endpoint (/_console/api/...), actions go through the public CodeDeploy
// JSON API (POST / with X-Amz-Target, as the SDK sends them), and /_console/events (server-sent
// events) makes the open view refresh when the engine reports a change. Every piece of data is put
// into the page with textContent and DOM calls, never as HTML.

const API_PREFIX = 'CodeDeploy_20141006';
const TERMINAL = new Set(['Succeeded', 'Failed', 'Stopped']);
/** Events arrive in bursts (one per lifecycle event and host): one refresh per burst. */
const REFRESH_DELAY_MS = 150;

const main = document.getElementById('main');
const announcer = document.getElementById('announcer');
const connection = document.getElementById('connection');

let refreshTimer;
let renderSeq = 0;
let lastRoute = '';

// ---- DOM helpers

/** An element with attributes and children (strings become text nodes). */
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'className') node.className = value;
    else if (name.startsWith('on') && typeof value === 'function') node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function statusBadge(status) {
  return el('span', { className: `status status-${String(status).replace(/[^A-Za-z]/g, '')}` }, status ?? '—');
}

function deploymentLink(id) {
  return el('a', { href: `#/deployments/${encodeURIComponent(id)}`, 'data-key': `link-${id}` }, id);
}

function pad(n) {
  return String(n).padStart(2, '0');
}

/** Epoch seconds as local "YYYY-MM-DD HH:MM:SS" in a <time> element. */
function time(seconds) {
  if (typeof seconds !== 'number') return el('span', { className: 'muted' }, '—');
  const d = new Date(seconds * 1000);
  const text = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return el('time', { datetime: d.toISOString() }, text);
}

function duration(start, end) {
  if (typeof start !== 'number') return '—';
  if (typeof end !== 'number') return 'running';
  const s = Math.max(0, end - start);
  if (s < 60) return `${s.toFixed(1)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

function revisionText(revision) {
  if (!revision) return '—';
  if (revision.revisionType === 'S3' && revision.s3Location) {
    const l = revision.s3Location;
    const extra = [l.bundleType, l.version && `version ${l.version}`, l.eTag && `etag ${l.eTag}`].filter(Boolean).join(', ');
    return `s3://${l.bucket}/${l.key}${extra ? ` (${extra})` : ''}`;
  }
  if (revision.revisionType === 'GitHub' && revision.gitHubLocation) {
    const g = revision.gitHubLocation;
    return `github:${g.repository}@${g.commitId}`;
  }
  return revision.revisionType ?? '—';
}

function rollbackCell(info) {
  const r = info.rollbackInfo;
  if (!r) return '—';
  const parts = [];
  if (r.rollbackDeploymentId) parts.push(el('span', {}, 'rolled back by ', deploymentLink(r.rollbackDeploymentId)));
  if (r.rollbackTriggeringDeploymentId) parts.push(el('span', {}, 'rollback of ', deploymentLink(r.rollbackTriggeringDeploymentId)));
  if (parts.length === 0 && r.rollbackMessage) parts.push(r.rollbackMessage);
  return parts.length ? el('span', {}, ...parts.flatMap((p, i) => (i ? [el('br'), p] : [p]))) : '—';
}

function table(caption, headers, rows, empty) {
  if (rows.length === 0) return el('p', { className: 'muted' }, empty);
  return el(
    'table',
    {},
    el('caption', {}, caption),
    el(
      'thead',
      {},
      el(
        'tr',
        {},
        headers.map((h) => el('th', { scope: 'col' }, h)),
      ),
    ),
    el('tbody', {}, rows),
  );
}

function message(text, isError) {
  return el('p', { className: isError ? 'message error' : 'message', role: isError ? 'alert' : 'status' }, text);
}

/** Polite announcement for screen readers (status changes); keeps the last few. */
function announce(text) {
  announcer.append(el('p', {}, text));
  while (announcer.childElementCount > 5) announcer.firstElementChild.remove();
}

// ---- data

async function getJson(path) {
  const res = await fetch(path, { headers: { accept: 'application/json' }, cache: 'no-store' });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.message || `${path} answered HTTP ${res.status}`);
  return body;
}

/**
 * One public CodeDeploy API call, as the SDK sends it. The Content-Type and X-Amz-Target headers
 * make this a non-simple request: a page on another origin would need a CORS preflight, which the
 * control plane never grants, so other sites cannot make a browser send these actions (CSRF).
 */
async function callApi(operation, input) {
  const res = await fetch('/', {
    method: 'POST',
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `${API_PREFIX}.${operation}` },
    body: JSON.stringify(input),
  });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(`${operation} failed: ${body.__type ?? res.status}: ${body.message ?? ''}`);
  return body;
}

// ---- views

function applicationsView(data) {
  const content = [el('h1', {}, 'Applications')];
  if (data.applications.length === 0)
    content.push(el('p', { className: 'muted' }, 'No applications yet: aws deploy create-application --endpoint-url … creates one.'));
  for (const { application, groups } of data.applications) {
    content.push(el('h2', {}, application.applicationName));
    const rows = groups.map((g) =>
      el(
        'tr',
        {},
        el('th', { scope: 'row' }, g.deploymentGroupName),
        el('td', {}, g.deploymentConfigName),
        el('td', {}, `${g.deploymentStyle?.deploymentType ?? ''} ${g.deploymentStyle?.deploymentOption ?? ''}`.trim()),
        el(
          'td',
          {},
          (g.onPremisesInstanceTagFilters ?? []).map((f) => el('span', { className: 'tag' }, `${f.Key ?? '*'}=${f.Value ?? '*'}`)),
        ),
        el(
          'td',
          {},
          g.lastAttemptedDeployment
            ? [deploymentLink(g.lastAttemptedDeployment.deploymentId), ' ', statusBadge(g.lastAttemptedDeployment.status)]
            : '—',
        ),
        el('td', {}, g.lastSuccessfulDeployment ? deploymentLink(g.lastSuccessfulDeployment.deploymentId) : '—'),
      ),
    );
    content.push(
      table(
        `Deployment groups of ${application.applicationName}`,
        ['Group', 'Deployment config', 'Style', 'Instance tags', 'Last attempted', 'Last successful'],
        rows,
        'No deployment groups.',
      ),
    );
  }
  return content;
}

function deploymentsView(data) {
  const rows = data.deployments.map((d) =>
    el(
      'tr',
      { 'data-deployment': d.deploymentId },
      el('th', { scope: 'row' }, deploymentLink(d.deploymentId)),
      el('td', {}, `${d.applicationName} / ${d.deploymentGroupName}`),
      el('td', {}, statusBadge(d.status)),
      el('td', {}, d.deploymentConfigName),
      el('td', {}, el('code', {}, revisionText(d.revision))),
      el('td', {}, d.creator),
      el('td', { className: 'num' }, time(d.createTime)),
      el('td', { className: 'num' }, time(d.completeTime)),
      el('td', {}, rollbackCell(d)),
    ),
  );
  return [
    el('h1', {}, 'Deployments'),
    table(
      data.truncated.deployments ? `The ${data.deployments.length} newest deployments` : 'All deployments, newest first',
      ['Deployment', 'Application / group', 'Status', 'Config', 'Revision', 'Creator', 'Created', 'Completed', 'Rollback'],
      rows,
      'No deployments yet.',
    ),
  ];
}

function hostsView(data) {
  const rows = data.hosts.map((h) =>
    el(
      'tr',
      { 'data-host': h.instance.instanceName },
      el('th', { scope: 'row' }, h.instance.instanceName),
      el(
        'td',
        {},
        h.instance.deregisterTime ? ['Deregistered ', time(h.instance.deregisterTime)] : ['Registered ', time(h.instance.registerTime)],
      ),
      el(
        'td',
        {},
        h.instance.tags.length ? h.instance.tags.map((t) => el('span', { className: 'tag' }, `${t.Key}=${t.Value ?? ''}`)) : '—',
      ),
      el('td', { className: 'num' }, h.lastSeen ? [time(h.lastSeen), h.agentVersion ? ` (${h.agentVersion})` : ''] : 'never polled'),
      el(
        'td',
        {},
        h.lastDeployment ? [deploymentLink(h.lastDeployment.deploymentId), ' ', statusBadge(h.lastDeployment.targetStatus)] : '—',
      ),
      el('td', { className: 'muted' }, h.instance.iamSessionArn ?? h.instance.iamUserArn ?? ''),
    ),
  );
  return [
    el('h1', {}, 'Hosts'),
    table(
      'On-premises instances',
      ['Host', 'Registration', 'Tags', 'Agent last seen', 'Last deployment (host status)', 'IAM identity'],
      rows,
      'No on-premises instances registered.',
    ),
  ];
}

function actionButton(label, key, className, run) {
  return el('button', { type: 'button', className, 'data-key': key, onclick: (event) => void runAction(event.currentTarget, run) }, label);
}

async function runAction(button, run) {
  const area = document.getElementById('action-result');
  button.disabled = true;
  try {
    const text = await run();
    if (text && area) area.replaceChildren(message(text, false));
  } catch (err) {
    if (area) area.replaceChildren(message(err.message, true));
  } finally {
    button.disabled = false;
  }
}

function deploymentActions(d) {
  const buttons = [];
  if (!TERMINAL.has(d.status))
    buttons.push(
      actionButton('Stop deployment', 'stop', 'danger', async () => {
        if (!window.confirm(`Stop deployment ${d.deploymentId}?`)) return '';
        const out = await callApi('StopDeployment', { deploymentId: d.deploymentId });
        return `Stop requested: ${out.status ?? ''} ${out.statusMessage ?? ''}`.trim();
      }),
    );
  if (d.status === 'Ready' && d.deploymentStyle?.deploymentType === 'BLUE_GREEN')
    buttons.push(
      actionButton('Continue (reroute traffic)', 'continue', '', async () => {
        await callApi('ContinueDeployment', { deploymentId: d.deploymentId, deploymentWaitType: 'READY_WAIT' });
        return 'Continuing: traffic moves to the replacement instances.';
      }),
    );
  if (TERMINAL.has(d.status))
    buttons.push(
      actionButton('Redeploy this revision', 'redeploy', '', async () => {
        if (!window.confirm(`Deploy the revision of ${d.deploymentId} to ${d.applicationName} / ${d.deploymentGroupName} again?`))
          return '';
        const out = await callApi('CreateDeployment', {
          applicationName: d.applicationName,
          deploymentGroupName: d.deploymentGroupName,
          revision: d.revision,
          deploymentConfigName: d.deploymentConfigName,
          description: `Redeploy of ${d.deploymentId} (console)`,
        });
        window.location.hash = `#/deployments/${out.deploymentId}`;
        return `Created ${out.deploymentId}.`;
      }),
    );
  return el('div', { className: 'actions' }, buttons);
}

function detailsList(d) {
  const items = [
    ['Status', statusBadge(d.status)],
    ['Application', d.applicationName],
    ['Deployment group', d.deploymentGroupName],
    ['Deployment config', d.deploymentConfigName],
    ['Revision', el('code', {}, revisionText(d.revision))],
    ['Creator', d.creator],
    ['Created', time(d.createTime)],
    ['Completed', time(d.completeTime)],
    ['Rollback', rollbackCell(d)],
  ];
  if (d.description) items.push(['Description', d.description]);
  if (d.errorInformation) items.push(['Error', `${d.errorInformation.code}: ${d.errorInformation.message}`]);
  const o = d.deploymentOverview;
  if (o)
    items.push([
      'Hosts',
      `${o.Succeeded} succeeded, ${o.Failed} failed, ${o.InProgress} in progress, ${o.Pending} pending, ${o.Skipped} skipped`,
    ]);
  return el(
    'dl',
    { className: 'details' },
    items.flatMap(([k, v]) => [el('dt', {}, k), el('dd', { 'data-field': k }, v)]),
  );
}

function diagnosticsCell(e) {
  const diag = e.diagnostics;
  if (!diag) return '—';
  const parts = [];
  if (diag.errorCode && diag.errorCode !== 'Success') parts.push(el('strong', {}, diag.errorCode), ' ');
  if (diag.scriptName) parts.push(el('code', {}, diag.scriptName), ' ');
  if (diag.message) parts.push(el('span', { className: diag.errorCode === 'Success' ? 'muted' : '' }, diag.message));
  if (diag.logTail)
    parts.push(
      el('details', { 'data-key': `tail-${e.lifecycleEventName}` }, el('summary', {}, 'Script output (tail)'), el('pre', {}, diag.logTail)),
    );
  return parts.length ? parts : '—';
}

function hostTimeline(target, blueGreen) {
  const rows = target.lifecycleEvents.map((e) =>
    el(
      'tr',
      { 'data-event': e.lifecycleEventName },
      el('th', { scope: 'row' }, e.lifecycleEventName),
      el('td', { 'data-field': 'status' }, statusBadge(e.status)),
      el('td', { className: 'num' }, time(e.startTime)),
      el('td', { className: 'num' }, time(e.endTime)),
      el('td', { className: 'num' }, duration(e.startTime, e.endTime)),
      el('td', {}, diagnosticsCell(e)),
    ),
  );
  const headingId = `host-${target.targetId}`;
  return el(
    'section',
    { className: 'host', 'data-host': target.targetId, 'aria-labelledby': headingId },
    el(
      'div',
      { className: 'host-heading' },
      el('h3', { id: headingId }, target.targetId),
      statusBadge(target.status),
      blueGreen && target.instanceLabel ? el('span', { className: 'muted' }, `${target.instanceLabel} fleet`) : null,
      el('span', { className: 'muted' }, 'updated ', time(target.lastUpdatedAt)),
    ),
    table(
      `Lifecycle events on ${target.targetId}`,
      ['Event', 'Status', 'Start', 'End', 'Duration', 'Diagnostics'],
      rows,
      'No lifecycle events yet.',
    ),
  );
}

function deploymentView(view) {
  const d = view.deployment;
  return [
    el('p', {}, el('a', { href: '#/deployments' }, '← All deployments')),
    el('h1', {}, 'Deployment ', d.deploymentId),
    deploymentActions(d),
    el('div', { id: 'action-result' }),
    detailsList(d),
    el('h2', {}, 'Hosts'),
    view.targets.length
      ? view.targets.map((t) => hostTimeline(t, d.deploymentStyle?.deploymentType === 'BLUE_GREEN'))
      : el('p', { className: 'muted' }, 'No hosts targeted (yet).'),
  ];
}

// ---- routing and rendering

function currentRoute() {
  const hash = window.location.hash.replace(/^#\/?/, '');
  const [view, id] = hash.split('/');
  if (view === 'deployments' && id) {
    let decoded = id;
    try {
      decoded = decodeURIComponent(id);
    } catch {
      // A malformed escape: look the text up as typed (the server answers 404).
    }
    return { view: 'deployment', id: decoded };
  }
  if (view === 'deployments' || view === 'hosts') return { view };
  return { view: 'applications' };
}

function titleFor(route) {
  if (route.view === 'deployment') return `Deployment ${route.id}`;
  return route.view[0].toUpperCase() + route.view.slice(1);
}

async function render() {
  const seq = ++renderSeq;
  const route = currentRoute();
  const routeKey = route.view + (route.id ?? '');
  const navView = route.view === 'deployment' ? 'deployments' : route.view;
  for (const a of document.querySelectorAll('nav a[data-route]')) {
    if (a.dataset.route === navView) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  let content;
  try {
    if (route.view === 'deployment') content = deploymentView(await getJson(`/_console/api/deployments/${encodeURIComponent(route.id)}`));
    else {
      const data = await getJson('/_console/api/overview');
      content = route.view === 'deployments' ? deploymentsView(data) : route.view === 'hosts' ? hostsView(data) : applicationsView(data);
    }
  } catch (err) {
    content = [el('h1', {}, titleFor(route)), message(`Could not load this view: ${err.message}`, true)];
  }
  if (seq !== renderSeq) return; // a newer render is on its way
  // Keep keyboard focus, open <details> and the last action's message across live refreshes.
  const focusedKey = document.activeElement?.dataset?.key;
  const open = new Set([...main.querySelectorAll('details[open][data-key]')].map((d) => d.dataset.key));
  const result = routeKey === lastRoute ? document.getElementById('action-result')?.cloneNode(true) : undefined;
  main.replaceChildren(...content.flat());
  for (const d of main.querySelectorAll('details[data-key]')) if (open.has(d.dataset.key)) d.open = true;
  if (result) document.getElementById('action-result')?.replaceWith(result);
  if (focusedKey) main.querySelector(`[data-key="${CSS.escape(focusedKey)}"]`)?.focus();
  document.title = `${titleFor(route)} · CodeDeploy local console`;
  if (routeKey !== lastRoute) {
    // After a route change (not on the first load), focus goes to the new view, as a page load would put it.
    if (lastRoute !== '') main.focus({ preventScroll: true });
    lastRoute = routeKey;
  }
}

function scheduleRefresh() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => void render(), REFRESH_DELAY_MS);
}

// ---- live events

function describe(event) {
  const route = currentRoute();
  if (event.type === 'deployment-status') return `Deployment ${event.deploymentId} is ${event.status}.`;
  if (route.view === 'deployment' && route.id === event.deploymentId) {
    if (event.type === 'lifecycle-event') return `${event.instanceName}: ${event.lifecycleEventName} ${event.status}.`;
    if (event.type === 'target-status') return `${event.instanceName} is ${event.status}.`;
  }
  return undefined;
}

function connect() {
  const source = new EventSource('/_console/events');
  source.addEventListener('open', () => {
    connection.dataset.state = 'live';
    connection.textContent = 'Live';
    scheduleRefresh(); // catch up on anything missed while disconnected
  });
  source.addEventListener('error', () => {
    connection.dataset.state = 'down';
    connection.textContent = 'Reconnecting…';
  });
  for (const type of ['deployment-status', 'lifecycle-event', 'target-status']) {
    source.addEventListener(type, (e) => {
      let event;
      try {
        event = JSON.parse(e.data);
      } catch {
        return;
      }
      const text = describe(event);
      if (text) announce(text);
      scheduleRefresh();
    });
  }
}

window.addEventListener('hashchange', () => void render());
void render();
connect();
