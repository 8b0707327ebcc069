// Browser test of the Hephaestus web UI: Debian's chromium driven by
// playwright-core against a running registry that serves ui/ at / and the
// API under /v2/.
//
//   node t/ui/browser-test.mjs FACTS      (FACTS: a JSON text or a file)
//   UI_TEST_FACTS='{...}' node t/ui/browser-test.mjs
//
// FACTS = fixtures.pl's output plus:
//   base         "http://127.0.0.1:PORT" (or UI_TEST_BASE)
//   expect       { user: "name" | "", tagDelete: bool, referrers: bool }
// Screenshots go to UI_TEST_OUT (default t/out/ui). Prints TAP lines and
// exits non-zero when a check fails.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const arg = process.argv[2] || process.env.UI_TEST_FACTS || '';
if (!arg) {
  console.error('usage: node browser-test.mjs FACTS-JSON-or-file');
  process.exit(2);
}
const facts = JSON.parse(arg.trim().startsWith('{') ? arg : fs.readFileSync(arg, 'utf8'));
const base = (process.env.UI_TEST_BASE || facts.base || '').replace(/\/$/, '');
const expect = { user: '', tagDelete: true, referrers: true, ...(facts.expect || {}) };
const outDir = process.env.UI_TEST_OUT || path.resolve(path.dirname(new URL(import.meta.url).pathname), '../out/ui');
fs.mkdirSync(outDir, { recursive: true });
const host = new URL(base).host;

let n = 0;
let failed = 0;
function ok(cond, name, detail) {
  n++;
  if (cond) {
    console.log(`ok ${n} - ${name}`);
  } else {
    failed++;
    console.log(`not ok ${n} - ${name}`);
    if (detail !== undefined) {
      for (const line of String(typeof detail === 'string' ? detail : JSON.stringify(detail)).split('\n')) console.log(`# ${line}`);
    }
  }
  return cond;
}
function is(got, want, name) {
  return ok(got === want, name, `got: ${JSON.stringify(got)}\nexpected: ${JSON.stringify(want)}`);
}
const note = (s) => console.log(`# ${s}`);

const T = 15000;
const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'heph-ui-chromium-'));
let context;
const consoleErrors = [];

