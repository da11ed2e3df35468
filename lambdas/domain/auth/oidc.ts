/**
 * OpenID Connect sign-on (Google or any OpenID provider, configured per organization):
 * the authorization code flow with PKCE (S256), state and nonce, through openid-client.
 *
 * - start: discovers the organization's issuer, stores a pending login (state, nonce,
 *   PKCE verifier) server-side in sso_requests for 10 minutes, and gives the URL of the
 *   provider's authorization endpoint.
 * - finish: claims the pending login by its state, once (a conditional UPDATE), has
 *   openid-client redeem the code and check state, nonce, PKCE and the ID token
 *   (signature, issuer, audience, expiry), then logs in through completeSsoLogin:
 *   users are keyed by (issuer, sub); the first login links a member by verified email;
 *   the common login path writes the login-detection alert.
 *
 * Transport security: issuers must use https. Plain http is allowed only for a loopback
 * issuer (localhost, 127.0.0.0/8, [::1]) and only when explicitly enabled, with
 * OIDC_ALLOW_INSECURE_LOOPBACK=1 or `allowInsecureLoopback: true` in the options; this
 * exists for tests and for trying `npm start` against a provider on the same machine.
 */
import { createHash } from 'node:crypto';
import * as client from 'openid-client';
import { logger } from '../../shared/logger.js';
import type { AppDeps } from '../deps.js';
import { BadRequestError, HttpError, NotFoundError, UnauthorizedError } from '../errors.js';
import type { IssuedSession, LoginContext } from './sessions.js';
import { completeSsoLogin, loadSsoSettings, type OidcSettings } from './sso.js';

export const OIDC_SCOPE = 'openid email profile';
/** A pending login (state, nonce, PKCE verifier) is usable once, for this long. */
export const OIDC_REQUEST_TTL_SECONDS = 600;
export const OIDC_CALLBACK_PATH = '/api/1.0/auth/oidc/callback';
export const OIDC_START_PATH = '/api/1.0/auth/oidc/start';
/** The one redirect URI to register at the provider. */
export const oidcRedirectUri = (baseUrl: string) => `${baseUrl}${OIDC_CALLBACK_PATH}`;

export interface OidcOptions {
  /** Allow http:// issuers on loopback hosts. Never for a non-loopback issuer. */
  allowInsecureLoopback: boolean;
  /** How long a discovered provider configuration (and its key set cache) is reused. */
  discoveryTtlSeconds: number;
  /** Timeout of each request to the provider. */
  timeoutSeconds: number;
}

export const DEFAULT_OIDC_OPTIONS: OidcOptions = { allowInsecureLoopback: false, discoveryTtlSeconds: 3600, timeoutSeconds: 10 };

/** Options from the environment, read per call: OIDC_ALLOW_INSECURE_LOOPBACK=1 allows http loopback issuers. */
export function oidcOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): OidcOptions {
  return { ...DEFAULT_OIDC_OPTIONS, allowInsecureLoopback: env.OIDC_ALLOW_INSECURE_LOOPBACK === '1' };
}

export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase();
  return host === 'localhost' || host.endsWith('.localhost') || host === '[::1]' || /^127(\.\d{1,3}){3}$/.test(host);
}

const misconfigured = (why: string) => new BadRequestError(`Single sign-on is not set up correctly for this organization: ${why}. Ask an administrator of the organization.`);

/** The issuer as a URL, and whether plain http may be used with it. Throws for anything but https (or allowed loopback http). */
export function issuerUrl(issuer: string, options: Pick<OidcOptions, 'allowInsecureLoopback'>): { url: URL; insecure: boolean } {
  let url: URL;
  try {
    // An admin may paste the discovery document's address; discovery wants the issuer itself
    // (discovering from a /.well-known/ URL would skip openid-client's issuer check).
    url = new URL(issuer.replace(/\/\.well-known\/openid-configuration\/?$/, ''));
  } catch {
    throw misconfigured('the OpenID Connect issuer is not a URL');
  }
  if (url.protocol === 'https:') return { url, insecure: false };
  if (url.protocol === 'http:' && isLoopbackHost(url.hostname)) {
    if (options.allowInsecureLoopback) return { url, insecure: true };
    throw misconfigured('the OpenID Connect issuer uses http; only https is allowed (http on loopback needs OIDC_ALLOW_INSECURE_LOOPBACK=1)');
  }
  throw misconfigured('the OpenID Connect issuer must use https');
}

