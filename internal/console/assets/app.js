// The Coffer console: one page, hash routes, the public JSON API only
// (docs/console.md).
//
//   #/ws/{workspace}                 secrets of a workspace
//   #/ws/{workspace}/secret/{name}   versions of a secret
//   #/ws/{workspace}/bin             recycle bin
//   #/ws/{workspace}/members         members and workspace settings
//   #/ws/{workspace}/audit           the workspace's audit trail
//   #/audit                          the platform's audit trail (PlatformAdmins)
//   #/keys                           encryption status and key rotation (rotation.js)

import { h, clear, id } from './dom.js';
import { call, paths, query, APIError, setToken, onUnauthorized } from './api.js';
import * as signin from './signin.js';
import { modal, confirm } from './dialogs.js';
import { broken, secretNameRules, workspaceNameRules } from './names.js';
import { relative, exact } from './time.js';
import { keysView, keysAllowed } from './rotation.js';

const $ = (sel) => document.querySelector(sel);
const main = $('#main');
let viewRoot = main; // the element the view being built renders into
const state = { workspaces: [], ws: null, auditAll: false, signedOut: false, list: { search: '', sort: '-created_at', page: 1, pageSize: 25 } };

// ---- messages ------------------------------------------------------------

function say(msg) {
  $('#status').textContent = msg;
}

function showError(e) {
  const box = $('#error');
  // Once signed out, the refusals of calls still on their way are old news:
  // the page says so already.
  if (state.signedOut && e instanceof APIError && e.status === 401) return;
  if (!e) {
    box.hidden = true;
    box.textContent = '';
    return;
  }
  box.textContent = e instanceof APIError || e instanceof Error ? e.message : String(e);
  box.hidden = false;
}

// ---- small widgets -------------------------------------------------------

function time(iso) {
  return h('time', { datetime: iso || '', title: exact(iso), text: relative(iso) });
}

function field(label, control, hint) {
  const hintID = hint ? id('hint') : null;
  if (hintID) control.setAttribute('aria-describedby', hintID);
  return h('div', { class: 'field' },
    h('label', { for: control.id, text: label }),
    control,
    hint ? h('div', { id: hintID, class: 'hint' }, hint) : null);
}

/** nameField is a name input checked against rules as the user types. */
function nameField(label, rules, initial = '') {
  const input = h('input', { id: id('name'), type: 'text', required: true, autocomplete: 'off', spellcheck: 'false', value: initial });
  const items = rules.map((r) => h('li', { 'data-ok': 'unknown', text: r.text }));
  const listID = id('rules');
  const summary = h('p', { class: 'rule-summary', 'aria-live': 'polite' });
  input.setAttribute('aria-describedby', listID);
  const update = () => {
    const bad = broken(rules, input.value);
    rules.forEach((r, i) => {
      items[i].dataset.ok = input.value === '' ? 'unknown' : String(!bad.includes(r));
    });
    input.setAttribute('aria-invalid', String(input.value !== '' && bad.length > 0));
    summary.textContent = input.value === '' ? '' : bad.length ? `Not valid yet. Still needed: ${bad.map((r) => r.text).join('; ')}.` : 'The name is valid.';
    return bad.length === 0;
  };
  input.addEventListener('input', update);
  const el = h('div', { class: 'field' },
    h('label', { for: input.id, text: label }),
    input,
    h('div', { id: listID, class: 'rules' }, h('span', { text: 'A name:' }), h('ul', {}, items)),
    summary);
  return { el, input, valid: update };
}

/**
 * valueField is a masked value control with a reveal toggle, a multi-line
 * mode and a "load from file" button. Single-line values (API keys) go in a
 * password input; multi-line ones (PEM keys) in a textarea masked by the
 * stylesheet until revealed. Pasting text with line breaks into the
 * single-line input switches to the textarea, since an input would silently
 * drop the breaks. The value lives only in the control (or, from a file, in
 * this closure) until it is sent, and is cleared when the dialog closes.
 */
