// OCI Distribution API client used by the UI: same-origin fetches under /v2/.

export const MT = {
  OCI_MANIFEST: 'application/vnd.oci.image.manifest.v1+json',
  OCI_INDEX: 'application/vnd.oci.image.index.v1+json',
  DOCKER_MANIFEST: 'application/vnd.docker.distribution.manifest.v2+json',
  DOCKER_LIST: 'application/vnd.docker.distribution.manifest.list.v2+json',
  OCI_CONFIG: 'application/vnd.oci.image.config.v1+json',
  DOCKER_CONFIG: 'application/vnd.docker.container.image.v1+json',
};
export const ACCEPT = [MT.OCI_MANIFEST, MT.OCI_INDEX, MT.DOCKER_MANIFEST, MT.DOCKER_LIST].join(', ');
const INDEX_TYPES = new Set([MT.OCI_INDEX, MT.DOCKER_LIST]);
const IMAGE_TYPES = new Set([MT.OCI_MANIFEST, MT.DOCKER_MANIFEST]);
const CONFIG_TYPES = new Set([MT.OCI_CONFIG, MT.DOCKER_CONFIG]);

const NAME_RE = /^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$/;
const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const DIGEST_RE = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
export const validName = (n) => n.length <= 255 && NAME_RE.test(n);
export const validTag = (t) => TAG_RE.test(t);
export const validDigest = (d) => DIGEST_RE.test(d);

// kind: network | unavailable | auth | forbidden | notfound | unsupported |
//       server | client | format
export class RegistryError extends Error {
  constructor(kind, status, message, code = '', detail = undefined) {
    super(message);
    this.name = 'RegistryError';
    this.kind = kind;
    this.status = status;
    this.code = code;
    this.detail = detail;
  }
}

function errorFor(status, code, message) {
  const text = message || `HTTP ${status}`;
  if (status === 401) return new RegistryError('auth', status, text, code);
  if (status === 403) return new RegistryError('forbidden', status, text, code);
  if (status === 404) return new RegistryError('notfound', status, text, code);
  if (status === 405) return new RegistryError('unsupported', status, text, code);
  if (status === 502 || status === 503 || status === 504) {
    return new RegistryError('unavailable', status, text, code);
  }
  if (status >= 500) return new RegistryError('server', status, text, code);
  return new RegistryError('client', status, text, code);
}

const isAbort = (e) => e && e.name === 'AbortError';

export async function request(path, { method = 'GET', headers = {}, signal, cache = 'no-cache' } = {}) {
  let res;
  try {
    res = await fetch(path, { method, headers, signal, cache, credentials: 'same-origin' });
  } catch (e) {
    if (isAbort(e)) throw e;
    throw new RegistryError('network', 0, 'network error');
  }
  if (res.ok) return res;
  let code = '';
  let message = '';
  let detail;
  try {
    const body = await res.json();
    const first = body && Array.isArray(body.errors) ? body.errors[0] : null;
    if (first) {
      code = String(first.code || '');
      message = String(first.message || '');
      detail = first.detail;
    }
  } catch (e) {
    if (isAbort(e)) throw e;
  }
  const err = errorFor(res.status, code, message);
  err.detail = detail;
  throw err;
}

// The next page from a Link header, kept same-origin and under /v2/.
export function nextLink(header) {
  if (!header) return null;
  for (const part of header.split(',')) {
    const m = part.match(/<([^>]*)>\s*;(.*)$/);
    if (!m || !/rel="?next"?/.test(m[2])) continue;
    try {
      const u = new URL(m[1], location.href);
      if (u.pathname.startsWith('/v2/')) return u.pathname + u.search;
    } catch (e) {
      return null;
    }
  }
  return null;
}

