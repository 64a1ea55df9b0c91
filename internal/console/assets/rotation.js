// The Keys page (#/keys, docs/console.md): how the stored values are
// encrypted, what a rotation has left to do, and the rotation itself, for
// PlatformAdmins. It reads GET /apis/secrets/v2/encryption-status, which
// counts sealed versions without decrypting anything, and never a value.

import { h, clear } from './dom.js';
import { call, paths, APIError } from './api.js';
import { confirm } from './dialogs.js';

const statusPath = '/apis/secrets/v2/encryption-status';

/** The text a user types to confirm a rotation. */
export const confirmText = 'rotate';

/**
 * keysAllowed reports whether the caller may see the Keys page: the
 * status call answers 401 or 403 to everyone but PlatformAdmins (and
 * everyone may when auth is disabled). HEAD checks only that, without
 * the counting, which reads every stored version.
 */
export async function keysAllowed() {
  try {
    await call('HEAD', statusPath);
    return true;
  } catch (e) {
    return !(e instanceof APIError && (e.status === 401 || e.status === 403));
  }
}

const provider = (p) => (p === '' ? 'development key' : p);
const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;

function stateOf(r) {
  if (!r.provider_configured) return 'not configured';
  return r.up_to_date ? 'up to date' : 'to rotate';
}

/** summary is the status in one or two sentences. */
function summary(st) {
  const lines = [h('p', {},
    'New values are encrypted with ', h('strong', { class: 'mono', text: provider(st.current_provider) }),
    `. Configured providers: ${st.providers.map(provider).join(', ')}.`)];
  const left = st.versions_to_rotate === 0
    ? `Every stored value is on the current provider (${plural(st.total_versions, 'stored version', 'stored versions')}).`
    : `${st.versions_to_rotate} of ${plural(st.total_versions, 'stored version', 'stored versions')} to rotate.`;
  lines.push(h('p', { class: st.versions_to_rotate === 0 ? 'ok' : 'to-rotate', 'data-to-rotate': String(st.versions_to_rotate), text: left }));
  if (st.unreadable_versions > 0) {
    lines.push(h('p', { class: 'error', text: `${plural(st.unreadable_versions, 'stored version', 'stored versions')} on a provider that is not configured cannot be read or rotated until the provider is configured again (docs/key-management.md, "When a key is lost").` }));
  }
  return lines;
}

function statusTable(st, ui) {
  if (st.records.length === 0) return h('div', { class: 'empty' }, h('p', { text: 'Nothing is stored yet.' }));
  const rows = st.records.map((r) => h('tr', { 'data-provider': r.provider, 'data-format': String(r.format), 'data-state': stateOf(r) },
    ui.cell('Provider', h('span', { class: 'mono', text: provider(r.provider) })),
    ui.cell('Format', String(r.format)),
    ui.cell('Current', String(r.current_versions)),
    ui.cell('Kept', String(r.kept_versions)),
    ui.cell('Recycle bin', String(r.recycle_bin_versions)),
    ui.cell('Total', String(r.total_versions)),
    ui.cell('State', h('span', { class: `key-state key-${stateOf(r).replace(/ /g, '-')}`, text: stateOf(r) }))));
  return ui.table('Stored versions per provider and format',
    ['Provider', 'Format', 'Current', 'Kept', 'Recycle bin', 'Total', 'State'], rows);
}

/** result shows what a rotation did, with the failures it listed. */
function result(r) {
  const parts = [h('p', { class: r.success ? 'ok' : 'error', 'data-rotated': String(r.rotated_secrets), 'data-failed': String(r.failed_count),
    text: `Rotated ${plural(r.rotated_secrets, 'secret', 'secrets')} and ${plural(r.deleted_secrets_rotated, 'recycle-bin entry', 'recycle-bin entries')} `
      + `(${plural(r.rotated_versions, 'version', 'versions')}), skipped ${r.skipped_secrets}, failed ${r.failed_count}.` })];
  if (r.failed_secrets.length) {
    parts.push(h('ul', { class: 'failures' }, r.failed_secrets.map((f) => h('li', {},
      h('span', { class: 'mono', text: `${f.workspace}/${f.name}` }), ` version ${f.version}: ${f.error}`))));
    if (r.failed_secrets.length < r.failed_count) {
      parts.push(h('p', { class: 'hint', text: `Only the first ${r.failed_secrets.length} failures are listed.` }));
    }
  }
  return parts;
}

/**
 * keysView renders the page into root. ui carries the shared widgets of
 * app.js (heading, table, cell, say).
 */
export async function keysView(root, ui) {
  const statusBox = h('section', { id: 'key-status', 'aria-live': 'polite', 'aria-label': 'Encryption status' });
  const out = h('section', { id: 'rotation-result', 'aria-live': 'polite', 'aria-label': 'Last rotation' });
  const load = async () => {
    const st = await call('GET', statusPath);
    clear(statusBox).append(...summary(st), statusTable(st, ui));
  };
  const btn = h('button', { type: 'button', class: 'primary', text: 'Rotate now' });
  btn.addEventListener('click', () => confirm({
    title: 'Rotate encryption keys?',
    message: 'Every stored value not on the current provider is re-encrypted under it, in every workspace. Values do not change. This can take a while with many secrets or a remote key provider.',
    action: 'Rotate now',
    typed: confirmText,
    run: async () => {
      const r = await call('POST', paths.rotate);
      clear(out).append(h('h2', { text: 'Last rotation' }), ...result(r));
    },
  }).then(async (done) => {
    if (!done) return;
    ui.say('Rotation finished; the status below is fresh.');
    try {
      await load();
    } catch (e) {
      clear(statusBox).append(h('p', { class: 'error', role: 'alert', text: e.message }));
    }
  }));
  root.append(ui.heading('Encryption keys', btn),
    h('p', { class: 'hint', text: 'Every value has its own data key, wrapped by a key provider. Rotation re-wraps what is not on the current provider (docs/key-management.md). Past rotations are in the audit trail as keys.rotate.' }),
    statusBox, out);
  await load();
}