function valueField(label, optional) {
  const controlID = id('value');
  const common = { id: controlID, autocomplete: 'off', spellcheck: 'false', 'data-value': 'true' };
  const single = h('input', { ...common, type: 'password' });
  const multi = h('textarea', { ...common, rows: '6', class: 'masked', autocapitalize: 'off', wrap: 'off' });
  let control = single;
  let shown = false;
  let fromFile = null;
  const note = h('span', { class: 'hint', 'aria-live': 'polite' });
  const reveal = h('button', { type: 'button', class: 'secondary small', 'aria-pressed': 'false', 'data-reveal': 'true', text: 'Show' });
  reveal.setAttribute('aria-label', `Show ${label.toLowerCase()}`);
  const lines = h('button', { type: 'button', class: 'secondary small', 'aria-pressed': 'false', 'data-multiline': 'true', text: 'Multi-line' });
  const mask = () => {
    single.type = shown ? 'text' : 'password';
    multi.classList.toggle('masked', !shown);
    reveal.setAttribute('aria-pressed', String(shown));
    reveal.textContent = shown ? 'Hide' : 'Show';
  };
  reveal.addEventListener('click', () => { shown = !shown; mask(); });
  // swap puts the other control in place, carrying the value over; back to
  // one line only when the value has no line breaks to lose.
  const swap = (toMulti, text) => {
    const next = toMulti ? multi : single;
    if (next === control) return;
    if (!toMulti && /[\r\n]/.test(multi.value)) {
      note.textContent = 'The value has several lines: it stays multi-line.';
      return;
    }
    next.value = text !== undefined ? text : control.value;
    next.disabled = control.disabled;
    control.value = '';
    control.replaceWith(next);
    control = next;
    lines.setAttribute('aria-pressed', String(toMulti));
    next.focus();
  };
  lines.addEventListener('click', () => swap(control === single));
  single.addEventListener('paste', (ev) => {
    const text = ev.clipboardData && ev.clipboardData.getData('text/plain');
    if (!text || !/[\r\n]/.test(text)) return;
    ev.preventDefault();
    const before = single.value.slice(0, single.selectionStart ?? single.value.length);
    const after = single.value.slice(single.selectionEnd ?? single.value.length);
    swap(true, before + text + after);
    note.textContent = 'Pasted several lines: switched to a multi-line value.';
  });
  const fileInput = h('input', { id: id('file'), type: 'file', class: 'visually-hidden' });
  const fileButton = h('button', { type: 'button', class: 'secondary small', text: 'Load from file…' });
  fileButton.addEventListener('click', () => fileInput.click());
  fileInput.addEventListener('change', async () => {
    const f = fileInput.files && fileInput.files[0];
    if (!f) return;
    fromFile = await f.text();
    fileInput.value = '';
    control.value = '';
    control.disabled = true;
    note.textContent = `Loaded ${f.name} (${f.size} bytes). `;
    note.append(h('button', {
      type: 'button', class: 'link', text: 'Type a value instead',
      onclick: () => { fromFile = null; control.disabled = false; note.textContent = ''; control.focus(); },
    }));
  });
  for (const c of [single, multi]) c.addEventListener('input', () => { fromFile = null; });
  const hint = optional ? 'Leave empty to keep the current value. Values are never shown again once saved.'
    : 'Type or paste the value; choose Multi-line for keys such as PEM files, or load it from a file. It is never shown again once saved.';
  const hintID = id('hint');
  single.setAttribute('aria-describedby', hintID);
  multi.setAttribute('aria-describedby', hintID);
  const el = h('div', { class: 'field' },
    h('label', { for: controlID, text: label }),
    h('div', { class: 'value-row' }, single, reveal, lines, fileButton),
    fileInput,
    h('label', { for: fileInput.id, class: 'visually-hidden', text: `${label} file` }),
    h('div', { id: hintID, class: 'hint', text: hint }),
    note);
  return {
    el,
    value: () => (fromFile !== null ? fromFile : control.value),
    clear: () => { fromFile = null; single.value = ''; multi.value = ''; },
  };
}

function table(caption, headers, rows) {
  return h('div', { class: 'table-wrap' },
    h('table', {},
      h('caption', { class: 'visually-hidden', text: caption }),
      h('thead', {}, h('tr', {}, headers.map((t) => h('th', { scope: 'col', text: t })))),
      h('tbody', {}, rows)));
}

function cell(label, ...content) {
  return h('td', { 'data-label': label }, ...content);
}

function heading(text, ...extra) {
  const el = h('h1', { tabindex: '-1', text });
  return h('div', { class: 'view-head' }, el, ...extra);
}

// ---- workspaces ----------------------------------------------------------

async function loadWorkspaces() {
  const page = await call('GET', paths.workspaces + query({ page_size: 1000 }));
  state.workspaces = (page.data || []).map((w) => w.name).sort((a, b) => a.localeCompare(b));
  renderPicker();
}

function renderPicker() {
  const sel = $('#ws-select');
  clear(sel);
  const names = [...state.workspaces];
  if (state.ws && !names.includes(state.ws)) names.push(state.ws);
  for (const n of names) sel.append(h('option', { value: n, text: n, selected: n === state.ws }));
}

function newWorkspace() {
  const name = nameField('Name', workspaceNameRules);
  const descID = id('desc');
  const desc = h('input', { id: descID, type: 'text', autocomplete: 'off' });
  return modal({
    title: 'New workspace',
    body: [name.el, field('Description (optional)', desc)],
    submitText: 'Create workspace',
    onSubmit: async () => {
      if (!name.valid()) throw new Error('Fix the name first: it must follow every rule listed.');
      const ws = await call('POST', paths.workspaces, { name: name.input.value, description: desc.value || null });
      return ws.name;
    },
  }).then(async (created) => {
    if (!created) return;
    say(`Workspace ${created} created.`);
    await loadWorkspaces().catch(showError);
    location.hash = `#/ws/${encodeURIComponent(created)}`;
  });
}