// GET /v2/: what the server allows and who is signed in.
export async function probe(signal) {
  let res;
  try {
    res = await fetch('/v2/', { signal, cache: 'no-store', credentials: 'same-origin' });
  } catch (e) {
    if (isAbort(e)) throw e;
    return { ok: false, error: new RegistryError('network', 0, 'network error') };
  }
  const info = {
    ok: res.ok,
    status: res.status,
    deleteEnabled: (res.headers.get('X-Registry-Delete') || '').trim().toLowerCase() === 'enabled',
    user: (res.headers.get('X-Registry-User') || '').trim(),
  };
  if (!res.ok) info.error = errorFor(res.status, '', '');
  return info;
}

// Catalog pages (arrays of names), following Link; bounded.
export async function* catalog(pageSize, signal) {
  let url = `/v2/_catalog?n=${pageSize}`;
  const seen = new Set();
  for (let i = 0; url && i < 1000000 && !seen.has(url); i++) {
    seen.add(url);
    const res = await request(url, { signal });
    const body = await res.json();
    const repos = Array.isArray(body.repositories) ? body.repositories : [];
    yield repos;
    if (repos.length === 0) return;
    url = nextLink(res.headers.get('Link'));
  }
}

export async function tags(name, signal) {
  let url = `/v2/${name}/tags/list`;
  const all = [];
  const seen = new Set();
  for (let i = 0; url && i < 100000 && !seen.has(url); i++) {
    seen.add(url);
    const res = await request(url, { signal });
    const body = await res.json();
    const page = Array.isArray(body.tags) ? body.tags : [];
    all.push(...page);
    if (page.length === 0) break;
    url = nextLink(res.headers.get('Link'));
  }
  return all;
}

