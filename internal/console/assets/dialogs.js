// Modal dialogs built on <dialog>: showModal traps focus, Escape cancels,
// and focus returns to the control that opened the dialog.

import { h, id } from './dom.js';
import { APIError } from './api.js';

/**
 * modal opens a dialog with a form. body is the form's content; onSubmit
 * returns a promise: resolved, the dialog closes with its value; rejected,
 * the error is shown inside the dialog and it stays open.
 */
export function modal({ title, body, submitText, danger = false, onSubmit, ready }) {
  return new Promise((resolve) => {
    const titleID = id('dlg-title');
    const err = h('div', { class: 'error', role: 'alert', hidden: true });
    const submit = h('button', { type: 'submit', class: danger ? 'danger' : 'primary', text: submitText });
    const cancel = h('button', { type: 'button', class: 'secondary', 'data-cancel': 'true', text: 'Cancel' });
    const form = h('form', { novalidate: true },
      h('h2', { id: titleID, text: title }),
      body,
      err,
      h('div', { class: 'actions' }, cancel, submit));
    const dlg = h('dialog', { 'aria-labelledby': titleID }, form);
    let result;
    let busy = false;
    const finish = () => {
      dlg.close();
    };
    cancel.addEventListener('click', finish);
    dlg.addEventListener('close', () => {
      dlg.remove();
      resolve(result);
    });
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      if (busy || submit.disabled) return;
      busy = true;
      submit.setAttribute('aria-busy', 'true');
      err.hidden = true;
      try {
        result = await onSubmit();
        finish();
      } catch (e) {
        err.textContent = e instanceof APIError ? e.message : String(e.message || e);
        err.hidden = false;
      } finally {
        busy = false;
        submit.removeAttribute('aria-busy');
      }
    });
    document.body.append(dlg);
    dlg.showModal();
    if (ready) ready({ submit, dialog: dlg });
  });
}

/**
 * confirm asks before a destructive action. With typed, the action button
 * stays disabled until the user has typed that text.
 */
export function confirm({ title, message, action, typed, run }) {
  const parts = [h('p', { text: message })];
  let input;
  if (typed) {
    const inputID = id('confirm');
    input = h('input', { id: inputID, type: 'text', autocomplete: 'off', spellcheck: 'false', 'data-confirm': 'true' });
    parts.push(h('label', { for: inputID }, 'Type ', h('strong', { class: 'mono', text: typed }), ' to confirm'), input);
  }
  return modal({
    title,
    body: parts,
    submitText: action,
    danger: true,
    onSubmit: async () => {
      await run();
      return true;
    },
    ready: ({ submit }) => {
      if (!input) return;
      submit.disabled = true;
      input.addEventListener('input', () => { submit.disabled = input.value !== typed; });
    },
  });
}