// ---- secrets -------------------------------------------------------------

const sorts = [
  ['-created_at', 'Newest first'],
  ['created_at', 'Oldest first'],
  ['-updated_at', 'Recently updated'],
  ['updated_at', 'Least recently updated'],
  ['name', 'Name (A–Z)'],
  ['-name', 'Name (Z–A)'],
];

async function secretsView(ws) {
  const root = viewRoot;
  const l = state.list;
  const searchID = id('search');
  const search = h('input', { id: searchID, type: 'search', value: l.search, autocomplete: 'off', placeholder: 'Name or description' });
  const sortSel = h('select', { id: id('sort') }, sorts.map(([v, t]) => h('option', { value: v, text: t, selected: v === l.sort })));
  const sizeSel = h('select', { id: id('size') }, [10, 25, 50, 100].map((n) => h('option', { value: String(n), text: String(n), selected: n === l.pageSize })));
  const create = h('button', { type: 'button', class: 'primary', text: 'New secret', onclick: () => createSecret(ws) });
  const results = h('div', { id: 'results', 'aria-live': 'polite' });
  root.append(
    heading(`Secrets in ${ws}`, create),
    h('div', { class: 'toolbar', role: 'search' },
      field('Search', search),
      field('Sort by', sortSel),
      field('Per page', sizeSel)),
    results);

  let timer;
  search.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => { l.search = search.value; l.page = 1; loadSecrets(ws, results); }, 250);
  });
  sortSel.addEventListener('change', () => { l.sort = sortSel.value; l.page = 1; loadSecrets(ws, results); });
  sizeSel.addEventListener('change', () => { l.pageSize = Number(sizeSel.value); l.page = 1; loadSecrets(ws, results); });
  await loadSecrets(ws, results);
}

let listSeq = 0;

async function loadSecrets(ws, results) {
  const l = state.list;
  const seq = ++listSeq;
  let page;
  try {
    page = await call('GET', paths.secrets(ws) + query({ page: l.page, page_size: l.pageSize, sort: l.sort, search: l.search }));
  } catch (e) {
    if (seq === listSeq) showError(e);
    return;
  }
  if (seq !== listSeq) return; // a newer query is on its way
  showError(null);
  clear(results);
  results.setAttribute('aria-busy', 'false');
  const p = page.pagination;
  if (page.data.length === 0) {
    results.append(h('div', { class: 'empty' },
      h('p', { text: l.search ? `No secrets match “${l.search}”.` : 'This workspace has no secrets yet.' }),
      l.search ? null : h('p', { text: 'Add an API key or token with “New secret”. Jobs and services read it by name; people only ever write it.' })));
    return;
  }
  const rows = page.data.map((s) => h('tr', { 'data-name': s.name },
    cell('Name', h('a', { href: `#/ws/${encodeURIComponent(ws)}/secret/${encodeURIComponent(s.name)}`, class: 'mono', text: s.name })),
    cell('Description', s.description || h('span', { class: 'muted', text: '—' })),
    cell('Version', s.current_version ? String(s.current_version) : '—'),
    cell('Created', time(s.created_at)),
    cell('Updated', time(s.updated_at)),
    cell('Actions', h('div', { class: 'row-actions' },
      h('button', { type: 'button', class: 'secondary small', 'aria-label': `Edit ${s.name}`, text: 'Edit', onclick: () => editSecret(ws, s) }),
      h('button', { type: 'button', class: 'danger small', 'aria-label': `Delete ${s.name}`, text: 'Delete', onclick: () => deleteSecret(ws, s.name) })))));
  results.append(table(`Secrets in ${ws}`, ['Name', 'Description', 'Version', 'Created', 'Updated', 'Actions'], rows));
  const prev = h('button', { type: 'button', class: 'secondary', text: 'Previous', disabled: p.page <= 1,
    onclick: () => { l.page -= 1; loadSecrets(ws, results); } });
  const next = h('button', { type: 'button', class: 'secondary', text: 'Next', disabled: p.page >= p.total_pages,
    onclick: () => { l.page += 1; loadSecrets(ws, results); } });
  results.append(h('nav', { class: 'pager', 'aria-label': 'Pages' }, prev,
    h('span', { class: 'page-info', text: `Page ${p.page} of ${Math.max(p.total_pages, 1)} · ${p.total_results} ${p.total_results === 1 ? 'secret' : 'secrets'}` }),
    next));
}

function reloadSecrets(ws) {
  const results = $('#results');
  if (results) return loadSecrets(ws, results);
  return route();
}

