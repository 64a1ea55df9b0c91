// DOM helpers. The console never assigns HTML strings (the page's
// Content-Security-Policy forbids it through Trusted Types): every node is
// created here and text goes in through textContent, so no API data can
// become markup.

/**
 * h creates an element. attrs: "class", "text", on<event> listeners,
 * properties for non-string values (value, checked, disabled), attributes
 * otherwise. Children are nodes or strings; null and false are skipped.
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k === 'value' || k === 'checked' || k === 'disabled' || k === 'selected') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

/** clear removes every child of el. */
export function clear(el) {
  el.replaceChildren();
  return el;
}

let uid = 0;
/** id returns a page-unique element id with the given prefix. */
export function id(prefix) {
  uid += 1;
  return `${prefix}-${uid}`;
}
