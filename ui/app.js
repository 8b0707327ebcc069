// Hephaestus web UI: browse the registry through the OCI Distribution API.
// Routes (hash based, shareable):
//   #/                       repository list (#/?q=filter)
//   #/r/<name>               repository: tags
//   #/r/<name>/t/<tag>       tag: manifest, layers, config, referrers
//   #/r/<name>/d/<digest>    a manifest by digest (index children, referrers)
// A repository whose own name ends in /t/<x> or /d/<x> gets a trailing slash
// (#/r/<name>/) so the route stays unambiguous.
import * as api from './api.js';
import { h, sizeEl, timeEl, shortDigest, copyButton, confirmDialog, toast } from './dom.js';

const DEFAULTS = { registryHost: '', catalogPageSize: 100, rowsShown: 200, concurrency: 4 };
let config = { ...DEFAULTS };
let server = { deleteEnabled: false, user: '' };
let limit = api.limiter(DEFAULTS.concurrency);
let viewAbort = null;
const tagCounts = new Map(); // name -> number | Error

const app = () => document.getElementById('app');

export function repoHref(name) {
  return `#/r/${name}${/\/[td]\/[^/]+$/.test(name) ? '/' : ''}`;
}
const tagHref = (name, tag) => `#/r/${name}/t/${tag}`;
const digestHref = (name, digest) => `#/r/${name}/d/${digest}`;

export function parseRoute(hash) {
  let p = hash.replace(/^#/, '');
  let query = new URLSearchParams();
  const qi = p.indexOf('?');
  if (qi >= 0) {
    query = new URLSearchParams(p.slice(qi + 1));
    p = p.slice(0, qi);
  }
  try {
    p = decodeURIComponent(p);
  } catch (e) {
    return { view: 'bad', query };
  }
  if (!p.startsWith('/r/')) return { view: 'list', query };
  const rest = p.slice(3);
  if (rest.endsWith('/')) return { view: 'repo', name: rest.slice(0, -1), query };
  let m = rest.match(/^(.+)\/t\/([^/]+)$/);
  if (m) return { view: 'tag', name: m[1], ref: m[2], query };
  m = rest.match(/^(.+)\/d\/([^/]+)$/);
  if (m) return { view: 'digest', name: m[1], ref: m[2], query };
  return { view: 'repo', name: rest, query };
}

function pullHost() {
  return config.registryHost || location.host;
}

// ---------- errors and empty states ----------

function describeError(err, what = {}) {
  const st = err.status ? ` (HTTP ${err.status}${err.code ? ` ${err.code}` : ''})` : '';
  switch (err.kind) {
    case 'network':
      return { title: 'The registry cannot be reached', text: 'The server did not answer: it may be down or restarting, or the network is gone.', retry: true };
    case 'unavailable':
      return { title: 'The registry is not responding', text: `The proxy in front of it answered that it is unavailable${st}.`, retry: true };
    case 'auth':
      return { title: 'Sign-in required', text: `You are not signed in, or your credentials are not accepted${st}. You lack access to ${what.target || 'this page'}.` };
    case 'forbidden':
      return { title: 'Access denied', text: `Your account lacks access to ${what.target || 'this page'}${st}.` };
    case 'notfound':
      if (err.code === 'NAME_UNKNOWN') {
        return { title: 'Repository not found', text: `The repository ${what.name || ''} does not exist; it may have been deleted${st}.`, back: true };
      }
      if (err.code === 'MANIFEST_UNKNOWN') {
        return { title: what.ref ? `${what.ref} not found` : 'Manifest not found', text: `No manifest is stored under ${what.ref || 'this reference'} in ${what.name || 'this repository'}; the tag or manifest may have been deleted${st}.`, back: true };
      }
      return { title: 'Not found', text: `${err.message}${st}.`, back: true };
    case 'unsupported':
      return { title: 'Not allowed by this registry', text: `${err.message}${st}.` };
    case 'format':
      return { title: 'Cannot show this', text: err.message };
    default:
      return { title: 'The registry reported an error', text: `${err.message}${st}.`, retry: err.kind === 'server' };
  }
}

function errorBox(err, what = {}) {
  const d = describeError(err, what);
  return h('div', { class: `state error kind-${err.kind || 'other'}`, role: 'alert', 'data-error-kind': err.kind || 'other' },
    h('h2', {}, d.title),
    h('p', {}, d.text),
    h('p', { class: 'actions' },
      d.retry ? h('button', { type: 'button', onclick: () => route() }, 'Retry') : null,
      d.back && what.name && what.ref ? h('a', { class: 'button', href: repoHref(what.name) }, `Back to ${what.name}`) : null,
      d.back ? h('a', { class: 'button', href: '#/' }, 'All repositories') : null));
}

function emptyState(title, ...text) {
  return h('div', { class: 'state empty' }, h('h2', {}, title), ...text.map((t) => h('p', {}, t)));
}

const isAbort = (e) => e && e.name === 'AbortError';

// ---------- chrome ----------

function setCrumbs(parts) {
  const nav = document.getElementById('crumbs');
  const items = [h('li', {}, h('a', { href: '#/' }, 'Repositories'))];
  parts.forEach((p, i) => {
    const last = i === parts.length - 1;
    items.push(h('li', {}, p.href && !last ? h('a', { href: p.href }, p.text)
      : h('span', { 'aria-current': last ? 'page' : null }, p.text)));
  });
  nav.replaceChildren(h('ol', {}, items));
}

function setBanner(err) {
  const b = document.getElementById('banner');
  if (!err) {
    b.hidden = true;
    b.replaceChildren();
    return;
  }
  const d = describeError(err, { target: 'this registry' });
  b.replaceChildren(h('strong', {}, d.title), ' ', d.text);
  b.hidden = false;
}

function throttle(fn) {
  let pending = false;
  return () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      fn();
    });
  };
}