function createSecret(ws) {
  const name = nameField('Name', secretNameRules);
  const desc = h('input', { id: id('desc'), type: 'text', autocomplete: 'off' });
  const value = valueField('Value', false);
  return modal({
    title: `New secret in ${ws}`,
    body: [name.el, field('Description (optional)', desc), value.el],
    submitText: 'Create secret',
    onSubmit: async () => {
      if (!name.valid()) throw new Error('Fix the name first: it must follow every rule listed.');
      if (value.value() === '') throw new Error('Enter a value: a secret cannot be empty.');
      const s = await call('POST', paths.secrets(ws), { name: name.input.value, description: desc.value || null, value: value.value() });
      return s.name;
    },
  }).then((created) => {
    value.clear();
    if (!created) return;
    say(`Secret ${created} created.`);
    reloadSecrets(ws);
  });
}

function editSecret(ws, s) {
  const desc = h('input', { id: id('desc'), type: 'text', autocomplete: 'off', value: s.description || '' });
  const value = valueField('New value', true);
  return modal({
    title: `Edit ${s.name}`,
    body: [field('Description', desc), value.el],
    submitText: 'Save',
    onSubmit: async () => {
      const body = { description: desc.value === '' ? null : desc.value };
      if (value.value() !== '') body.value = value.value();
      await call('PATCH', paths.secret(ws, s.name), body);
      return body.value !== undefined ? 'value' : 'description';
    },
  }).then((what) => {
    value.clear();
    if (!what) return;
    say(what === 'value' ? `Secret ${s.name} updated: a new version was created.` : `Secret ${s.name} updated.`);
    reloadSecrets(ws);
  });
}

function deleteSecret(ws, name) {
  return confirm({
    title: `Delete ${name}?`,
    message: 'The secret moves to the recycle bin, from where it can be restored until it is purged. Jobs that read it will fail meanwhile.',
    action: 'Delete secret',
    typed: name,
    run: () => call('DELETE', paths.secret(ws, name)),
  }).then((done) => {
    if (!done) return;
    say(`Secret ${name} deleted (in the recycle bin).`);
    reloadSecrets(ws);
  });
}

// ---- versions ------------------------------------------------------------

async function versionsView(ws, name) {
  const root = viewRoot;
  const back = h('a', { href: `#/ws/${encodeURIComponent(ws)}`, text: `← Secrets in ${ws}` });
  root.append(h('p', {}, back));
  const s = await call('GET', paths.secret(ws, name));
  root.append(heading(`Versions of ${name}`,
    h('button', { type: 'button', class: 'secondary', text: 'Edit', onclick: () => editSecret(ws, s).then(() => route()) })));
  root.append(h('p', { class: 'muted' }, s.description || 'No description.', ` Current version: ${s.current_version ?? '—'}, updated `, time(s.updated_at), '.'));
  const page = await call('GET', paths.versions(ws, name) + query({ page_size: 100, sort: '-version' }));
  const rows = page.data.map((v) => {
    const current = v.version === s.current_version;
    const destroyed = v.state === 'destroyed';
    return h('tr', { 'data-version': String(v.version) },
      cell('Version', String(v.version), current ? h('span', { class: 'badge', text: 'current' }) : null),
      cell('Created', time(v.created_at)),
      cell('Created by', v.created_by || '—'),
      cell('State', destroyed ? 'destroyed' : 'enabled'),
      cell('Actions', h('div', { class: 'row-actions' },
        !current && !destroyed ? h('button', { type: 'button', class: 'secondary small', 'aria-label': `Restore version ${v.version}`, text: 'Restore',
          onclick: () => restoreVersion(ws, name, v.version) }) : null,
        !current && !destroyed ? h('button', { type: 'button', class: 'danger small', 'aria-label': `Destroy version ${v.version}`, text: 'Destroy',
          onclick: () => destroyVersion(ws, name, v.version) }) : null)));
  });
  root.append(table(`Versions of ${name}`, ['Version', 'Created', 'Created by', 'State', 'Actions'], rows));
  root.append(h('p', { class: 'hint', text: 'Restoring a version makes its value current again as a new version. Destroying erases a version’s value for good.' }));
}

function restoreVersion(ws, name, v) {
  return confirm({
    title: `Restore version ${v} of ${name}?`,
    message: `Version ${v}'s value becomes current again, as a new version. Readers get it from their next read.`,
    action: 'Restore version',
    run: () => call('POST', `${paths.version(ws, name, v)}/restore`),
  }).then((done) => {
    if (!done) return;
    say(`Version ${v} of ${name} restored as the current value.`);
    route();
  });
}

function destroyVersion(ws, name, v) {
  return confirm({
    title: `Destroy version ${v} of ${name}?`,
    message: 'The value of this version is erased for good; it cannot be restored afterwards.',
    action: 'Destroy version',
    typed: String(v),
    run: () => call('DELETE', paths.version(ws, name, v)),
  }).then((done) => {
    if (!done) return;
    say(`Version ${v} of ${name} destroyed.`);
    route();
  });
}

