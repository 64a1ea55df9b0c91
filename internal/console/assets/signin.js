// OIDC sign-in in the browser: the authorization-code flow with PKCE (S256)
// against the issuer that GET /apis/auth/discovery names, with the client id
// of GET /console/config.json (docs/console.md, "Signing in").
//
// What is kept where: the PKCE verifier, state and nonce in sessionStorage
// only between leaving for the identity provider and coming back (removed
// on return, whatever happens); the access token in sessionStorage (this
// tab only, gone when it closes), never in localStorage or a cookie.

const pendingKey = 'coffer.signin';
const sessionKey = 'coffer.session';

/** SignInError is a refused sign-in; its message is for the user. */
export class SignInError extends Error {}

const b64url = (bytes) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const random = (n) => b64url(crypto.getRandomValues(new Uint8Array(n)));

async function s256(verifier) {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  return b64url(new Uint8Array(digest));
}

async function getJSON(path) {
  const res = await fetch(path, { headers: { Accept: 'application/json' }, cache: 'no-store', credentials: 'same-origin' });
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return res.json();
}

/**
 * settings returns how to sign in, or null when this Coffer has no sign-in
 * in the console (auth or OIDC disabled, no client id, or the IdP's
 * endpoints unknown).
 */
export async function settings() {
  const [disc, cfg] = await Promise.all([getJSON('/apis/auth/discovery'), getJSON('/console/config.json')]);
  const o = disc.oidc;
  if (!disc.auth_enabled || !o || !cfg.client_id || !o.authorization_endpoint || !o.token_endpoint) return null;
  const scopes = (o.default_scopes || '').split(/\s+/).filter(Boolean);
  if (!scopes.includes('openid')) scopes.unshift('openid');
  return {
    issuer: o.issuer,
    authorize: o.authorization_endpoint,
    token: o.token_endpoint,
    clientID: cfg.client_id,
    scope: scopes.join(' '),
    redirectURI: location.origin + cfg.redirect_path,
    redirectPath: cfg.redirect_path,
    connect: cfg.connect_origins || [],
  };
}

/** isCallback reports whether this page load is the IdP sending the user back. */
export function isCallback(s) {
  return location.pathname === (s ? s.redirectPath : '/console/callback');
}

/**
 * begin leaves for the identity provider. returnTo is the console address
 * (hash) to come back to.
 */
export async function begin(s, returnTo) {
  if (!window.crypto || !crypto.subtle) {
    throw new SignInError('Sign-in needs a secure page: open the console over HTTPS (or on localhost).');
  }
  const tokenOrigin = new URL(s.token).origin;
  if (tokenOrigin !== location.origin && !s.connect.includes(tokenOrigin)) {
    throw new SignInError(`The identity provider's token endpoint (${tokenOrigin}) is not on the origin this Coffer lets the console call (${s.connect.join(', ') || 'none'}). Set auth.oidc.token_endpoint in Coffer's configuration.`);
  }
  const pending = { state: random(32), nonce: random(32), verifier: random(48), returnTo: returnTo || '' };
  sessionStorage.setItem(pendingKey, JSON.stringify(pending));
  const u = new URL(s.authorize);
  const q = u.searchParams;
  q.set('response_type', 'code');
  q.set('client_id', s.clientID);
  q.set('redirect_uri', s.redirectURI);
  q.set('scope', s.scope);
  q.set('state', pending.state);
  q.set('nonce', pending.nonce);
  q.set('code_challenge', await s256(pending.verifier));
  q.set('code_challenge_method', 'S256');
  location.assign(u.toString());
}

function claims(jwt) {
  const part = String(jwt || '').split('.')[1];
  if (!part) throw new SignInError('The identity provider sent no usable ID token.');
  const bin = atob(part.replace(/-/g, '+').replace(/_/g, '/'));
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0))));
}

/**
 * finish completes a sign-in on the callback page: checks state, exchanges
 * the code (with the PKCE verifier) at the token endpoint, checks the ID
 * token's nonce, issuer and audience, and keeps the session. It returns the
 * console address to go back to; a refusal throws a SignInError.
 */
export async function finish(s) {
  const params = new URLSearchParams(location.search);
  const raw = sessionStorage.getItem(pendingKey);
  sessionStorage.removeItem(pendingKey); // one use, whatever happens next
  history.replaceState(null, '', '/'); // the code leaves the address bar
  if (!raw) throw new SignInError('No sign-in was started in this tab, or it was already used. Sign in again.');
  const pending = JSON.parse(raw);
  if (params.get('error')) {
    throw new SignInError(`The identity provider refused the sign-in: ${params.get('error_description') || params.get('error')}`);
  }
  if (!params.get('state') || params.get('state') !== pending.state) {
    throw new SignInError('The answer from the identity provider does not belong to the sign-in started in this tab (state mismatch), so it was refused. Sign in again.');
  }
  if (params.get('iss') && params.get('iss') !== s.issuer) {
    throw new SignInError('The answer came from another identity provider than this Coffer uses (issuer mismatch), so it was refused.');
  }
  const code = params.get('code');
  if (!code) throw new SignInError('The identity provider sent no authorization code.');
  let res;
  try {
    res = await fetch(s.token, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: s.redirectURI, client_id: s.clientID, code_verifier: pending.verifier }),
      credentials: 'omit',
      cache: 'no-store',
    });
  } catch {
    throw new SignInError('Cannot reach the identity provider\'s token endpoint (or it does not allow this origin: register the console\'s address with the client).');
  }
  const body = await res.json().catch(() => ({}));
  if (!res.ok || !body.access_token) {
    throw new SignInError(`The identity provider did not issue a token: ${body.error_description || body.error || `HTTP ${res.status}`}`);
  }
  const id = claims(body.id_token);
  const aud = Array.isArray(id.aud) ? id.aud : [id.aud];
  if (id.nonce !== pending.nonce) throw new SignInError('The ID token does not belong to this sign-in (nonce mismatch), so it was refused. Sign in again.');
  if (id.iss !== s.issuer || !aud.includes(s.clientID)) throw new SignInError('The ID token names another issuer or client, so it was refused.');
  const session = {
    token: body.access_token,
    who: id.email || id.preferred_username || id.sub || '',
    expiresAt: body.expires_in ? Date.now() + Number(body.expires_in) * 1000 : null,
  };
  sessionStorage.setItem(sessionKey, JSON.stringify(session));
  return pending.returnTo;
}

/** session returns the signed-in session of this tab, or null. */
export function session() {
  try {
    return JSON.parse(sessionStorage.getItem(sessionKey) || 'null');
  } catch {
    return null;
  }
}

/** end forgets the session (sign-out, or a token the API no longer accepts). */
export function end() {
  sessionStorage.removeItem(sessionKey);
  sessionStorage.removeItem(pendingKey);
}