async function shot(page, name) {
  const file = path.join(outDir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  note(`screenshot ${file}`);
}

async function step(name, fn) {
  try {
    await fn();
  } catch (e) {
    ok(false, `${name} (exception)`, e && e.stack ? e.stack.split('\n').slice(0, 6).join('\n') : String(e));
  }
}

async function textOf(loc) {
  return ((await loc.textContent({ timeout: T })) || '').trim();
}

// Waits for a condition evaluated in the page; returns true or false.
async function until(page, fn, arg, timeout = T) {
  try {
    await page.waitForFunction(fn, arg, { timeout });
    return true;
  } catch (e) {
    return false;
  }
}

async function apiJSON(page, url) {
  return page.evaluate(async (u) => {
    const r = await fetch(u, { cache: 'no-store' });
    return { status: r.status, body: r.ok ? await r.json() : null };
  }, url);
}

async function tagRowsLoaded(page, tag) {
  return until(page, (t) => {
    const b = document.querySelector(`tbody.tag[data-tag="${t}"]`);
    return b && !/Loading…/.test(b.textContent) && b.querySelector('.created');
  }, tag);
}

async function main() {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.UI_TEST_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-dev-shm-usage'],
    viewport: { width: 1280, height: 900 },
  });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
  const page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(T);
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));

  const repoNames = Object.keys(facts.repos).sort();

  // ---- repository list, paged two at a time (Link header) ----
  await step('repository list', async () => {
    await page.goto(`${base}/?pageSize=2#/`);
    const done = await until(page, (want) => {
      const s = document.getElementById('repo-status');
      return s && /\d+ repositor/.test(s.textContent) && !/loading/.test(s.textContent)
        && document.querySelectorAll('#repo-list li').length >= want;
    }, repoNames.length);
    ok(done, 'catalog loaded through all pages');
    const shown = await page.$$eval('#repo-list li', (lis) => lis.map((li) => li.dataset.name));
    is(JSON.stringify(shown), JSON.stringify(repoNames), 'all repositories listed, in order');
    const counts = await until(page, () => [...document.querySelectorAll('#repo-list .tagcount')].every((e) => e.dataset.count !== undefined));
    ok(counts, 'tag counts filled in lazily');
    for (const r of repoNames) {
      const want = Object.keys(facts.repos[r].tags).length;
      const got = await page.$eval(`#repo-list li[data-name="${r}"] .tagcount`, (e) => e.dataset.count);
      is(Number(got), want, `tag count of ${r}`);
    }
    if (expect.user) {
      is(await textOf(page.locator('#user')), `signed in as ${expect.user}`, 'header shows the signed-in user');
    } else {
      ok(await page.locator('#user').isHidden(), 'no user shown');
    }
    await shot(page, '01-repositories');
  });

  await step('filter repositories', async () => {
    await page.fill('#repo-filter', 'multi');
    ok(await until(page, () => document.querySelectorAll('#repo-list li').length === 1),
      'filter leaves one repository');
    is(await page.$eval('#repo-list li', (li) => li.dataset.name), 'demo/multi', 'filter keeps demo/multi');
    ok(/q=multi/.test(await page.evaluate(() => location.hash)), 'filter kept in the URL');
    await shot(page, '02-filtered');
    await page.click('#repo-list a');
    ok(await until(page, () => location.hash === '#/r/demo/multi'), 'link opens #/r/demo/multi');
  });

  // ---- repository with an image index ----
  await step('index repository', async () => {
    ok(await tagRowsLoaded(page, 'v1'), 'v1 details loaded');
    const want = facts.repos['demo/multi'].tags.v1;
    const indexDigest = facts.repos['demo/multi'].index.v1;
    const rowDigest = await page.$eval('tbody.tag[data-tag="v1"] tr.tag-row code[data-digest]', (e) => e.dataset.digest);
    is(rowDigest, indexDigest, 'v1 shows the index digest');
    is(await textOf(page.locator('tbody.tag[data-tag="v1"] tr.tag-row .type')), 'index', 'v1 type is index');
    const rows = await page.$$eval('tbody.tag[data-tag="v1"] tr.platform-row', (trs) => trs.map((tr) => ({
      platform: tr.dataset.platform,
      digest: tr.querySelector('code[data-digest]')?.dataset.digest,
      size: Number(tr.querySelector('.size')?.dataset.bytes),
      created: tr.querySelector('time')?.getAttribute('datetime'),
    })));
    is(rows.length, want.length, 'one row per platform');
    for (const w of want) {
      const r = rows.find((x) => x.platform === w.platform);
      ok(!!r, `platform ${w.platform} has a row`, rows);
      if (!r) continue;
      is(r.size, w.size, `${w.platform} size ${w.size}`);
      is(r.digest, w.digest, `${w.platform} digest`);
      is(r.created, w.created, `${w.platform} created`);
    }
    await shot(page, '03-repository-index');
  });

  // ---- repository with an image, two tags and an artifact ----
  const bb = facts.repos['library/busybox'];
  await step('image repository', async () => {
    await page.goto(`${base}/#/r/library/busybox`);
    for (const t of Object.keys(bb.tags)) ok(await tagRowsLoaded(page, t), `${t} details loaded`);
    for (const [t, [w]] of Object.entries(bb.tags)) {
      const got = await page.$eval(`tbody.tag[data-tag="${t}"] tr.tag-row`, (tr) => ({
        digest: tr.querySelector('code[data-digest]')?.dataset.digest,
        size: Number(tr.querySelector('.size')?.dataset.bytes),
        sizeTitle: tr.querySelector('.size')?.title,
        platform: tr.querySelector('.platform')?.textContent.trim(),
        type: tr.querySelector('.type')?.textContent.trim(),
        created: tr.querySelector('time')?.getAttribute('datetime'),
      }));
      is(got.digest, w.digest, `${t}: digest`);
      is(got.size, w.size, `${t}: size ${w.size} (config + layers)`);
      is(got.sizeTitle, `${w.size.toLocaleString('en-US')} bytes`, `${t}: exact size in the title`);
      if (w.artifact) {
        ok(got.type.startsWith('artifact') && got.type.includes(w.artifactType), `${t}: shown as artifact ${w.artifactType}`, got.type);
      } else {
        is(got.platform, w.platform, `${t}: platform`);
        is(got.type, 'image', `${t}: type image`);
        is(got.created, w.created, `${t}: created`);
      }
    }
    const short = await textOf(page.locator('tbody.tag[data-tag="1.36"] tr.tag-row code[data-digest]'));
    is(short, bb.tags['1.36'][0].digest.slice(7, 19), 'short digest is 12 hex digits');
    const copySrc = await page.getAttribute('tbody.tag[data-tag="1.36"] tr.tag-row button.copy', 'data-copy');
    is(copySrc, bb.tags['1.36'][0].digest, 'digest copy button copies the full digest');

    await page.selectOption('#tag-sort', 'date');
    ok(await until(page, () => document.querySelector('#tags tbody.tag')?.dataset.tag === 'sbom'), 'newest first puts sbom (2024-03-02) first');
    await page.selectOption('#tag-sort', 'name-desc');
    const wantOrder = JSON.stringify(Object.keys(bb.tags).sort().reverse());
    ok(await until(page, (w) => JSON.stringify([...document.querySelectorAll('#tags tbody.tag')].map((x) => x.dataset.tag)) === w, wantOrder),
      'name Z→A order', await page.$$eval('#tags tbody.tag', (bs) => bs.map((x) => x.dataset.tag)));
    await page.selectOption('#tag-sort', 'name');
    await page.fill('#tag-filter', '1.3');
    ok(await until(page, () => document.querySelectorAll('#tags tbody.tag').length === 1), 'tag filter leaves one tag');
    await page.fill('#tag-filter', '');
    ok(await until(page, (k) => document.querySelectorAll('#tags tbody.tag').length === k, Object.keys(bb.tags).length), 'clearing the filter shows all tags');
    await shot(page, '04-repository-image');
  });

  // ---- tag page ----
  await step('tag page', async () => {
    await page.click('tbody.tag[data-tag="1.36"] a[href$="/t/1.36"]');
    ok(await until(page, () => location.hash === '#/r/library/busybox/t/1.36'), 'tag link opens #/r/library/busybox/t/1.36');
    const w = bb.tags['1.36'][0];
    await page.waitForSelector('#manifest-json');
    is(await textOf(page.locator('#manifest-digest')), w.digest, 'tag page shows the digest');
    const mj = await textOf(page.locator('#manifest-json'));
    let parsed = null;
    try { parsed = JSON.parse(mj); } catch (e) { parsed = null; }
    ok(parsed && parsed.config && parsed.config.digest === w.config, 'manifest JSON shown and parses');
    ok(mj.includes('\n  "'), 'manifest JSON pretty-printed');
    const layers = await page.$$eval('#layers tr.layer', (trs) => trs.map((tr) => ({
      digest: tr.querySelector('code')?.title, size: Number(tr.querySelector('.size')?.dataset.bytes),
      mt: tr.querySelector('.mt')?.textContent })));
    is(JSON.stringify(layers.map((l) => [l.digest, l.size])), JSON.stringify(w.layers.map((l) => [l.digest, l.size])), 'layers with sizes');
    ok(layers.every((l) => l.mt === 'application/vnd.oci.image.layer.v1.tar+gzip'), 'layer media types');
    is(Number(await page.getAttribute('#layers .total .size', 'data-bytes')), w.size, 'total size on the tag page');
    await page.waitForSelector('#config dl');
    const cfg = await page.$eval('#config', (el) => {
      const get = (k) => el.querySelector(`[data-key="${k}"] dd`)?.textContent.trim();
      return { created: el.querySelector('[data-key="created"] time')?.getAttribute('datetime'), author: get('author'),
        entrypoint: get('entrypoint'), cmd: get('cmd'), env: get('env'), workdir: get('workdir'), user: get('user'),
        ports: get('ports'), platform: get('platform'), labels: el.querySelector('#labels')?.textContent,
        history: el.querySelectorAll('#history li').length };
    });
    is(cfg.created, w.created, 'config created');
    is(cfg.author, 'Hephaestus test suite', 'config author');
    is(cfg.entrypoint, '["/bin/busybox"]', 'config entrypoint');
    is(cfg.cmd, '["sh","-c","echo hello"]', 'config cmd');
    ok((cfg.env || '').includes('GREETING=hello world'), 'config env', cfg.env);
    is(cfg.workdir, '/srv', 'config working dir');
    is(cfg.user, 'nobody', 'config user');
    is(cfg.ports, '8080/tcp', 'config exposed ports');
    is(cfg.platform, w.platform, 'config platform');
    ok((cfg.labels || '').includes('com.example.team') && cfg.labels.includes('forge'), 'config labels');
    is(cfg.history, 3, 'build history steps');

    if (expect.referrers) {
      const [ref] = facts.referrers[w.digest];
      ok(await until(page, (d) => !!document.querySelector(`#referrers li.referrer[data-digest="${d}"]`), ref.digest),
        'referrer artifact listed');
      const group = await page.$eval(`#referrers li.referrer[data-digest="${ref.digest}"]`, (li) => li.closest('.ref-group')?.dataset.artifactType);
      is(group, ref.artifactType, 'referrer grouped by artifact type');
    } else {
      ok(await until(page, () => !!document.getElementById('referrers-unsupported')), 'referrers not supported message');
    }

    const pullWant = `docker pull ${host}/library/busybox:1.36`;
    is(await textOf(page.locator('#pull-cmd')), pullWant, 'pull command shown');
    await page.click('#pull button.copy');
    ok(await until(page, () => /Copied/.test(document.querySelector('#pull button.copy').textContent)), 'copy button reports Copied');
    const clip = await page.evaluate(() => navigator.clipboard.readText());
    is(clip, pullWant, 'clipboard holds the pull command');
    await shot(page, '05-tag');
  });

  await step('index tag page', async () => {
    await page.goto(`${base}/#/r/demo/multi/t/v1`);
    await page.waitForSelector('#platforms');
    const want = facts.repos['demo/multi'].tags.v1;
    ok(await until(page, (k) => [...document.querySelectorAll('#platforms .platform-row .size')].length === k, want.length), 'index page sizes loaded');
    for (const p of want) {
      const sz = await page.getAttribute(`#platforms tr[data-platform="${p.platform}"] .size`, 'data-bytes');
      is(Number(sz), p.size, `index page: ${p.platform} size`);
    }
    await shot(page, '06-index-tag');
    await page.click(`#platforms tr[data-platform="${want[1].platform}"] a`);
    ok(await until(page, (d) => document.getElementById('manifest-digest')?.textContent === d, want[1].digest), 'platform link opens the child manifest by digest');
    is(await textOf(page.locator('#pull-cmd')), `docker pull ${host}/demo/multi@${want[1].digest}`, 'pull by digest on a digest page');
  });

  await step('artifact page', async () => {
    await page.goto(`${base}/#/r/library/busybox/t/sbom`);
    await page.waitForSelector('#manifest-json');
    const body = await textOf(page.locator('main'));
    ok(body.includes('application/spdx+json'), 'artifact type shown');
    ok(await page.locator(`a[href$="/d/${bb.tags['1.36'][0].digest}"]`).count() > 0, 'subject linked');
  });

  // ---- errors and empty states ----
  await step('error states', async () => {
    await page.goto(`${base}/#/r/no/such-repo`);
    ok(await until(page, () => document.querySelector('[data-error-kind="notfound"] h2')?.textContent === 'Repository not found'), 'unknown repository: "Repository not found"');
    await page.goto(`${base}/#/r/library/busybox/t/no-such-tag`);
    ok(await until(page, () => /no-such-tag not found/.test(document.querySelector('[data-error-kind="notfound"] h2')?.textContent || '')), 'unknown tag: not found');

    await page.route('**/v2/_catalog*', (r) => r.fulfill({ status: 502, body: 'bad gateway' }));
    await page.goto(`${base}/#/`);
    ok(await until(page, () => !!document.querySelector('[data-error-kind="unavailable"]')), '502: registry not responding');
    await shot(page, '07-error-502');
    await page.unroute('**/v2/_catalog*');

    await page.route('**/v2/_catalog*', (r) => r.abort('connectionrefused'));
    await page.goto(`${base}/?pageSize=3#/`);
    ok(await until(page, () => /cannot be reached/.test(document.querySelector('[data-error-kind="network"]')?.textContent || '')), 'network error: registry cannot be reached',
      await page.evaluate(() => document.getElementById('app').textContent));
    await page.unroute('**/v2/_catalog*');

    await page.route('**/v2/library/busybox/tags/list*', (r) => r.fulfill({ status: 403, contentType: 'application/json',
      body: JSON.stringify({ errors: [{ code: 'DENIED', message: 'requested access to the resource is denied' }] }) }));
    await page.goto(`${base}/#/r/library/busybox`);
    ok(await until(page, () => /lacks access/.test(document.querySelector('[data-error-kind="forbidden"]')?.textContent || '')), '403: user lacks access');
    await page.unroute('**/v2/library/busybox/tags/list*');

    await page.route('**/v2/library/busybox/tags/list*', (r) => r.fulfill({ status: 401, contentType: 'application/json',
      body: JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }) }));
    await page.reload();
    ok(await until(page, () => !!document.querySelector('[data-error-kind="auth"]')), '401: sign-in required');
    await page.unroute('**/v2/library/busybox/tags/list*');

    await page.route('**/v2/library/busybox/manifests/1.36', (r) => r.fulfill({ status: 200,
      headers: { 'Content-Type': 'application/vnd.example.strange+json', 'Docker-Content-Digest': 'sha256:' + 'a'.repeat(64) },
      body: '{"schemaVersion":2,"mediaType":"application/vnd.example.strange+json"}' }));
    await page.goto(`${base}/#/r/library/busybox/t/1.36`);
    ok(await until(page, () => /Unknown manifest type/.test(document.querySelector('[data-error-kind="format"]')?.textContent || '')), 'unknown manifest type explained');
    await shot(page, '08-unknown-type');
    await page.unroute('**/v2/library/busybox/manifests/1.36');

    await page.route('**/v2/', (r) => r.fulfill({ status: 200, contentType: 'application/json', body: '{}' }));
    await page.goto(`${base}/#/r/library/busybox`);
    await page.reload();
    ok(await tagRowsLoaded(page, '1.36'), 'tags load with deletes off');
    is(await page.locator('[data-action^="delete"]').count(), 0, 'no delete controls without X-Registry-Delete');
    ok(await page.locator('#user').isHidden(), 'no user without X-Registry-User');
    await page.unroute('**/v2/');
  });

  // ---- phone and dark theme ----
  await step('phone and dark theme', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.goto(`${base}/#/r/demo/multi`);
    await page.reload();
    ok(await tagRowsLoaded(page, 'v1'), 'phone: tags load');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    ok(overflow <= 1, 'phone: no horizontal scrolling', `overflow ${overflow}px`);
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    ok(bg === 'rgb(22, 22, 20)', 'dark theme via prefers-color-scheme', bg);
    await shot(page, '09-phone-dark-repository');
    await page.goto(`${base}/#/r/library/busybox/t/1.36`);
    await page.waitForSelector('#config dl');
    await shot(page, '10-phone-dark-tag');
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.emulateMedia({ colorScheme: 'light' });
  });

  // ---- keyboard ----
  await step('keyboard', async () => {
    await page.goto(`${base}/#/`);
    await page.reload();
    await page.waitForSelector('#repo-list li');
    let reached = false;
    for (let i = 0; i < 12 && !reached; i++) {
      await page.keyboard.press('Tab');
      reached = await page.evaluate(() => document.activeElement?.closest('#repo-list') !== null);
    }
    ok(reached, 'Tab reaches the repository links');
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    ok(outline !== 'none', 'focused link has a visible outline', outline);
    await page.keyboard.press('Enter');
    ok(await until(page, () => location.hash.startsWith('#/r/')), 'Enter opens the repository');
  });

  // ---- deletes ----
  await step('delete a tag', async () => {
    await page.goto(`${base}/#/r/library/busybox`);
    await page.reload();
    ok(await tagRowsLoaded(page, 'latest'), 'latest loaded');
    await page.click('tbody.tag[data-tag="latest"] [data-action="delete-tag"]');
    await page.waitForSelector('dialog#confirm[open]');
    const dtext = await textOf(page.locator('dialog#confirm'));
    ok(dtext.includes('library/busybox:latest'), 'confirmation names the tag', dtext);
    await shot(page, '11-confirm-delete-tag');
    await page.click('#confirm-cancel');
    ok(await page.locator('tbody.tag[data-tag="latest"]').count() === 1, 'cancel keeps the tag');
    await page.click('tbody.tag[data-tag="latest"] [data-action="delete-tag"]');
    await page.click('#confirm-ok');
    if (expect.tagDelete) {
      ok(await until(page, () => !document.querySelector('tbody.tag[data-tag="latest"]')), 'deleted tag gone from the list without reload');
      const tl = await apiJSON(page, '/v2/library/busybox/tags/list');
      ok(tl.status === 200 && !tl.body.tags.includes('latest') && tl.body.tags.includes('1.36'), 'registry: latest gone, 1.36 kept', tl);
      await shot(page, '12-after-delete-tag');
    } else {
      ok(await until(page, () => /Delete failed/.test(document.getElementById('toast').textContent)), 'registry refusing a tag delete is reported');
      ok(await page.locator('tbody.tag[data-tag="latest"]').count() === 1, 'tag kept when the delete failed');
    }
  });

  await step('delete a manifest', async () => {
    const filler = repoNames.find((r) => r.startsWith('filler/'));
    const [w] = facts.repos[filler].tags.t;
    await page.goto(`${base}/#/r/${filler}`);
    ok(await tagRowsLoaded(page, 't'), `${filler} loaded`);
    await page.click('tbody.tag[data-tag="t"] [data-action="delete-manifest"]');
    await page.waitForSelector('dialog#confirm[open]');
    const dtext = await textOf(page.locator('dialog#confirm'));
    ok(dtext.includes(w.digest) && dtext.includes('Tags that go with it: t'), 'confirmation names the digest and its tags', dtext);
    await page.click('#confirm-ok');
    ok(await until(page, () => /No tags/.test(document.getElementById('tag-state').textContent)), 'empty state after the last tag went');
    const tl = await apiJSON(page, `/v2/${filler}/manifests/${w.digest}`);
    is(tl.status, 404, 'registry: manifest gone');
    await page.goto(`${base}/#/`);
    ok(await until(page, (r) => {
      const li = document.querySelector(`#repo-list li[data-name="${r}"] .tagcount`);
      return li && li.dataset.count === '0';
    }, filler), 'repository list shows 0 tags after the delete');
    await shot(page, '13-after-delete-manifest');
  });

  const errs = consoleErrors.filter((e) => !/Failed to load resource|net::ERR_/.test(e));
  ok(errs.length === 0, 'no JavaScript errors in the console', errs.join('\n'));
}

try {
  await main();
} catch (e) {
  ok(false, 'browser test ran', e && e.stack ? e.stack : String(e));
} finally {
  if (context) await context.close().catch(() => {});
  fs.rmSync(userDataDir, { recursive: true, force: true });
}
console.log(`1..${n}`);
console.log(`# ${n - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