function filterBox(id, label, value, onChange) {
  const input = h('input', { type: 'search', id, value, placeholder: label, 'aria-label': label, autocomplete: 'off', spellcheck: 'false' });
  let t = 0;
  input.addEventListener('input', () => {
    clearTimeout(t);
    t = setTimeout(() => onChange(input.value.trim()), 120);
  });
  return input;
}

// ---------- repository list ----------

async function viewList(ctx) {
  setCrumbs([]);
  document.title = 'Repositories · Hephaestus';
  let filter = ctx.query.get('q') || '';
  const names = [];
  let done = false;
  let failure = null;
  let shown = config.rowsShown;
  const rows = new Map();
  const status = h('p', { id: 'repo-status', class: 'muted', role: 'status', 'aria-live': 'polite' }, 'Loading repositories…');
  const list = h('ul', { id: 'repo-list', class: 'repo-list' });
  const more = h('button', { type: 'button', id: 'repo-more', class: 'more', hidden: true }, 'Show more');
  const holder = h('div', { id: 'repo-state' });
  const input = filterBox('repo-filter', 'Filter repositories', filter, (v) => {
    filter = v;
    shown = config.rowsShown;
    const q = v ? `?q=${encodeURIComponent(v)}` : '';
    history.replaceState(null, '', `#/${q}`);
    render();
  });

  const observer = new IntersectionObserver((entries) => {
    for (const e of entries) {
      if (!e.isIntersecting) continue;
      observer.unobserve(e.target);
      loadCount(e.target.dataset.name, e.target.querySelector('.tagcount'));
    }
  });
  ctx.signal.addEventListener('abort', () => observer.disconnect());

  function loadCount(name, el) {
    const cached = tagCounts.get(name);
    if (typeof cached === 'number') {
      showCount(el, cached);
      return;
    }
    limit(() => api.tags(name, ctx.signal), ctx.signal).then((t) => {
      tagCounts.set(name, t.length);
      showCount(el, t.length);
    }, (e) => {
      if (isAbort(e)) return;
      el.textContent = e.kind === 'notfound' ? 'gone' : e.kind === 'forbidden' || e.kind === 'auth' ? 'no access' : '?';
      el.title = describeError(e, { name }).text;
    });
  }
  const showCount = (el, n) => {
    el.textContent = n === 1 ? '1 tag' : `${n} tags`;
    el.dataset.count = n;
  };

  function row(name) {
    let li = rows.get(name);
    if (!li) {
      li = h('li', { dataset: { name } },
        h('a', { href: repoHref(name) }, name),
        h('span', { class: 'tagcount muted', 'aria-label': `tags in ${name}` }, '…'));
      rows.set(name, li);
      observer.observe(li);
    }
    return li;
  }

  const render = throttle(() => {
    const f = filter.toLowerCase();
    const matching = f ? names.filter((n) => n.toLowerCase().includes(f)) : names;
    list.replaceChildren(...matching.slice(0, shown).map(row));
    more.hidden = matching.length <= shown;
    more.textContent = `Show more (${matching.length - shown} more)`;
    const loaded = `${names.length} ${names.length === 1 ? 'repository' : 'repositories'}`;
    status.textContent = (f ? `${matching.length} of ${loaded} match` : loaded) + (done ? '' : ' — loading more…');
    if (failure) {
      status.textContent = names.length ? `${loaded} loaded; the rest could not be.` : '';
      if (!holder.firstChild || !holder.firstChild.matches('.state.error')) {
        holder.replaceChildren(errorBox(failure, { target: 'the repository list' }));
      }
    } else if (done && names.length === 0) {
      holder.replaceChildren(emptyState('No repositories yet',
        `Push an image to get started: docker push ${pullHost()}/<name>:<tag>`));
    } else if (done && matching.length === 0) {
      holder.replaceChildren(emptyState('Nothing matches', `No repository name contains "${filter}".`));
    } else {
      holder.replaceChildren();
    }
  });
  more.addEventListener('click', () => {
    shown += config.rowsShown;
    render();
  });

  app().replaceChildren(
    h('div', { class: 'page-head' }, h('h1', {}, 'Repositories'), input),
    status, holder, list, more);

  const pageSize = Number(new URLSearchParams(location.search).get('pageSize')) || config.catalogPageSize;
  try {
    for await (const page of api.catalog(pageSize, ctx.signal)) {
      names.push(...page);
      render();
      await new Promise((r) => setTimeout(r, 0));
    }
    done = true;
    render();
  } catch (e) {
    if (isAbort(e)) return;
    done = true;
    failure = e;
    render();
  }
}