// ---------------------------------------------------------------------------
// Discovered configurations, cached per issuer + client in module scope.

interface CachedConfiguration {
  configuration: Promise<client.Configuration>;
  expiresAt: number;
}

const MAX_CACHED_CONFIGURATIONS = 200;
const configurations = new Map<string, CachedConfiguration>();

/** Forgets every discovered provider configuration (tests; a provider that rotated its metadata). */
export function clearOidcConfigurationCache(): void {
  configurations.clear();
}

function cacheKey(settings: OidcSettings, url: URL, insecure: boolean): string {
  const secret = createHash('sha256').update(settings.clientSecret).digest('base64url');
  return [url.href, settings.clientId, secret, insecure ? 'insecure' : 'tls'].join('\n');
}

async function discover(settings: OidcSettings, url: URL, insecure: boolean, options: OidcOptions): Promise<client.Configuration> {
  const execute = insecure ? [client.allowInsecureRequests] : [];
  const metadata = { client_secret: settings.clientSecret };
  let configuration: client.Configuration;
  try {
    configuration = await client.discovery(url, settings.clientId, metadata, client.ClientSecretBasic(settings.clientSecret), { execute, timeout: options.timeoutSeconds });
  } catch (error) {
    logger.warn('OpenID Connect discovery failed', { issuer: url.href, error: error as Error });
    throw new HttpError(502, `Could not read the OpenID Connect configuration of the identity provider at ${url.href}; try again later, or ask an administrator to check the issuer`);
  }
  // client_secret_basic is the default (and what Google, Entra ID, Okta and Keycloak accept);
  // a provider that only lists client_secret_post gets that.
  const methods = configuration.serverMetadata().token_endpoint_auth_methods_supported;
  if (methods && !methods.includes('client_secret_basic') && methods.includes('client_secret_post')) {
    configuration = new client.Configuration(configuration.serverMetadata(), settings.clientId, metadata, client.ClientSecretPost(settings.clientSecret));
    configuration.timeout = options.timeoutSeconds;
    for (const run of execute) run(configuration);
  }
  return configuration;
}

async function providerConfiguration(deps: Pick<AppDeps, 'clock'>, settings: OidcSettings, options: OidcOptions): Promise<client.Configuration> {
  const { url, insecure } = issuerUrl(settings.issuer, options);
  const key = cacheKey(settings, url, insecure);
  const now = deps.clock.now().getTime();
  const cached = configurations.get(key);
  if (cached && cached.expiresAt > now) return cached.configuration;
  for (const [k, entry] of configurations) if (entry.expiresAt <= now) configurations.delete(k);
  while (configurations.size >= MAX_CACHED_CONFIGURATIONS) configurations.delete(configurations.keys().next().value!);
  const entry: CachedConfiguration = { configuration: discover(settings, url, insecure, options), expiresAt: now + options.discoveryTtlSeconds * 1000 };
  configurations.set(key, entry);
  // A failed discovery is not cached: the next login tries again.
  entry.configuration.catch(() => {
    if (configurations.get(key) === entry) configurations.delete(key);
  });
  return entry.configuration;
}

// ---------------------------------------------------------------------------
// Start

export interface StartedOidcLogin {
  /** Where to send the browser: the provider's authorization endpoint with the request. */
  authorizationUrl: string;
  /** The OAuth state, also the id of the pending login. */
  state: string;
  expiresAt: Date;
}

export async function startOidcLogin(deps: AppDeps, input: { organizationGid: string; baseUrl: string }, options: OidcOptions = oidcOptionsFromEnv()): Promise<StartedOidcLogin> {
  const settings = await loadSsoSettings(deps, input.organizationGid);
  if (!settings.oidc) throw new NotFoundError('This organization has not set up OpenID Connect sign-on');
  const configuration = await providerConfiguration(deps, settings.oidc, options);

  const state = client.randomState();
  const nonce = client.randomNonce();
  const codeVerifier = client.randomPKCECodeVerifier();
  const codeChallenge = await client.calculatePKCECodeChallenge(codeVerifier);
  const now = deps.clock.now();
  const expiresAt = new Date(now.getTime() + OIDC_REQUEST_TTL_SECONDS * 1000);
  await deps.database.db
    .insertInto('sso_requests')
    .values({ id: state, kind: 'oidc', organization_gid: settings.organization.gid, nonce, code_verifier: codeVerifier, created_at: now, expires_at: expiresAt })
    .execute();

  const url = client.buildAuthorizationUrl(configuration, {
    redirect_uri: oidcRedirectUri(input.baseUrl),
    scope: OIDC_SCOPE,
    response_type: 'code',
    state,
    nonce,
    code_challenge: codeChallenge,
    code_challenge_method: 'S256',
  });
  return { authorizationUrl: url.href, state, expiresAt };
}