async function sha256(bytes) {
  if (!globalThis.crypto || !crypto.subtle) return null;
  const d = await crypto.subtle.digest('SHA-256', bytes);
  return 'sha256:' + [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

const manifestCache = new Map(); // "name@digest" -> manifest

// GET a manifest by tag or digest: { raw, json, mediaType, digest, size }.
export async function manifest(name, ref, signal) {
  const byDigest = ref.includes(':');
  if (byDigest && manifestCache.has(`${name}@${ref}`)) return manifestCache.get(`${name}@${ref}`);
  const res = await request(`/v2/${name}/manifests/${encodeURIComponent(ref)}`, {
    headers: { Accept: ACCEPT }, signal,
  });
  const bytes = await res.arrayBuffer();
  const raw = new TextDecoder().decode(bytes);
  let json;
  try {
    json = JSON.parse(raw);
  } catch (e) {
    throw new RegistryError('format', res.status, 'the manifest is not JSON');
  }
  const ct = (res.headers.get('Content-Type') || '').split(';')[0].trim();
  const mediaType = (json && json.mediaType) || ct || '';
  const digest = res.headers.get('Docker-Content-Digest') || (byDigest ? ref : await sha256(bytes));
  const m = { raw, json, mediaType, digest, size: bytes.byteLength };
  if (digest) manifestCache.set(`${name}@${digest}`, m);
  return m;
}

const blobCache = new Map(); // digest -> parsed JSON (content-addressed)

export async function blobJSON(name, desc, signal) {
  if (blobCache.has(desc.digest)) return blobCache.get(desc.digest);
  if (typeof desc.size === 'number' && desc.size > 4 * 1024 * 1024) {
    throw new RegistryError('format', 0, 'config blob too large to show');
  }
  const res = await request(`/v2/${name}/blobs/${desc.digest}`, { signal, cache: 'default' });
  let json;
  try {
    json = await res.json();
  } catch (e) {
    if (isAbort(e)) throw e;
    throw new RegistryError('format', res.status, 'the config blob is not JSON');
  }
  blobCache.set(desc.digest, json);
  return json;
}

// Referrers index, or null when the registry has no referrers API.
export async function referrers(name, digest, signal) {
  try {
    const res = await request(`/v2/${name}/referrers/${digest}`, {
      headers: { Accept: MT.OCI_INDEX }, signal,
    });
    const body = await res.json();
    return Array.isArray(body.manifests) ? body.manifests : [];
  } catch (e) {
    if (e instanceof RegistryError && e.kind === 'notfound' && e.code !== 'NAME_UNKNOWN') return null;
    if (e instanceof RegistryError && (e.kind === 'unsupported' || e.kind === 'format')) return null;
    throw e;
  }
}

export async function deleteManifest(name, ref) {
  await request(`/v2/${name}/manifests/${encodeURIComponent(ref)}`, { method: 'DELETE' });
  for (const key of [...manifestCache.keys()]) {
    if (key === `${name}@${ref}`) manifestCache.delete(key);
  }
}

export function kindOf(m) {
  const t = m.mediaType;
  if (INDEX_TYPES.has(t) || (!t && m.json && Array.isArray(m.json.manifests))) return 'index';
  if (IMAGE_TYPES.has(t) || (!t && m.json && m.json.config && Array.isArray(m.json.layers))) {
    const cfgType = m.json.config && m.json.config.mediaType;
    if (m.json.artifactType || (cfgType && !CONFIG_TYPES.has(cfgType))) return 'artifact';
    return 'image';
  }
  return 'unknown';
}

export const isImageConfig = (desc) => desc && CONFIG_TYPES.has(desc.mediaType);

export function platformString(p) {
  if (!p) return '';
  return [p.os || '?', p.architecture || '?', p.variant].filter(Boolean).join('/');
}

export function imageSize(json) {
  let size = json.config && typeof json.config.size === 'number' ? json.config.size : 0;
  for (const l of json.layers || []) size += typeof l.size === 'number' ? l.size : 0;
  return size;
}

// A summary of one manifest (image, artifact or index) for the tag table:
// { digest, mediaType, kind, size, created, platform, artifactType,
//   children: [summary...] (index only), error }
export async function describe(name, ref, { signal, limit, platform } = {}) {
  const run = limit || ((fn) => fn());
  const m = await run(() => manifest(name, ref, signal), signal);
  const s = { digest: m.digest, mediaType: m.mediaType, kind: kindOf(m), size: null,
    created: null, platform: platformString(platform), artifactType: '', children: null };
  if (s.kind === 'image' || s.kind === 'artifact') {
    s.size = imageSize(m.json);
    if (s.kind === 'artifact') {
      s.artifactType = m.json.artifactType || (m.json.config && m.json.config.mediaType) || '';
      const ann = m.json.annotations || {};
      s.created = ann['org.opencontainers.image.created'] || null;
      s.subject = m.json.subject ? m.json.subject.digest : '';
    } else if (isImageConfig(m.json.config)) {
      try {
        const cfg = await run(() => blobJSON(name, m.json.config, signal), signal);
        s.created = cfg.created || null;
        if (!s.platform) s.platform = platformString(cfg);
      } catch (e) {
        if (isAbort(e)) throw e;
        s.error = e;
      }
    }
  } else if (s.kind === 'index') {
    const list = Array.isArray(m.json.manifests) ? m.json.manifests : [];
    s.children = await Promise.all(list.map(async (d) => {
      try {
        return await describe(name, d.digest, { signal, limit, platform: d.platform });
      } catch (e) {
        if (isAbort(e)) throw e;
        return { digest: d.digest, mediaType: d.mediaType || '', kind: 'unknown', size: null,
          created: null, platform: platformString(d.platform), error: e, children: null };
      }
    }));
    const dates = s.children.map((c) => c.created).filter(Boolean).sort();
    s.created = dates.length ? dates[dates.length - 1] : null;
  }
  return s;
}

export function limiter(n) {
  let active = 0;
  const queue = [];
  const pump = () => {
    while (active < n && queue.length) {
      const job = queue.shift();
      if (job.signal && job.signal.aborted) {
        job.reject(new DOMException('aborted', 'AbortError'));
        continue;
      }
      active++;
      Promise.resolve().then(job.fn).then(job.resolve, job.reject).finally(() => {
        active--;
        pump();
      });
    }
  };
  return (fn, signal) => new Promise((resolve, reject) => {
    queue.push({ fn, resolve, reject, signal });
    pump();
  });
}