// ---- recycle bin ---------------------------------------------------------

async function binView(ws) {
  const root = viewRoot;
  root.append(heading(`Recycle bin of ${ws}`));
  const page = await call('GET', paths.deleted(ws) + query({ page_size: 100 }));
  if (page.data.length === 0) {
    root.append(h('div', { class: 'empty' }, h('p', { text: 'The recycle bin is empty.' })));
    return;
  }
  const rows = page.data.map((d) => h('tr', { 'data-name': d.name },
    cell('Name', h('span', { class: 'mono', text: d.name })),
    cell('Deleted', time(d.deleted_at)),
    cell('Deleted by', d.deleted_by || '—'),
    cell('Purged', time(d.purge_at)),
    cell('Actions', h('div', { class: 'row-actions' },
      h('button', { type: 'button', class: 'secondary small', 'aria-label': `Restore ${d.name}`, text: 'Restore', onclick: () => restoreDeleted(ws, d) }),
      h('button', { type: 'button', class: 'danger small', 'aria-label': `Purge ${d.name}`, text: 'Purge', onclick: () => purgeDeleted(ws, d) })))));
  root.append(table(`Recycle bin of ${ws}`, ['Name', 'Deleted', 'Deleted by', 'Purged', 'Actions'], rows));
}

async function restoreDeleted(ws, d) {
  try {
    await call('POST', `${paths.deletedOne(ws, d.id)}/restore`);
    say(`Secret ${d.name} restored.`);
    showError(null);
  } catch (e) {
    showError(e);
    return;
  }
  route();
}

function purgeDeleted(ws, d) {
  return confirm({
    title: `Purge ${d.name}?`,
    message: 'The secret and all its versions are erased for good.',
    action: 'Purge',
    typed: d.name,
    run: () => call('DELETE', paths.deletedOne(ws, d.id)),
  }).then((done) => {
    if (!done) return;
    say(`Secret ${d.name} purged.`);
    route();
  });
}

// ---- members and workspace settings -------------------------------------

const roles = ['Viewer', 'Editor', 'Admin'];

async function membersView(ws) {
  const root = viewRoot;
  root.append(heading(`Members of ${ws}`));
  let members;
  try {
    members = (await call('GET', paths.members(ws))).data;
  } catch (e) {
    root.append(h('p', { class: 'error', role: 'alert', text: e.message }));
    members = null;
  }
  if (members) {
    const rows = members.map((m) => {
      const sel = h('select', { 'aria-label': `Role of ${m.principal}` },
        [...new Set([...roles, ...m.roles])].map((r) => h('option', { value: r, text: r, selected: m.roles[0] === r })));
      sel.addEventListener('change', async () => {
        try {
          await call('PUT', paths.member(ws, m.principal), { roles: [sel.value] });
          say(`${m.principal} is now ${sel.value} in ${ws}.`);
          showError(null);
        } catch (e) {
          showError(e);
        }
      });
      return h('tr', { 'data-principal': m.principal },
        cell('Principal', h('span', { class: 'mono', text: m.principal })),
        cell('Role', sel),
        cell('Granted', time(m.granted_at)),
        cell('Actions', h('button', { type: 'button', class: 'danger small', 'aria-label': `Remove ${m.principal}`, text: 'Remove',
          onclick: () => removeMember(ws, m.principal) })));
    });
    root.append(members.length ? table(`Members of ${ws}`, ['Principal', 'Role', 'Granted', 'Actions'], rows)
      : h('div', { class: 'empty' }, h('p', { text: 'No members: only platform-wide roles apply here.' })));

    const principal = h('input', { id: id('principal'), type: 'text', autocomplete: 'off', spellcheck: 'false', required: true });
    const role = h('select', { id: id('role') }, roles.map((r) => h('option', { value: r, text: r, selected: r === 'Editor' })));
    const form = h('form', { class: 'toolbar add-member', novalidate: true },
      field('Principal', principal, 'A user id or e-mail, or service:<name>.'),
      field('Role', role),
      h('button', { type: 'submit', class: 'primary', text: 'Add member' }));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      try {
        await call('POST', paths.members(ws), { principal: principal.value, roles: [role.value] });
        say(`${principal.value} added to ${ws} as ${role.value}.`);
        showError(null);
        route();
      } catch (e) {
        showError(e);
      }
    });
    root.append(h('h2', { text: 'Add a member' }), form);
  }
  await workspaceSettings(root, ws);
}

function removeMember(ws, principal) {
  return confirm({
    title: `Remove ${principal}?`,
    message: `${principal} loses the roles granted in ${ws}.`,
    action: 'Remove member',
    run: () => call('DELETE', paths.member(ws, principal)),
  }).then((done) => {
    if (!done) return;
    say(`${principal} removed from ${ws}.`);
    route();
  });
}