// ---------------------------------------------------------------------------
// Callback

export const INVALID_STATE_MESSAGE = 'This sign-in cannot be completed: it is unknown, expired (after 10 minutes) or was already used. Start the sign-in again.';

export interface PendingOidcLogin {
  id: string;
  organization_gid: string;
  nonce: string | null;
  code_verifier: string | null;
}

/** Marks a pending login used and returns it, exactly once, while unexpired. */
export async function claimOidcRequest(deps: Pick<AppDeps, 'database' | 'clock'>, state: string): Promise<PendingOidcLogin | null> {
  const now = deps.clock.now();
  const row = await deps.database.db
    .updateTable('sso_requests')
    .set({ used_at: now })
    .where('id', '=', state)
    .where('kind', '=', 'oidc')
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .returning(['id', 'organization_gid', 'nonce', 'code_verifier'])
    .executeTakeFirst();
  return row ?? null;
}

/** Deletes pending OpenID Connect sign-ins that expired more than a day ago (for the daily purge). */
export async function purgeOidcRequests(deps: Pick<AppDeps, 'database' | 'clock'>): Promise<number> {
  const cutoff = new Date(deps.clock.now().getTime() - 86_400_000);
  const rows = await deps.database.db.deleteFrom('sso_requests').where('kind', '=', 'oidc').where('expires_at', '<', cutoff).returning('id').execute();
  return rows.length;
}

/** Text an identity provider put in a redirect, made safe to repeat: printable, short. */
function printable(value: string | undefined, max: number): string | undefined {
  if (!value) return undefined;
  const clean = value.replace(/[^\x20-\x7e]/g, '').trim().slice(0, max);
  return clean || undefined;
}

function idpErrorText(code: string | undefined, description: string | undefined): string {
  const c = printable(code, 64)?.replace(/[^\w.-]/g, '');
  const d = printable(description, 200);
  return [c, d].filter(Boolean).join(': ') || 'unknown error';
}

