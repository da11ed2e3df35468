/**
 * A real OpenID provider (oidc-provider) on 127.0.0.1 with a random port, for tests of
 * the OpenID Connect sign-on, and a scripted browser that goes through it.
 *
 * One client is registered (client_secret_basic, the given redirect URI, PKCE required).
 * Accounts live in `accounts` (sub -> claims) and may change between logins. The login
 * "page" is ours: GET /interaction/{uid} shows it, POST /interaction/{uid}/login with
 * login={sub} signs that account in (provider.interactionFinished), POST
 * /interaction/{uid}/abort declines (the client gets error=access_denied). Consent is
 * granted automatically (loadExistingGrant), as for a first-party client.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface AccountClaims {
  email?: string;
  email_verified?: boolean;
  name?: string;
}

export interface TestOidcProvider {
  issuer: string;
  clientId: string;
  clientSecret: string;
  accounts: Map<string, AccountClaims>;
  /**
   * Plays the browser from the authorization URL to the redirect back to the client:
   * signs `login` in (or declines with 'abort'). Returns the callback URL the provider
   * redirected to (with code, state and iss, or error).
   */
  authorize(authorizationUrl: string, login: string | { abort: true }): Promise<URL>;
  /** Requests the provider served, by path (e.g. '/token'), for assertions. */
  hits: string[];
  close(): Promise<void>;
}

// Minimal shapes of the parts of oidc-provider used here (the package ships no types).
interface OidcGrant {
  addOIDCScope(scope: string): void;
  save(): Promise<string>;
}
interface OidcProviderInstance {
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
  interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<{ uid: string; prompt: { name: string } }>;
  interactionFinished(req: IncomingMessage, res: ServerResponse, result: Record<string, unknown>, options?: { mergeWithLastSubmission?: boolean }): Promise<void>;
  Grant: { new (init: { clientId: string; accountId: string }): OidcGrant; find(id: string): Promise<OidcGrant | undefined> };
}
type OidcProviderConstructor = new (issuer: string, configuration: Record<string, unknown>) => OidcProviderInstance;

interface GrantContext {
  oidc: {
    client: { clientId: string };
    session: { accountId: string; grantIdFor(clientId: string): string | undefined };
    result?: { consent?: { grantId?: string } };
    provider: OidcProviderInstance;
  };
}

const OIDC_PROVIDER_MODULE = 'oidc-provider';

type Payload = Record<string, unknown> & { grantId?: string; uid?: string; userCode?: string };