async function workspaceSettings(root, ws) {
  const w = await call('GET', paths.workspace(ws));
  const desc = h('input', { id: id('wsdesc'), type: 'text', autocomplete: 'off', value: w.description || '' });
  const form = h('form', { class: 'toolbar', novalidate: true },
    field('Description', desc),
    h('button', { type: 'submit', class: 'secondary', text: 'Save description' }));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      await call('PUT', paths.workspace(ws), { description: desc.value || null });
      say(`Description of ${ws} saved.`);
      showError(null);
    } catch (e) {
      showError(e);
    }
  });
  const del = h('button', { type: 'button', class: 'danger', text: 'Delete workspace', onclick: () => deleteWorkspace(ws) });
  root.append(h('h2', { text: 'Workspace' }),
    h('p', { class: 'muted' }, `Created `, time(w.created_at), w.created_by ? ` by ${w.created_by}` : '', '.'),
    form,
    h('div', { class: 'danger-zone' }, h('p', { text: 'Deleting a workspace deletes every secret in it.' }), del));
}

function deleteWorkspace(ws) {
  return confirm({
    title: `Delete workspace ${ws}?`,
    message: 'The workspace and every secret in it are deleted.',
    action: 'Delete workspace',
    typed: ws,
    run: () => call('DELETE', paths.workspace(ws)),
  }).then(async (done) => {
    if (!done) return;
    say(`Workspace ${ws} deleted.`);
    state.ws = null;
    await loadWorkspaces().catch(showError);
    location.hash = '#/';
  });
}

// ---- audit trail ---------------------------------------------------------

const auditActions = ['secret.create', 'secret.update', 'secret.delete', 'secret.access', 'secret.restore',
  'secret.version.destroy', 'secret.purge', 'secret.list', 'secret.read', 'workspace.create', 'workspace.update',
  'workspace.delete', 'member.add', 'member.set', 'member.remove', 'keys.rotate'];
const auditOutcomes = ['success', 'denied', 'not_found', 'conflict', 'invalid', 'error'];
const auditSince = [['', 'Any time'], ['3600', 'Last hour'], ['86400', 'Last 24 hours'], ['604800', 'Last 7 days']];

/**
 * auditView shows a workspace's audit trail, or with ws null the whole
 * platform's (PlatformAdmins), which also filters and shows by workspace.
 */
async function auditView(ws) {
  const root = viewRoot;
  const f = { workspace: '', secret: '', principal: '', action: '', outcome: '', since: '', page: 1 };
  const workspace = ws ? null : h('input', { id: id('aworkspace'), type: 'text', autocomplete: 'off', spellcheck: 'false' });
  const secret = h('input', { id: id('asecret'), type: 'text', autocomplete: 'off', spellcheck: 'false' });
  const principal = h('input', { id: id('aprincipal'), type: 'text', autocomplete: 'off', spellcheck: 'false' });
  const action = h('select', { id: id('aaction') }, h('option', { value: '', text: 'Any' }), auditActions.map((a) => h('option', { value: a, text: a })));
  const outcome = h('select', { id: id('aoutcome') }, h('option', { value: '', text: 'Any' }), auditOutcomes.map((o) => h('option', { value: o, text: o.replace('_', ' ') })));
  const since = h('select', { id: id('asince') }, auditSince.map(([v, t]) => h('option', { value: v, text: t })));
  const form = h('form', { class: 'toolbar', role: 'search', novalidate: true },
    workspace ? field('Workspace', workspace) : null, field('Secret', secret), field('Principal', principal), field('Action', action), field('Outcome', outcome), field('When', since),
    h('button', { type: 'submit', class: 'secondary', text: 'Apply filters' }));
  const results = h('div', { id: 'audit-results', 'aria-live': 'polite' });
  const title = ws ? `Audit trail of ${ws}` : 'Audit trail of all workspaces';
  root.append(heading(title), form, results);
  const load = async () => {
    const q = { page: f.page, page_size: 50 };
    if (f.workspace) q['filter[workspace]'] = f.workspace;
    if (f.secret) q['filter[secret]'] = f.secret;
    if (f.principal) q['filter[principal]'] = f.principal;
    if (f.action) q['filter[action]'] = f.action;
    if (f.outcome) q['filter[outcome]'] = f.outcome;
    if (f.since) q['filter[time][gte]'] = new Date(Date.now() - Number(f.since) * 1000).toISOString();
    let page;
    try {
      page = await call('GET', (ws ? paths.audit(ws) : paths.auditAll) + query(q));
    } catch (e) {
      clear(results).append(h('p', { class: 'error', role: 'alert', text: e.message }));
      return;
    }
    clear(results);
    if (page.data.length === 0) {
      results.append(h('div', { class: 'empty' }, h('p', { text: 'No events match.' })));
      return;
    }
    const rows = page.data.map((ev) => h('tr', { 'data-action': ev.action, 'data-outcome': ev.outcome },
      cell('Time', time(ev.time)),
      ws ? null : cell('Workspace', ev.workspace ? h('span', { class: 'mono', text: ev.workspace }) : '—'),
      cell('Action', h('span', { class: 'mono', text: ev.action })),
      cell('Outcome', h('span', { class: `outcome outcome-${ev.outcome}`, text: `${ev.outcome.replace('_', ' ')} (${ev.status})` })),
      cell('Secret', ev.secret ? h('span', { class: 'mono', text: ev.version ? `${ev.secret} v${ev.version}` : ev.secret }) : '—'),
      cell('Principal', ev.principal ? (ev.on_behalf_of ? `${ev.principal} for ${ev.on_behalf_of}` : ev.principal) : '—'),
      cell('Request', h('span', { class: 'mono small', text: ev.request_id || '' }))));
    const cols = ['Time', ...(ws ? [] : ['Workspace']), 'Action', 'Outcome', 'Secret', 'Principal', 'Request'];
    results.append(table(title, cols, rows));
    const p = page.pagination;
    results.append(h('nav', { class: 'pager', 'aria-label': 'Pages' },
      h('button', { type: 'button', class: 'secondary', text: 'Newer', disabled: p.page <= 1, onclick: () => { f.page -= 1; load(); } }),
      h('span', { class: 'page-info', text: `Page ${p.page} of ${Math.max(p.total_pages, 1)} · ${p.total_results} ${p.total_results === 1 ? 'event' : 'events'}` }),
      h('button', { type: 'button', class: 'secondary', text: 'Older', disabled: p.page >= p.total_pages, onclick: () => { f.page += 1; load(); } })));
  };
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    Object.assign(f, { workspace: workspace ? workspace.value.trim() : '', secret: secret.value.trim(), principal: principal.value.trim(), action: action.value,
      outcome: outcome.value, since: since.value, page: 1 });
    load();
  });
  await load();
}