const isNetworkError = (error: unknown) =>
  (error instanceof TypeError && /fetch failed/i.test(error.message)) || (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError'));

/** openid-client's failures as answers that say what went wrong and nothing secret. */
function callbackFailure(error: unknown): Error {
  if (error instanceof client.ResponseBodyError) {
    return new UnauthorizedError(`The identity provider did not accept the sign-in code (${idpErrorText(error.error, undefined)}). Start the sign-in again.`);
  }
  if (error instanceof client.AuthorizationResponseError) {
    return new UnauthorizedError(`The identity provider did not sign you in (${idpErrorText(error.error, error.error_description)})`);
  }
  if (error instanceof client.WWWAuthenticateChallengeError) {
    return new UnauthorizedError("The identity provider refused to give the account's details (UserInfo). Start the sign-in again.");
  }
  if (error instanceof client.ClientError) {
    const cause = error.cause as { cause?: { claim?: unknown } } | undefined;
    const claim = typeof cause?.cause?.claim === 'string' ? cause.cause.claim : undefined;
    switch (error.code) {
      case 'OAUTH_JWT_CLAIM_COMPARISON_FAILED':
        return new UnauthorizedError(
          claim === 'nonce'
            ? "The identity provider's ID token does not belong to this sign-in (nonce mismatch). Start the sign-in again."
            : `The identity provider's ID token failed validation (unexpected ${claim ? `"${claim}" ` : ''}claim). Start the sign-in again.`,
        );
      case 'OAUTH_JWT_TIMESTAMP_CHECK_FAILED':
        return new UnauthorizedError("The identity provider's ID token is expired or not yet valid; check the server clocks and start the sign-in again.");
      case 'OAUTH_HTTP_REQUEST_FORBIDDEN':
        return misconfigured('the identity provider uses an http endpoint; only https is allowed');
      default:
        return new UnauthorizedError("The identity provider's answer could not be verified. Start the sign-in again.");
    }
  }
  if (isNetworkError(error)) return new HttpError(502, 'The identity provider could not be reached; try again later');
  return error instanceof Error ? error : new Error(String(error));
}

export interface OidcCallbackInput {
  /** The query parameters of the callback as received (code, state, iss, error, ...). */
  params: Record<string, string>;
  baseUrl: string;
  /**
   * Whether the browser completing the sign-in is the one that started it (the HTTP
   * layer checks the cookie it set at the start). Without this, someone could send a
   * victim the callback link of their own sign-in and log the victim's browser into
   * their account (login CSRF).
   */
  startedInThisBrowser(state: string): boolean;
}

export const OTHER_BROWSER_MESSAGE = 'This sign-in was started in another browser, or the browser did not keep its sign-in cookie. Start the sign-in again in this browser.';

export async function finishOidcLogin(deps: AppDeps, input: OidcCallbackInput, ctx: LoginContext, options: OidcOptions = oidcOptionsFromEnv()): Promise<IssuedSession> {
  const { params } = input;
  const state = params.state;
  const pending = state ? await claimOidcRequest(deps, state) : null;
  // The provider answered with an error (the user declined, the client is misconfigured, ...).
  // The pending login, if any, is used up either way.
  if (params.error) throw new UnauthorizedError(`The identity provider did not sign you in (${idpErrorText(params.error, params.error_description)})`);
  if (!state) throw new BadRequestError('The sign-in answer has no state parameter. Start the sign-in again.');
  if (!pending) throw new BadRequestError(INVALID_STATE_MESSAGE);
  if (!input.startedInThisBrowser(pending.id)) throw new BadRequestError(OTHER_BROWSER_MESSAGE);
  if (!params.code) throw new BadRequestError('The sign-in answer has no authorization code. Start the sign-in again.');
  if (!pending.nonce || !pending.code_verifier) throw new BadRequestError(INVALID_STATE_MESSAGE);

  const settings = await loadSsoSettings(deps, pending.organization_gid);
  if (!settings.oidc) throw new BadRequestError('This organization no longer uses OpenID Connect sign-on');
  const configuration = await providerConfiguration(deps, settings.oidc, options);

  const currentUrl = new URL(oidcRedirectUri(input.baseUrl));
  for (const [k, v] of Object.entries(params)) currentUrl.searchParams.set(k, v);

  let claims: client.IDToken;
  let userinfo: client.UserInfoResponse | undefined;
  try {
    const tokens = await client.authorizationCodeGrant(configuration, currentUrl, {
      expectedState: pending.id,
      expectedNonce: pending.nonce,
      pkceCodeVerifier: pending.code_verifier,
      idTokenExpected: true,
    });
    const idToken = tokens.claims();
    if (!idToken) throw new UnauthorizedError('The identity provider sent no ID token. Start the sign-in again.');
    claims = idToken;
    // Providers that follow the OpenID Connect core rules strictly put scope claims (email)
    // only in the UserInfo answer; ask for it then. fetchUserInfo checks that sub matches.
    if (typeof claims.email !== 'string' && tokens.access_token && configuration.serverMetadata().userinfo_endpoint) {
      userinfo = await client.fetchUserInfo(configuration, tokens.access_token, claims.sub);
    }
  } catch (error) {
    if (error instanceof HttpError) throw error;
    const mapped = callbackFailure(error);
    if (mapped !== error) logger.warn('OpenID Connect callback refused', { organization_gid: pending.organization_gid, code: (error as { code?: string }).code, reason: (error as Error).message });
    throw mapped;
  }

  const source: Record<string, unknown> = typeof claims.email === 'string' ? claims : { ...claims, ...(userinfo ?? {}) };
  const email = typeof source.email === 'string' ? source.email : null;
  const name = typeof source.name === 'string' ? source.name : null;
  return completeSsoLogin(
    deps,
    { kind: 'oidc', organizationGid: pending.organization_gid, issuer: claims.iss, subject: claims.sub, email, emailVerified: source.email_verified === true, name },
    ctx,
  );
}