/** The provider's storage: one in-memory store per provider (its default adapter is shared by the process, and warns). */
function memoryAdapterFor() {
  const store = new Map<string, { payload: Payload; expiresAt: number }>();
  const live = (key: string) => {
    const entry = store.get(key);
    if (entry && entry.expiresAt <= Date.now()) store.delete(key);
    return store.get(key)?.payload;
  };
  const findBy = (field: 'uid' | 'userCode', value: string, model: string) => {
    for (const key of store.keys()) if (key.startsWith(`${model}:`) && live(key)?.[field] === value) return live(key);
    return undefined;
  };
  return class MemoryAdapter {
    constructor(readonly model: string) {}
    key = (id: string) => `${this.model}:${id}`;
    async upsert(id: string, payload: Payload, expiresIn?: number) {
      store.set(this.key(id), { payload, expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : Infinity });
    }
    async find(id: string) {
      return live(this.key(id));
    }
    async findByUid(uid: string) {
      return findBy('uid', uid, this.model);
    }
    async findByUserCode(userCode: string) {
      return findBy('userCode', userCode, this.model);
    }
    async consume(id: string) {
      const payload = live(this.key(id));
      if (payload) payload.consumed = Math.floor(Date.now() / 1000);
    }
    async destroy(id: string) {
      store.delete(this.key(id));
    }
    async revokeByGrantId(grantId: string) {
      for (const [key, entry] of store) if (entry.payload.grantId === grantId) store.delete(key);
    }
  };
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

export async function startOidcProvider(input: {
  redirectUri: string;
  /** false: the ID token carries the email and profile claims (as Google's does); true: only UserInfo does (oidc-provider's strict default). */
  conformIdTokenClaims?: boolean;
}): Promise<TestOidcProvider> {
  const { default: Provider } = (await import(OIDC_PROVIDER_MODULE)) as { default: OidcProviderConstructor };
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const clientId = `client-${randomBytes(4).toString('hex')}`;
  const clientSecret = randomBytes(24).toString('base64url');
  const accounts = new Map<string, AccountClaims>();
  const hits: string[] = [];
  const signingKey = { ...generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }), kid: 'test-key-1', alg: 'RS256', use: 'sig' };

  const provider = new Provider(issuer, {
    clients: [{ client_id: clientId, client_secret: clientSecret, redirect_uris: [input.redirectUri], response_types: ['code'], grant_types: ['authorization_code'], token_endpoint_auth_method: 'client_secret_basic' }],
    jwks: { keys: [signingKey] },
    cookies: { keys: [randomBytes(16).toString('hex')] },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    conformIdTokenClaims: input.conformIdTokenClaims ?? false,
    pkce: { required: () => true },
    adapter: memoryAdapterFor(),
    ttl: { AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 600, Session: 3600, Grant: 3600 },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    async findAccount(_ctx: unknown, sub: string) {
      const claims = accounts.get(sub);
      if (!claims) return undefined;
      return { accountId: sub, claims: async () => ({ sub, ...accounts.get(sub) }) };
    },
    async loadExistingGrant(ctx: GrantContext) {
      const { oidc } = ctx;
      const grantId = oidc.result?.consent?.grantId ?? oidc.session.grantIdFor(oidc.client.clientId);
      if (grantId) return oidc.provider.Grant.find(grantId);
      const grant = new oidc.provider.Grant({ clientId: oidc.client.clientId, accountId: oidc.session.accountId });
      grant.addOIDCScope('openid email profile');
      await grant.save();
      return grant;
    },
  });
  const handle = provider.callback();

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', issuer);
    hits.push(url.pathname);
    const interaction = /^\/interaction\/([\w-]+)(?:\/(login|abort))?$/.exec(url.pathname);
    if (!interaction) return handle(req, res);
    void (async () => {
      try {
        const details = await provider.interactionDetails(req, res);
        if (req.method === 'GET' && !interaction[2]) {
          res.writeHead(200, { 'Content-Type': 'text/plain' }).end(`sign in (${details.prompt.name}) at ${url.pathname}/login`);
        } else if (req.method === 'POST' && interaction[2] === 'abort') {
          await provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'The user declined to sign in' }, { mergeWithLastSubmission: false });
        } else if (req.method === 'POST' && interaction[2] === 'login') {
          const login = (await readForm(req)).get('login') ?? '';
          await provider.interactionFinished(req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
        } else {
          res.writeHead(405).end();
        }
      } catch (error) {
        res.writeHead(400, { 'Content-Type': 'text/plain' }).end(`interaction failed: ${(error as Error).message}`);
      }
    })();
  });

  async function authorize(authorizationUrl: string, login: string | { abort: true }): Promise<URL> {
    const jar = new Map<string, string>();
    let url = new URL(authorizationUrl);
    let method = 'GET';
    let body: string | undefined;
    for (let step = 0; step < 12; step++) {
      const headers: Record<string, string> = { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') };
      if (body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
      const res = await fetch(url, { method, redirect: 'manual', headers, ...(body !== undefined ? { body } : {}) });
      for (const cookie of res.headers.getSetCookie()) {
        const pair = cookie.split(';', 1)[0]!;
        const at = pair.indexOf('=');
        const [name, value] = [pair.slice(0, at).trim(), pair.slice(at + 1).trim()];
        if (value === '' || /expires=Thu, 01 Jan 1970/i.test(cookie)) jar.delete(name);
        else jar.set(name, value);
      }
      const text = await res.text();
      if (res.status >= 300 && res.status < 400) {
        const next = new URL(res.headers.get('location')!, url);
        if (next.href.startsWith(`${input.redirectUri}?`) || next.href === input.redirectUri) return next;
        [url, method, body] = [next, 'GET', undefined];
      } else if (res.status === 200 && url.pathname.startsWith('/interaction/')) {
        // The login page: submit it.
        const action = typeof login === 'string' ? 'login' : 'abort';
        [url, method, body] = [new URL(`${url.pathname}/${action}`, issuer), 'POST', typeof login === 'string' ? new URLSearchParams({ login }).toString() : ''];
      } else {
        throw new Error(`The test provider answered ${res.status} at ${url.pathname}: ${text.slice(0, 500)}`);
      }
    }
    throw new Error('The test provider redirected too many times');
  }

  return {
    issuer,
    clientId,
    clientSecret,
    accounts,
    authorize,
    hits,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
