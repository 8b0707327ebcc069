// Small DOM and formatting helpers.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function formatSize(n) {
  if (typeof n !== 'number' || !isFinite(n)) return '';
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB', 'PB'];
  let v = n;
  let i = -1;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0)} ${units[i]}`;
}

export function sizeEl(n) {
  if (typeof n !== 'number') return h('span', { class: 'muted' }, '—');
  return h('span', { class: 'size', 'data-bytes': n, title: `${n.toLocaleString('en-US')} bytes` },
    formatSize(n));
}

// "2024-05-10T09:30:00Z" -> <time> "2024-05-10 09:30 UTC"
export function timeEl(iso) {
  if (!iso) return h('span', { class: 'muted' }, '—');
  const d = new Date(iso);
  if (isNaN(d.getTime())) return h('span', {}, String(iso));
  const text = d.toISOString().replace('T', ' ').replace(/:\d\d(\.\d+)?Z$/, ' UTC');
  return h('time', { datetime: iso, title: d.toString() }, text);
}

export const shortDigest = (d) => {
  if (!d) return '';
  const i = d.indexOf(':');
  return i >= 0 ? d.slice(i + 1, i + 13) : d.slice(0, 12);
};

let toastTimer = 0;
export function toast(msg, kind = 'info') {
  const el = document.getElementById('toast');
  if (!el) return;
  el.textContent = msg;
  el.className = `toast show ${kind}`;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.className = 'toast'; }, 3500);
}

export async function copyText(text) {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch (e) {
    // fall through to the textarea way
  }
  const ta = h('textarea', { class: 'offscreen', readonly: true, 'aria-hidden': 'true' });
  ta.value = text;
  document.body.append(ta);
  ta.select();
  let ok = false;
  try {
    ok = document.execCommand('copy');
  } catch (e) {
    ok = false;
  }
  ta.remove();
  return ok;
}

// A real button that copies `text`; data-copy holds what it copies.
export function copyButton(text, label) {
  const b = h('button', { type: 'button', class: 'copy', 'data-copy': text, 'aria-label': label, title: label },
    'Copy');
  b.addEventListener('click', async () => {
    const ok = await copyText(text);
    b.textContent = ok ? 'Copied' : 'Copy failed';
    toast(ok ? `Copied: ${text}` : 'Could not copy; select the text instead', ok ? 'info' : 'error');
    setTimeout(() => { b.textContent = 'Copy'; }, 1500);
  });
  return b;
}

// Modal confirmation; resolves true when confirmed.
export function confirmDialog({ title, body, confirmLabel = 'Delete' }) {
  const dlg = document.getElementById('confirm');
  dlg.querySelector('#confirm-title').textContent = title;
  const content = dlg.querySelector('#confirm-body');
  content.replaceChildren(...(Array.isArray(body) ? body : [body]));
  const ok = dlg.querySelector('#confirm-ok');
  ok.textContent = confirmLabel;
  return new Promise((resolve) => {
    const done = () => {
      dlg.removeEventListener('close', done);
      resolve(dlg.returnValue === 'confirm');
    };
    dlg.returnValue = '';
    dlg.addEventListener('close', done);
    dlg.showModal();
    dlg.querySelector('#confirm-cancel').focus();
  });
}