/**
 * probeAuditAll asks the API whether the caller may read the platform's
 * audit trail: the nav entry is hidden when it answers 401 or 403, so the
 * API, not the console, decides who sees it.
 */
async function probeAuditAll() {
  try {
    await call('GET', paths.auditAll + query({ page_size: 1 }));
    state.auditAll = true;
  } catch (e) {
    state.auditAll = !(e instanceof APIError && (e.status === 401 || e.status === 403));
  }
}

// ---- routing -------------------------------------------------------------

function tabs(ws) {
  const cur = location.hash;
  const items = ws ? [
    ['Secrets', `#/ws/${encodeURIComponent(ws)}`],
    ['Recycle bin', `#/ws/${encodeURIComponent(ws)}/bin`],
    ['Members', `#/ws/${encodeURIComponent(ws)}/members`],
    ['Audit', `#/ws/${encodeURIComponent(ws)}/audit`],
  ] : [];
  if (state.auditAll) items.push(['All audit', '#/audit']);
  if (state.keys) items.push(['Keys', '#/keys']); // PlatformAdmins only
  clear($('#tabs')).append(...items.map(([t, href]) => h('li', {},
    h('a', { href, text: t, 'aria-current': cur === href || (t === 'Secrets' && cur.includes('/secret/')) ? 'page' : false }))));
}

