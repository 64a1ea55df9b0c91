// Relative times ("3 minutes ago") with the exact time kept for a tooltip.

const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
const units = [
  ['year', 365 * 24 * 3600],
  ['month', 30 * 24 * 3600],
  ['week', 7 * 24 * 3600],
  ['day', 24 * 3600],
  ['hour', 3600],
  ['minute', 60],
  ['second', 1],
];

/** relative renders an RFC 3339 time relative to now, e.g. "2 hours ago". */
export function relative(iso, now = Date.now()) {
  if (!iso) return '—';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const secs = Math.round((t - now) / 1000);
  if (Math.abs(secs) < 10) return 'just now';
  for (const [unit, size] of units) {
    if (Math.abs(secs) >= size || unit === 'second') {
      return rtf.format(Math.round(secs / size), unit);
    }
  }
  return iso;
}

/** exact renders an RFC 3339 time in the user's locale. */
export function exact(iso) {
  if (!iso) return '';
  const t = new Date(iso);
  return Number.isNaN(t.getTime()) ? iso : t.toLocaleString();
}