// ---------- repository ----------

function typeLabel(s) {
  if (!s) return '';
  if (s.kind === 'index') return 'index';
  if (s.kind === 'artifact') return 'artifact';
  if (s.kind === 'image') return 'image';
  return 'unknown';
}

async function deleteFlow({ name, tag, digest, tagsOfDigest }) {
  if (tag) {
    const ok = await confirmDialog({
      title: `Delete tag ${name}:${tag}?`,
      body: [h('p', {}, 'The tag ', h('strong', { class: 'what' }, `${name}:${tag}`), ' goes. The manifest it points to stays, reachable by digest and by its other tags.')],
      confirmLabel: 'Delete tag',
    });
    if (!ok) return false;
  } else {
    const others = tagsOfDigest || [];
    const ok = await confirmDialog({
      title: `Delete manifest ${shortDigest(digest)}?`,
      body: [
        h('p', {}, 'The manifest ', h('code', { class: 'what' }, digest), ` goes from ${name}, with every tag pointing to it.`),
        others.length ? h('p', {}, 'Tags that go with it: ', h('strong', { class: 'what-tags' }, others.join(', ')), '.') : null,
      ],
      confirmLabel: 'Delete manifest',
    });
    if (!ok) return false;
  }
  try {
    await api.deleteManifest(name, tag || digest);
  } catch (e) {
    const d = describeError(e, { name, ref: tag || digest });
    toast(`Delete failed: ${d.title}. ${d.text}`, 'error');
    return false;
  }
  tagCounts.delete(name);
  toast(tag ? `Deleted tag ${name}:${tag}` : `Deleted manifest ${shortDigest(digest)} from ${name}`);
  return true;
}

