// Name rules, the same the server applies (internal/secrets/names.go and
// docs/api.md): each rule in plain words with a check, so the create dialog
// can mark which ones a name being typed breaks.

const lower = /^[a-z]/;

function shapeRules(extra, extraWords) {
  const allowed = new RegExp(`^[a-z0-9${extra}]*$`);
  return [
    { text: 'starts with a lowercase letter (a–z)', ok: (n) => lower.test(n) },
    { text: `uses only lowercase letters, digits and ${extraWords}`, ok: (n) => allowed.test(n) },
    { text: 'is 2 to 63 characters long', ok: (n) => byteLength(n) >= 2 && byteLength(n) <= 63 },
    { text: 'has no two hyphens in a row', ok: (n) => !n.includes('--') },
    { text: 'does not end with a hyphen', ok: (n) => !n.endsWith('-') },
  ];
}

function byteLength(s) {
  return new TextEncoder().encode(s).length;
}

/** secretNameRules are the rules of a secret name. */
export const secretNameRules = shapeRules('._\\-', "'.', '_' and '-'");

/** workspaceNameRules are the rules of a workspace name. */
export const workspaceNameRules = shapeRules('\\-@.+_', "'-', '@', '.', '+' and '_'");

/** broken returns the rules name breaks (empty when it is valid). */
export function broken(rules, name) {
  return rules.filter((r) => !r.ok(name));
}