function parse() {
  const parts = location.hash.replace(/^#\/?/, '').split('/').map((p) => { try { return decodeURIComponent(p); } catch { return p; } });
  if (parts[0] === 'ws' && parts[1]) return { ws: parts[1], view: parts[2] || 'secrets', name: parts[3] };
  if (parts[0] === 'keys') return { view: 'keys' };
  if (parts[0] === 'audit') return { view: 'audit-all' };
  return { view: 'home' };
}

let generation = 0;

async function route() {
  if (state.signedOut) return;
  const r = parse();
  const gen = ++generation;
  showError(null);
  if (r.view === 'home') {
    const first = state.workspaces.includes('default') ? 'default' : state.workspaces[0];
    if (first) {
      location.replace(`#/ws/${encodeURIComponent(first)}`);
      return;
    }
  }
  if (r.ws && r.ws !== state.ws) {
    state.ws = r.ws;
    state.list.search = '';
    state.list.page = 1;
  }
  renderPicker();
  tabs(state.ws);
  const view = h('div', { class: 'view' });
  viewRoot = view;
  const show = () => { if (gen === generation) main.replaceChildren(view); };
  // A view is shown once it has its data, so a slow older view never
  // lands on top of a newer one.
  try {
    switch (r.view) {
      case 'secrets': document.title = `Secrets · ${r.ws} · Coffer`; await secretsView(r.ws); break;
      case 'secret': document.title = `${r.name} · ${r.ws} · Coffer`; await versionsView(r.ws, r.name); break;
      case 'bin': document.title = `Recycle bin · ${r.ws} · Coffer`; await binView(r.ws); break;
      case 'members': document.title = `Members · ${r.ws} · Coffer`; await membersView(r.ws); break;
      case 'audit': document.title = `Audit · ${r.ws} · Coffer`; await auditView(r.ws); break;
      case 'keys': document.title = 'Keys · Coffer'; await keysView(view, { heading, table, cell, say }); break;
      case 'audit-all': document.title = 'Audit · Coffer'; await auditView(null); break;
      default: view.append(heading('Nothing here'), h('p', {}, h('a', { href: '#/', text: 'Go to your workspaces' })));
    }
  } catch (e) {
    if (gen === generation) showError(e);
  }
  show();
  if (gen === generation) {
    const h1 = main.querySelector('h1');
    if (h1 && document.activeElement === document.body) h1.focus();
    main.dataset.ready = String(gen);
  }
}

// ---- signing in (OIDC, docs/console.md "Signing in") -----------------------

/**
 * signInPage replaces the console with a message and a Sign in button that
 * leaves for the identity provider, coming back to the current address.
 */
function signInPage(title, text, settings) {
  generation += 1; // a view still loading must not land on top
  state.signedOut = true; // and no address shows a view until signed in
  showError(null);
  $('.ws-picker').hidden = true;
  for (const d of document.querySelectorAll('dialog')) d.close();
  state.workspaces = [];
  state.auditAll = false;
  state.keys = false;
  clear($('#tabs'));
  clear($('#ws-select'));
  const returnTo = location.hash;
  const btn = h('button', { type: 'button', class: 'primary', 'data-signin': 'true', text: 'Sign in' });
  btn.addEventListener('click', async () => {
    try {
      const s = settings || await signin.settings();
      if (!s) throw new Error('Sign-in is not set up on this Coffer.');
      await signin.begin(s, returnTo);
    } catch (e) {
      showError(e);
    }
  });
  document.title = `${title} · Coffer`;
  clear(main).append(heading(title), h('p', { text }), btn);
  main.dataset.ready = 'signin';
}

function renderWho(sess) {
  const who = clear($('#who'));
  if (!sess) return;
  const out = h('button', { type: 'button', class: 'secondary small', 'data-signout': 'true', text: 'Sign out' });
  out.addEventListener('click', () => {
    signin.end();
    setToken(null);
    renderWho(null);
    say('');
    // The IdP's own session is left alone: discovery names no
    // end_session_endpoint to end it with.
    signInPage('Signed out', 'You are signed out of the Coffer console in this tab.', null);
  });
  who.append(h('span', { class: 'who-name', text: `Signed in as ${sess.who}` }), ' ', out);
}

function sessionExpired() {
  signin.end();
  setToken(null);
  renderWho(null);
  signInPage('Your session has expired — sign in again',
    'Coffer no longer accepts your sign-in: it expired or was revoked. What you had saved is kept; sign in to go on.', null);
}

/**
 * signInRequired answers an anonymous 401: the Sign in button when the
 * console can sign in with OIDC, else the gateway is what signs people in.
 */
async function signInRequired(e) {
  const s = await signin.settings().catch(() => null);
  if (s) {
    let idp = s.issuer;
    try { idp = new URL(s.issuer).host; } catch { /* shown as configured */ }
    signInPage('Sign in', `This Coffer needs you to sign in with your organisation's identity provider (${idp}).`, s);
    return;
  }
  clear(main).append(heading('Sign-in required'),
    h('p', { text: 'This Coffer needs an identity: open it through your gateway, which signs you in.' }),
    h('p', { class: 'muted', text: e.message }));
}

/** finishSignIn completes a sign-in on the callback page; false if refused. */
async function finishSignIn() {
  let s = null;
  try {
    s = await signin.settings();
    if (!s) throw new signin.SignInError('Sign-in is not set up on this Coffer.');
    const back = await signin.finish(s);
    history.replaceState(null, '', `/${back || ''}`);
    return true;
  } catch (e) {
    history.replaceState(null, '', '/');
    signInPage('Sign-in failed', e instanceof signin.SignInError ? e.message : `Sign-in failed: ${e.message}`, s);
    return false;
  }
}

async function start() {
  $('#ws-select').addEventListener('change', (ev) => {
    location.hash = `#/ws/${encodeURIComponent(ev.target.value)}`;
  });
  $('#ws-new').addEventListener('click', newWorkspace);
  window.addEventListener('hashchange', route);
  onUnauthorized(sessionExpired);
  if (signin.isCallback() && !(await finishSignIn())) return;
  const sess = signin.session();
  if (sess) {
    setToken(sess.token);
    renderWho(sess);
  }
  try {
    await loadWorkspaces();
    await probeAuditAll();
  } catch (e) {
    if (e instanceof APIError && e.status === 401) {
      if (!sess) await signInRequired(e); // with a token: sessionExpired did it
      return;
    }
    showError(e);
  }
  state.keys = await keysAllowed();
  await route();
}

start();