async function viewRepo(ctx) {
  const { name } = ctx;
  setCrumbs([{ text: name }]);
  document.title = `${name} · Hephaestus`;
  if (!api.validName(name)) {
    app().replaceChildren(errorBox(new api.RegistryError('client', 0, `"${name}" is not a valid repository name`), { name }));
    return;
  }
  let filter = ctx.query.get('q') || '';
  let sort = ctx.query.get('sort') || 'name';
  let shown = config.rowsShown;
  const state = new Map(); // tag -> { tag, info, error, body }
  const status = h('p', { id: 'tag-status', class: 'muted', role: 'status', 'aria-live': 'polite' }, 'Loading tags…');
  const holder = h('div', { id: 'tag-state' });
  const table = h('table', { id: 'tags', class: 'grid', hidden: true },
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col' }, 'Tag'), h('th', { scope: 'col' }, 'Digest'), h('th', { scope: 'col' }, 'Type'),
      h('th', { scope: 'col' }, 'Platform'), h('th', { scope: 'col' }, 'Size'), h('th', { scope: 'col' }, 'Created'),
      server.deleteEnabled ? h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Actions')) : null)));
  const more = h('button', { type: 'button', class: 'more', hidden: true }, 'Show more');
  const input = filterBox('tag-filter', 'Filter tags', filter, (v) => {
    filter = v;
    shown = config.rowsShown;
    sync();
  });
  const sortSel = h('select', { id: 'tag-sort', 'aria-label': 'Sort tags' },
    h('option', { value: 'name' }, 'Name A→Z'), h('option', { value: 'name-desc' }, 'Name Z→A'),
    h('option', { value: 'date' }, 'Newest first'), h('option', { value: 'date-asc' }, 'Oldest first'));
  sortSel.value = sort;
  sortSel.addEventListener('change', () => {
    sort = sortSel.value;
    sync();
  });
  const pull = `docker pull ${pullHost()}/${name}`;

  function sync() {
    const q = new URLSearchParams();
    if (filter) q.set('q', filter);
    if (sort !== 'name') q.set('sort', sort);
    const qs = q.toString();
    history.replaceState(null, '', `${repoHref(name)}${qs ? `?${qs}` : ''}`);
    render();
  }

  function actions(entry) {
    if (!server.deleteEnabled) return null;
    const { tag, info } = entry;
    const td = h('td', { class: 'actions', 'data-label': 'Actions' },
      h('button', { type: 'button', class: 'danger small', 'data-action': 'delete-tag', 'aria-label': `Delete tag ${tag}`,
        onclick: async () => {
          if (await deleteFlow({ name, tag })) removeTags([tag]);
        } }, 'Delete tag'));
    if (info && info.digest) {
      td.append(h('button', { type: 'button', class: 'danger small', 'data-action': 'delete-manifest', 'aria-label': `Delete manifest of ${tag}`,
        onclick: async () => {
          const same = [...state.values()].filter((x) => x.info && x.info.digest === info.digest).map((x) => x.tag);
          if (await deleteFlow({ name, digest: info.digest, tagsOfDigest: same })) removeTags(same);
        } }, 'Delete manifest'));
    }
    return td;
  }

  function removeTags(list) {
    for (const t of list) {
      const e = state.get(t);
      if (e && e.body) e.body.remove();
      state.delete(t);
    }
    render();
  }

  function digestCell(s) {
    if (!s || !s.digest) return h('td', { 'data-label': 'Digest' }, h('span', { class: 'muted' }, '—'));
    return h('td', { 'data-label': 'Digest', class: 'digest' },
      h('code', { title: s.digest, 'data-digest': s.digest }, shortDigest(s.digest)), ' ',
      copyButton(s.digest, `Copy digest ${s.digest}`));
  }

  function fill(entry) {
    const { tag, info, error } = entry;
    const body = entry.body || (entry.body = h('tbody', { class: 'tag', dataset: { tag } }));
    const main = h('tr', { class: 'tag-row' },
      h('th', { scope: 'row', 'data-label': 'Tag' }, h('a', { href: tagHref(name, tag) }, tag)));
    if (error) {
      const d = describeError(error, { name, ref: tag });
      main.append(h('td', { colspan: 5, class: 'error-cell', 'data-label': 'Error' }, `${d.title}: ${d.text}`));
      const act = actions(entry);
      if (act) main.append(act);
      body.replaceChildren(main);
      return;
    }
    if (!info) {
      main.append(h('td', { colspan: 5, class: 'muted', 'data-label': '' }, 'Loading…'));
      const act = actions(entry);
      if (act) main.append(act);
      body.replaceChildren(main);
      return;
    }
    const kind = info.kind === 'unknown' ? h('span', { class: 'warn', title: info.mediaType }, `unknown type ${info.mediaType || ''}`) : typeLabel(info);
    main.append(digestCell(info),
      h('td', { 'data-label': 'Type', class: 'type', title: info.mediaType }, kind,
        info.artifactType ? h('div', { class: 'muted small' }, info.artifactType) : null),
      h('td', { 'data-label': 'Platform', class: 'platform' },
        info.kind === 'index' ? `${info.children.length} platforms` : info.platform || h('span', { class: 'muted' }, '—')),
      h('td', { 'data-label': 'Size', class: 'size-cell' }, info.kind === 'index' ? h('span', { class: 'muted' }, 'see platforms') : sizeEl(info.size)),
      h('td', { 'data-label': 'Created', class: 'created' }, timeEl(info.created)));
    const act = actions(entry);
    if (act) main.append(act);
    const rowsOut = [main];
    for (const c of info.children || []) {
      const r = h('tr', { class: 'platform-row', dataset: { platform: c.platform || '' } },
        h('td', { 'data-label': 'Tag', class: 'indent' }, h('a', { href: digestHref(name, c.digest) }, `↳ ${c.platform || 'unknown platform'}`)),
        digestCell(c),
        h('td', { 'data-label': 'Type', class: 'type', title: c.mediaType }, c.error ? h('span', { class: 'warn' }, describeError(c.error).title) : typeLabel(c)),
        h('td', { 'data-label': 'Platform', class: 'platform' }, c.platform || '—'),
        h('td', { 'data-label': 'Size', class: 'size-cell' }, sizeEl(c.size)),
        h('td', { 'data-label': 'Created', class: 'created' }, timeEl(c.created)));
      if (server.deleteEnabled) r.append(h('td', { class: 'actions' }));
      rowsOut.push(r);
    }
    body.replaceChildren(...rowsOut);
  }

  function load(entry) {
    if (entry.loading) return;
    entry.loading = true;
    api.describe(name, entry.tag, { signal: ctx.signal, limit }).then((info) => {
      entry.info = info;
      fill(entry);
      if (sort.startsWith('date')) render();
      else updateStatus();
    }, (e) => {
      if (isAbort(e)) return;
      entry.error = e;
      fill(entry);
      updateStatus();
    });
  }

  const cmp = {
    name: (a, b) => (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0),
    'name-desc': (a, b) => (a.tag < b.tag ? 1 : a.tag > b.tag ? -1 : 0),
    date: (a, b) => dateKey(b).localeCompare(dateKey(a)) || cmp.name(a, b),
    'date-asc': (a, b) => (dateKey(a) || '\uffff').localeCompare(dateKey(b) || '\uffff') || cmp.name(a, b),
  };
  const dateKey = (e) => (e.info && e.info.created ? new Date(e.info.created).toISOString() : '');

  function updateStatus() {
    const total = state.size;
    const pending = [...state.values()].filter((e) => !e.info && !e.error).length;
    const f = filter.toLowerCase();
    const matching = f ? [...state.keys()].filter((t) => t.toLowerCase().includes(f)).length : total;
    status.textContent = `${f ? `${matching} of ` : ''}${total} ${total === 1 ? 'tag' : 'tags'}${pending ? ` — loading details of ${pending}…` : ''}`;
  }

  const render = throttle(() => {
    const f = filter.toLowerCase();
    const entries = [...state.values()].filter((e) => !f || e.tag.toLowerCase().includes(f)).sort(cmp[sort] || cmp.name);
    const visible = entries.slice(0, shown);
    for (const e of visible) {
      if (!e.body) fill(e);
      load(e);
    }
    const bodies = visible.map((e) => e.body);
    const current = [...table.tBodies];
    if (current.length !== bodies.length || current.some((b, i) => b !== bodies[i])) {
      for (const b of current) if (!bodies.includes(b)) b.remove();
      for (const b of bodies) table.append(b);
    }
    table.hidden = visible.length === 0;
    more.hidden = entries.length <= shown;
    more.textContent = `Show more (${entries.length - shown} more)`;
    if (state.size === 0) {
      holder.replaceChildren(emptyState('No tags', `${name} has no tags (left). Push one: docker push ${pullHost()}/${name}:<tag>`));
    } else if (entries.length === 0) {
      holder.replaceChildren(emptyState('Nothing matches', `No tag contains "${filter}".`));
    } else {
      holder.replaceChildren();
    }
    updateStatus();
  });
  more.addEventListener('click', () => {
    shown += config.rowsShown;
    render();
  });

  app().replaceChildren(
    h('div', { class: 'page-head' }, h('h1', {}, name),
      h('div', { class: 'pull' }, h('code', { id: 'repo-pull' }, pull), copyButton(pull, 'Copy pull command'))),
    h('div', { class: 'toolbar' }, input, h('label', { class: 'sort' }, 'Sort ', sortSel)),
    status, holder, h('div', { class: 'table-wrap' }, table), more);

  try {
    const list = await api.tags(name, ctx.signal);
    for (const t of list) state.set(t, { tag: t, info: null, error: null, body: null });
    tagCounts.set(name, list.length);
    render();
  } catch (e) {
    if (isAbort(e)) return;
    status.textContent = '';
    app().replaceChildren(h('div', { class: 'page-head' }, h('h1', {}, name)),
      errorBox(e, { name, target: `the repository ${name}` }));
  }
}

// ---------- tag / manifest ----------

function dl(pairs) {
  const items = [];
  for (const [k, v, key] of pairs) {
    if (v === null || v === undefined || v === '' || (Array.isArray(v) && v.length === 0)) continue;
    items.push(h('div', { class: 'kv', dataset: { key: key || k.toLowerCase().replace(/\W+/g, '-') } },
      h('dt', {}, k), h('dd', {}, v instanceof Node ? v : Array.isArray(v) ? v : String(v))));
  }
  return h('dl', { class: 'facts' }, items);
}

const cmdText = (v) => (Array.isArray(v) ? JSON.stringify(v) : v ? String(v) : '');

function layersTable(json) {
  const layers = json.layers || [];
  const rows = layers.map((l, i) => h('tr', { class: 'layer' },
    h('td', { 'data-label': '#' }, String(i + 1)),
    h('td', { 'data-label': 'Digest', class: 'digest' }, h('code', { title: l.digest, 'data-digest': l.digest }, shortDigest(l.digest)), ' ', copyButton(l.digest, `Copy layer digest ${l.digest}`)),
    h('td', { 'data-label': 'Media type', class: 'mt' }, l.mediaType || ''),
    h('td', { 'data-label': 'Size', class: 'size-cell' }, sizeEl(l.size))));
  if (json.config) {
    rows.push(h('tr', { class: 'config-row' },
      h('td', { 'data-label': '#' }, 'config'),
      h('td', { 'data-label': 'Digest', class: 'digest' }, h('code', { title: json.config.digest }, shortDigest(json.config.digest))),
      h('td', { 'data-label': 'Media type', class: 'mt' }, json.config.mediaType || ''),
      h('td', { 'data-label': 'Size', class: 'size-cell' }, sizeEl(json.config.size))));
  }
  return h('section', { id: 'layers', 'aria-labelledby': 'layers-h' },
    h('h2', { id: 'layers-h' }, `Layers (${layers.length})`, ' ', h('span', { class: 'muted total' }, 'total ', sizeEl(api.imageSize(json)))),
    h('div', { class: 'table-wrap' }, h('table', { class: 'grid' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, '#'), h('th', { scope: 'col' }, 'Digest'), h('th', { scope: 'col' }, 'Media type'), h('th', { scope: 'col' }, 'Size'))),
      h('tbody', {}, rows))));
}

function configSection(cfg) {
  const c = cfg.config || {};
  const env = (c.Env || []).map((e) => h('li', {}, h('code', {}, e)));
  const labels = Object.entries(c.Labels || {}).map(([k, v]) => h('tr', {}, h('th', { scope: 'row' }, k), h('td', {}, v)));
  const ports = Object.keys(c.ExposedPorts || {});
  const volumes = Object.keys(c.Volumes || {});
  return h('section', { id: 'config', 'aria-labelledby': 'config-h' },
    h('h2', { id: 'config-h' }, 'Image configuration'),
    dl([
      ['Created', cfg.created ? timeEl(cfg.created) : ''],
      ['Author', cfg.author],
      ['Platform', api.platformString(cfg)],
      ['Entrypoint', cmdText(c.Entrypoint) && h('code', {}, cmdText(c.Entrypoint))],
      ['Cmd', cmdText(c.Cmd) && h('code', {}, cmdText(c.Cmd))],
      ['Working dir', c.WorkingDir && h('code', {}, c.WorkingDir), 'workdir'],
      ['User', c.User && h('code', {}, c.User)],
      ['Exposed ports', ports.join(', '), 'ports'],
      ['Volumes', volumes.join(', ')],
      ['Stop signal', c.StopSignal],
      ['Env', env.length ? h('ul', { class: 'plain' }, env) : ''],
    ]),
    labels.length ? h('div', {}, h('h3', {}, 'Labels'), h('div', { class: 'table-wrap' }, h('table', { class: 'kvtable', id: 'labels' }, h('tbody', {}, labels)))) : null,
    historySection(cfg.history || []));
}

function historySection(hist) {
  if (!hist.length) return null;
  return h('div', { id: 'history' }, h('h3', {}, `Build history (${hist.length} steps)`),
    h('ol', { class: 'history' }, hist.map((x) => h('li', {},
      h('div', { class: 'muted small' }, timeEl(x.created), x.empty_layer ? ' · no layer' : '', x.comment ? ` · ${x.comment}` : ''),
      h('code', { class: 'cmd' }, x.created_by || '(no command recorded)')))));
}

async function referrersSection(name, digest, signal) {
  const sec = h('section', { id: 'referrers', 'aria-labelledby': 'ref-h' }, h('h2', { id: 'ref-h' }, 'Referrers'),
    h('p', { class: 'muted' }, 'Loading…'));
  (async () => {
    try {
      const list = await limit(() => api.referrers(name, digest, signal), signal);
      if (list === null) {
        sec.replaceChildren(sec.firstChild, h('p', { class: 'muted', id: 'referrers-unsupported' }, 'Referrers not supported by this registry.'));
        return;
      }
      if (list.length === 0) {
        sec.replaceChildren(sec.firstChild, h('p', { class: 'muted' }, 'No artifacts refer to this manifest.'));
        return;
      }
      const groups = new Map();
      for (const d of list) {
        const t = d.artifactType || '(no artifact type)';
        if (!groups.has(t)) groups.set(t, []);
        groups.get(t).push(d);
      }
      sec.replaceChildren(sec.firstChild, ...[...groups].map(([t, ds]) => h('div', { class: 'ref-group', dataset: { artifactType: t } },
        h('h3', {}, t, h('span', { class: 'muted' }, ` (${ds.length})`)),
        h('ul', { class: 'plain' }, ds.map((d) => {
          const ann = d.annotations || {};
          return h('li', { class: 'referrer', dataset: { digest: d.digest } },
            h('a', { href: digestHref(name, d.digest) }, h('code', {}, shortDigest(d.digest))), ' ',
            sizeEl(d.size), ' ',
            ann['org.opencontainers.image.created'] ? timeEl(ann['org.opencontainers.image.created']) : null);
        })))));
    } catch (e) {
      if (isAbort(e)) return;
      sec.replaceChildren(sec.firstChild, errorBox(e, { name, target: 'the referrers' }));
    }
  })();
  return sec;
}

async function viewManifest(ctx) {
  const { name, ref } = ctx;
  const byDigest = ctx.view === 'digest';
  setCrumbs([{ text: name, href: repoHref(name) }, { text: byDigest ? shortDigest(ref) : ref }]);
  document.title = `${name}${byDigest ? '@' : ':'}${ref} · Hephaestus`;
  if (!api.validName(name) || (byDigest ? !api.validDigest(ref) : !api.validTag(ref))) {
    app().replaceChildren(errorBox(new api.RegistryError('client', 0, `"${name}${byDigest ? '@' : ':'}${ref}" is not a valid reference`), { name }));
    return;
  }
  app().replaceChildren(h('p', { class: 'muted' }, 'Loading manifest…'));
  let m;
  try {
    m = await limit(() => api.manifest(name, ref, ctx.signal), ctx.signal);
  } catch (e) {
    if (isAbort(e)) return;
    app().replaceChildren(h('div', { class: 'page-head' }, h('h1', {}, `${name}${byDigest ? '@' : ':'}${byDigest ? shortDigest(ref) : ref}`)),
      errorBox(e, { name, ref, target: `${name}` }));
    return;
  }
  const kind = api.kindOf(m);
  const json = m.json || {};
  const pull = `docker pull ${pullHost()}/${name}${byDigest ? `@${ref}` : `:${ref}`}`;
  const title = byDigest ? `${name}@${shortDigest(ref)}` : `${name}:${ref}`;
  const parts = [];

  const del = server.deleteEnabled ? h('div', { class: 'actions' },
    byDigest ? null : h('button', { type: 'button', class: 'danger', 'data-action': 'delete-tag', onclick: async () => {
      if (await deleteFlow({ name, tag: ref })) location.hash = repoHref(name);
    } }, 'Delete tag'),
    m.digest ? h('button', { type: 'button', class: 'danger', 'data-action': 'delete-manifest', onclick: async () => {
      let same = [];
      try {
        const all = await api.tags(name, ctx.signal);
        const found = await Promise.all(all.map((t) => limit(() => api.manifest(name, t, ctx.signal), ctx.signal)
          .then((x) => (x.digest === m.digest ? t : null), () => null)));
        same = found.filter(Boolean);
      } catch (e) {
        same = byDigest ? [] : [ref];
      }
      if (await deleteFlow({ name, digest: m.digest, tagsOfDigest: same })) location.hash = repoHref(name);
    } }, 'Delete manifest') : null) : null;

  const summary = [
    ['Digest', m.digest ? h('span', {}, h('code', { id: 'manifest-digest', class: 'break' }, m.digest), ' ', copyButton(m.digest, 'Copy digest')) : 'unknown'],
    ['Media type', h('code', { id: 'manifest-type' }, m.mediaType || '(none)'), 'media-type'],
    ['Kind', kind === 'unknown' ? h('span', { class: 'warn' }, `unknown manifest type ${m.mediaType || ''}`) : kind],
  ];
  if (kind === 'image' || kind === 'artifact') summary.push(['Total size', sizeEl(api.imageSize(json)), 'size']);
  if (kind === 'artifact') summary.push(['Artifact type', json.artifactType || (json.config && json.config.mediaType)]);
  if (json.subject) {
    summary.push(['Subject', h('a', { href: digestHref(name, json.subject.digest) }, h('code', {}, json.subject.digest))]);
  }
  const ann = Object.entries(json.annotations || {});
  parts.push(h('div', { class: 'page-head' }, h('h1', {}, title), del),
    dl(summary),
    h('div', { class: 'pull', id: 'pull' }, h('code', { id: 'pull-cmd' }, pull), copyButton(pull, 'Copy pull command')));
  if (ann.length) {
    parts.push(h('section', { id: 'annotations' }, h('h2', {}, 'Annotations'),
      h('div', { class: 'table-wrap' }, h('table', { class: 'kvtable' }, h('tbody', {}, ann.map(([k, v]) => h('tr', {}, h('th', { scope: 'row' }, k), h('td', {}, v))))))));
  }

  if (kind === 'unknown') {
    parts.push(h('div', { class: 'state error', role: 'alert', 'data-error-kind': 'format' },
      h('h2', {}, 'Unknown manifest type'),
      h('p', {}, `This registry stores a manifest of type "${m.mediaType || 'none'}", which this browser cannot show in detail. The raw manifest is below.`)));
  }

  const configHolder = h('div', { id: 'config-holder' });
  if (kind === 'index') {
    const children = Array.isArray(json.manifests) ? json.manifests : [];
    const tbody = h('tbody', {});
    parts.push(h('section', { id: 'platforms' }, h('h2', {}, `Platforms (${children.length})`),
      h('div', { class: 'table-wrap' }, h('table', { class: 'grid' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Platform'), h('th', { scope: 'col' }, 'Digest'), h('th', { scope: 'col' }, 'Size'), h('th', { scope: 'col' }, 'Created'))),
        tbody))));
    for (const d of children) {
      const tr = h('tr', { class: 'platform-row', dataset: { platform: api.platformString(d.platform) } },
        h('th', { scope: 'row', 'data-label': 'Platform' }, h('a', { href: digestHref(name, d.digest) }, api.platformString(d.platform) || 'unknown')),
        h('td', { 'data-label': 'Digest', class: 'digest' }, h('code', { title: d.digest }, shortDigest(d.digest)), ' ', copyButton(d.digest, `Copy digest ${d.digest}`)),
        h('td', { 'data-label': 'Size', class: 'size-cell' }, h('span', { class: 'muted' }, '…')),
        h('td', { 'data-label': 'Created', class: 'created' }, h('span', { class: 'muted' }, '…')));
      tbody.append(tr);
      api.describe(name, d.digest, { signal: ctx.signal, limit, platform: d.platform }).then((s) => {
        tr.children[2].replaceChildren(sizeEl(s.size));
        tr.children[3].replaceChildren(timeEl(s.created));
      }, (e) => {
        if (isAbort(e)) return;
        tr.children[2].replaceChildren(h('span', { class: 'warn' }, describeError(e, { name, ref: d.digest }).title));
      });
    }
  } else if (kind === 'image' || kind === 'artifact') {
    parts.push(layersTable(json));
    if (kind === 'image' && json.config) {
      parts.push(configHolder);
      configHolder.append(h('p', { class: 'muted' }, 'Loading image configuration…'));
      limit(() => api.blobJSON(name, json.config, ctx.signal), ctx.signal).then((cfg) => {
        configHolder.replaceChildren(configSection(cfg));
      }, (e) => {
        if (isAbort(e)) return;
        configHolder.replaceChildren(errorBox(e, { name, target: 'the image configuration' }));
      });
    }
  }
  if (m.digest) parts.push(await referrersSection(name, m.digest, ctx.signal));

  let pretty = m.raw;
  try {
    pretty = JSON.stringify(JSON.parse(m.raw), null, 2);
  } catch (e) {
    pretty = m.raw;
  }
  parts.push(h('section', { id: 'manifest' }, h('h2', {}, 'Manifest'),
    h('div', { class: 'actions' }, copyButton(m.raw, 'Copy manifest JSON'), h('span', { class: 'muted small' }, ` ${m.size} bytes`)),
    h('pre', { id: 'manifest-json', tabindex: '0', 'aria-label': 'Manifest JSON' }, pretty)));

  app().replaceChildren(...parts);
}

// ---------- boot ----------

async function route() {
  if (viewAbort) viewAbort.abort();
  viewAbort = new AbortController();
  const r = parseRoute(location.hash || '#/');
  const ctx = { ...r, signal: viewAbort.signal };
  window.scrollTo(0, 0);
  try {
    if (r.view === 'repo') await viewRepo(ctx);
    else if (r.view === 'tag' || r.view === 'digest') await viewManifest(ctx);
    else await viewList(ctx);
  } catch (e) {
    if (isAbort(e)) return;
    app().replaceChildren(errorBox(e instanceof api.RegistryError ? e : new api.RegistryError('client', 0, String(e && e.message ? e.message : e))));
  }
  document.body.dataset.ready = '1';
}

async function boot() {
  try {
    const mod = await import('./config.js');
    config = { ...DEFAULTS, ...(mod.default || {}) };
  } catch (e) {
    config = { ...DEFAULTS };
  }
  limit = api.limiter(Math.max(1, Number(config.concurrency) || DEFAULTS.concurrency));
  const info = await api.probe();
  server = { deleteEnabled: !!info.deleteEnabled, user: info.user || '' };
  if (!info.ok && info.error && info.error.kind !== 'auth') setBanner(info.error);
  const u = document.getElementById('user');
  if (server.user) {
    u.textContent = `signed in as ${server.user}`;
    u.hidden = false;
  }
  document.body.dataset.deleteEnabled = server.deleteEnabled ? '1' : '0';
  window.addEventListener('hashchange', () => {
    route();
    app().focus({ preventScroll: true });
  });
  await route();
}

boot();
