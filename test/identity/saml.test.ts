/**
 * SAML 2.0 single sign-on per organization, against a test IdP whose key pair and
 * self-signed certificate are made once for this file. Every refusal case is built as
 * the one wrong thing it names; the valid case proves the login and the (issuer, NameID)
 * link; login-detection alerts fire for SAML logins with SSO advice.
 *
 * Everything goes through the real API handler, as a browser would: GET /start (which
 * sets the browser-binding cookie) and a form post of the SAMLResponse to the ACS.
 */
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { Validator } from '@seriousme/openapi-schema-validator';
import { purgeSamlState, samlUrls, SAML_REQUEST_TTL_MS } from '../../lambdas/domain/auth/saml.js';
import { buildOpenApi } from '../../lambdas/http/openapi.js';
import { routes } from '../../lambdas/http/route-table.js';
import { samlRoutes } from '../../lambdas/http/routes/sso-saml.js';
import { logger } from '../../lambdas/shared/logger.js';
import { BASE_URL, CHROME_MAC, FIREFOX_WINDOWS, identityHarness, signUp, uniqueEmail, type IdentityHarness } from '../support/identity.js';
import { apiEvent, header } from '../support/http.js';
import { authnRequestFrom, createTestIdp, encode, NAMEID_EMAIL, newId, responseXml, sign, type ResponseInit, type Signing, type TestIdp } from '../support/saml-idp.js';

let h: IdentityHarness;
let idp: TestIdp;
/** Another key pair claiming to be the same IdP. */
let rogue: TestIdp;
let owner: Awaited<ReturnType<typeof signUp>>;
let urls: ReturnType<typeof samlUrls>;
/** A persistent NameID linked to the owner by the first valid login. */
const NAME_ID = 'idp-user-7f3a91';

/** The test browser's cookies (the browser-binding cookies /start sets). */
const jar = new Map<string, string>();

const SIGNUP_IP = '203.0.113.50';
const ACS_IP = '198.51.100.20';

interface Answer {
  status: number;
  body: any;
  headers: Record<string, string>;
}

async function configureSaml(organizationGid: string, token: string, certificate = idp.certificate) {
  const res = await h.call({
    method: 'PUT',
    path: `/api/1.0/organizations/${organizationGid}/sso`,
    token,
    body: { data: { saml: { idp_entity_id: idp.entityId, idp_sso_url: idp.ssoUrl, idp_certificate: certificate } } },
  });
  expect(res.status).toBe(200);
}

beforeAll(async () => {
  [idp, rogue] = await Promise.all([createTestIdp(), createTestIdp()]);
  rogue.entityId = idp.entityId;
  h = await identityHarness({ extraRoutes: samlRoutes });
  owner = await signUp(h, { ip: SIGNUP_IP, userAgent: CHROME_MAC });
  urls = samlUrls(BASE_URL, owner.organizationGid);
  await configureSaml(owner.organizationGid, owner.token);
});

afterAll(async () => {
  await h?.close();
});

async function start(organizationGid = owner.organizationGid): Promise<string> {
  const res = await h.call({ path: `/api/1.0/auth/saml/${organizationGid}/start` });
  expect(res.status).toBe(302);
  const [name, value] = res.headers['set-cookie']!.split(';')[0]!.split('=') as [string, string];
  jar.set(name, value);
  return authnRequestFrom(res.headers.location!).id;
}

const browserCookies = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');

type Build = Partial<ResponseInit> & { signing?: Signing; key?: TestIdp };

/** A signed response answering a fresh /start, for the owner unless overridden. */
async function response(over: Build = {}): Promise<{ xml: string; encoded: string }> {
  const { signing, key, ...init } = over;
  const inResponseTo = 'inResponseTo' in over ? over.inResponseTo! : await start();
  const xml = sign(
    responseXml(idp, { acsUrl: urls.acsUrl, audience: urls.entityId, nameId: NAME_ID, attributes: { email: owner.email, displayName: 'Owner Person' }, now: h.clock.now(), ...init, inResponseTo }),
    key ?? idp,
    signing ?? 'assertion',
  );
  return { xml, encoded: encode(xml) };
}

/** Posts a SAMLResponse to the ACS as the test browser would: a form, with its cookies. */
async function postAcs(samlResponse: string, init: { ip?: string; userAgent?: string; organizationGid?: string; cookie?: string } = {}): Promise<Answer> {
  const headers: Record<string, string> = { 'Content-Type': 'application/x-www-form-urlencoded', 'User-Agent': init.userAgent ?? CHROME_MAC };
  const cookie = init.cookie ?? browserCookies();
  if (cookie) headers.Cookie = cookie;
  const result = await h.handler(
    apiEvent({
      method: 'POST',
      path: `/api/1.0/auth/saml/${init.organizationGid ?? owner.organizationGid}/acs`,
      headers,
      body: new URLSearchParams({ SAMLResponse: samlResponse, RelayState: '' }).toString(),
      sourceIp: init.ip ?? ACS_IP,
    }),
  );
  const out: Record<string, string> = {};
  for (const k of Object.keys(result.headers ?? {})) out[k.toLowerCase()] = header(result, k)!;
  return { status: result.statusCode, body: JSON.parse(result.body), headers: out };
}

const message = (res: Answer) => String(res.body?.errors?.[0]?.message ?? '');

async function expectRefused(res: Answer, status: number, pattern: RegExp) {
  expect({ status: res.status, message: message(res) }).toEqual({ status, message: expect.stringMatching(pattern) });
  expect(res.body.data).toBeUndefined();
}

const minutes = (n: number) => new Date(h.clock.now().getTime() + n * 60_000);

async function loginAlerts(email: string) {
  const rows = await h.engine.db.selectFrom('outbox_messages').select(['payload']).where('topic', '=', 'mail').execute();
  return rows.map((r) => r.payload as { to: string[]; subject: string; text: string }).filter((p) => p.to.includes(email) && p.subject === 'New login to your account');
}

describe('service provider metadata and start', () => {
  test('metadata names our entity ID and the HTTP-POST ACS, and asks for signed assertions', async () => {
    const result = await h.handler(apiEvent({ path: `/api/1.0/auth/saml/${owner.organizationGid}/metadata` }));
    expect(result.statusCode).toBe(200);
    expect(header(result, 'content-type')).toMatch(/^application\/samlmetadata\+xml/);
    expect(result.body).toContain(`entityID="${BASE_URL}/api/1.0/auth/saml/${owner.organizationGid}/metadata"`);
    expect(result.body).toMatch(
      new RegExp(`<AssertionConsumerService[^>]*Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"[^>]*Location="${BASE_URL.replace(/\./g, '\\.')}/api/1\\.0/auth/saml/${owner.organizationGid}/acs"`),
    );
    expect(result.body).toContain('WantAssertionsSigned="true"');
  });

  test('metadata exists before the IdP is configured; unknown organizations are 404', async () => {
    const other = await signUp(h, { ip: SIGNUP_IP });
    expect((await h.handler(apiEvent({ path: `/api/1.0/auth/saml/${other.organizationGid}/metadata` }))).statusCode).toBe(200);
    expect((await h.call({ path: `/api/1.0/auth/saml/${other.organizationGid}/start` })).status).toBe(404);
    expect((await h.handler(apiEvent({ path: '/api/1.0/auth/saml/999999999999/metadata' }))).statusCode).toBe(404);
  });

  test('start redirects to the IdP with an AuthnRequest whose ID is recorded for 10 minutes, and binds it to the browser', async () => {
    const res = await h.call({ path: `/api/1.0/auth/saml/${owner.organizationGid}/start` });
    expect(res.status).toBe(302);
    expect(res.headers['set-cookie']).toMatch(new RegExp(`^saml_login_[A-Za-z0-9_-]{22}=1; Path=/api/1\\.0/auth/saml/${owner.organizationGid}/acs; Max-Age=600; HttpOnly; Secure; SameSite=None$`));
    const request = authnRequestFrom(res.headers.location!);
    expect(`${request.url.origin}${request.url.pathname}`).toBe(idp.ssoUrl);
    expect(request.xml).toContain(`AssertionConsumerServiceURL="${urls.acsUrl}"`);
    expect(request.xml).toContain(`Destination="${idp.ssoUrl}"`);
    expect(request.xml).toMatch(new RegExp(`<saml:Issuer[^>]*>${urls.entityId.replace(/[.]/g, '\\.')}</saml:Issuer>`));
    const row = await h.engine.db.selectFrom('sso_requests').selectAll().where('id', '=', request.id).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ kind: 'saml', organization_gid: owner.organizationGid, used_at: null });
    expect(row.expires_at.getTime() - row.created_at.getTime()).toBe(SAML_REQUEST_TTL_MS);
  });
});

describe('a valid assertion', () => {
  test('logs in; the session works on /users/me and the identity is linked by (issuer, NameID)', async () => {
    const res = await postAcs((await response()).encoded);
    expect(res.status).toBe(200);
    expect(res.body.data.user.gid).toBe(owner.userGid);
    expect(res.headers['set-cookie']).toMatch(/^session=[^;]+; Path=\/; .*HttpOnly; Secure; SameSite=Lax/);
    const me = await h.call({ path: '/api/1.0/users/me', token: res.body.data.token });
    expect(me.status).toBe(200);
    expect(me.body.data).toMatchObject({ gid: owner.userGid, email: owner.email });
    const identity = await h.engine.db.selectFrom('user_identities').selectAll().where('issuer', '=', idp.entityId).where('subject', '=', NAME_ID).executeTakeFirstOrThrow();
    expect(identity).toMatchObject({ user_gid: owner.userGid, organization_gid: owner.organizationGid, kind: 'saml' });

    // Linked by (issuer, NameID): a later assertion for that NameID is the same user,
    // whatever email it carries.
    const again = await postAcs((await response({ attributes: { email: 'someone.else@example.com' } })).encoded);
    expect(again.status).toBe(200);
    expect(again.body.data.user.gid).toBe(owner.userGid);
    const session = await h.engine.db.selectFrom('sessions').select(['method']).where('user_gid', '=', owner.userGid).orderBy('created_at', 'desc').executeTakeFirstOrThrow();
    expect(session.method).toBe('saml');
  });

  test('a response signed on both the Response and the Assertion is accepted', async () => {
    expect((await postAcs((await response({ signing: 'both' })).encoded)).status).toBe(200);
  });

  test('NotOnOrAfter 30 seconds ago is within the clock skew', async () => {
    const res = await postAcs((await response({ notOnOrAfter: minutes(-0.5), subjectNotOnOrAfter: minutes(-0.5) })).encoded);
    expect(res.status).toBe(200);
  });

  test('several configured certificates are all trusted (rotation)', async () => {
    const other = await signUp(h, { ip: SIGNUP_IP });
    await configureSaml(other.organizationGid, other.token, `${rogue.certificate}\n${idp.certificate}`);
    const otherUrls = samlUrls(BASE_URL, other.organizationGid);
    const signed = (key: TestIdp) => async () =>
      encode(sign(responseXml(idp, { acsUrl: otherUrls.acsUrl, audience: otherUrls.entityId, inResponseTo: await start(other.organizationGid), nameId: 'rotation-user', attributes: { email: other.email }, now: h.clock.now() }), key));
    const byNew = await postAcs(await signed(idp)(), { organizationGid: other.organizationGid });
    expect(byNew.status).toBe(200);
    expect(byNew.body.data.user.gid).toBe(other.userGid);
    expect((await postAcs(await signed(rogue)(), { organizationGid: other.organizationGid })).status).toBe(200);
    // The owner's organization trusts only its one certificate.
    await expectRefused(await postAcs((await response({ key: rogue })).encoded), 401, /not signed with the certificate/);
  });

  test('email rule: an emailAddress NameID links by email; without an asserted email an unknown NameID cannot link', async () => {
    const byNameId = await postAcs((await response({ nameId: owner.email, nameIdFormat: NAMEID_EMAIL, attributes: {} })).encoded);
    expect(byNameId.status).toBe(200);
    expect(byNameId.body.data.user.gid).toBe(owner.userGid);

    await expectRefused(await postAcs((await response({ nameId: 'idp-user-unlinked-1', attributes: {} })).encoded), 403, /verified email/);
    await expectRefused(await postAcs((await response({ nameId: 'idp-user-unlinked-2', attributes: { email: owner.email, email_verified: 'false' } })).encoded), 403, /verified email/);
    await expectRefused(await postAcs((await response({ nameId: 'idp-user-unlinked-3', attributes: { email: uniqueEmail('stranger') } })).encoded), 403, /No member/);
    const links = await h.engine.db.selectFrom('user_identities').select('subject').where('subject', 'like', 'idp-user-unlinked-%').execute();
    expect(links).toEqual([]);
  });
});

describe('refusals', () => {
  test('an unsigned response is refused', async () => {
    await expectRefused(await postAcs((await response({ signing: 'none' })).encoded), 401, /not signed with the certificate/);
  });

  test('a response signed only at the Response level is refused: the assertion itself must be signed', async () => {
    await expectRefused(await postAcs((await response({ signing: 'response' })).encoded), 401, /not signed with the certificate/);
  });

  test('a tampered assertion (NameID or email changed after signing) is refused', async () => {
    const { xml } = await response();
    const nameTampered = xml.replace(`>${NAME_ID}</saml:NameID>`, '>idp-user-victim</saml:NameID>');
    expect(nameTampered).not.toBe(xml);
    await expectRefused(await postAcs(encode(nameTampered)), 401, /not signed with the certificate/);

    const signedForStranger = (await response({ nameId: 'idp-user-tamper', attributes: { email: 'stranger@example.com' } })).xml;
    const emailTampered = signedForStranger.replace('stranger@example.com', owner.email);
    expect(emailTampered).not.toBe(signedForStranger);
    await expectRefused(await postAcs(encode(emailTampered)), 401, /not signed with the certificate/);
  });

  test('a tampered, signed Response envelope is refused', async () => {
    const { xml } = await response({ signing: 'both' });
    // Only the Response's own IssueInstant changes: nothing else would notice.
    const tampered = xml.replace(/(<samlp:Response [^>]*IssueInstant=")[^"]+"/, '$12001-01-01T00:00:00Z"');
    expect(tampered).not.toBe(xml);
    await expectRefused(await postAcs(encode(tampered)), 401, /not signed with the certificate/);
  });

  test('an assertion signed by another key is refused, even with that key\'s certificate embedded', async () => {
    const { xml } = await response({ key: rogue });
    expect(xml).toContain('<ds:X509Certificate>');
    await expectRefused(await postAcs(encode(xml)), 401, /not signed with the certificate/);
  });

  test('expired assertions are refused (Conditions, SubjectConfirmationData, or by the time it is posted)', async () => {
    await expectRefused(await postAcs((await response({ notOnOrAfter: minutes(-5), subjectNotOnOrAfter: minutes(-5) })).encoded), 401, /expired \(NotOnOrAfter\)/);
    await expectRefused(await postAcs((await response({ subjectNotOnOrAfter: minutes(-5) })).encoded), 401, /expired \(SubjectConfirmationData NotOnOrAfter\)/);
    const late = await response();
    h.clock.advance(8 * 60_000);
    await expectRefused(await postAcs(late.encoded), 401, /expired/);
  });

  test('an assertion that is not valid yet is refused', async () => {
    await expectRefused(await postAcs((await response({ notBefore: minutes(10) })).encoded), 401, /not valid yet \(NotBefore\)/);
  });

  test('a wrong audience is refused', async () => {
    await expectRefused(await postAcs((await response({ audience: 'https://other-sp.example.test/metadata' })).encoded), 401, /another service provider \(audience\)/);
  });

  test('a wrong recipient or destination is refused', async () => {
    const other = samlUrls(BASE_URL, '123456789');
    await expectRefused(await postAcs((await response({ recipient: other.acsUrl })).encoded), 401, /another URL \(Recipient\)/);
    await expectRefused(await postAcs((await response({ destination: other.acsUrl })).encoded), 401, /another URL \(Destination\)/);
  });

  test('an assertion from another issuer is refused, even signed with the configured key', async () => {
    await expectRefused(await postAcs((await response({ issuer: 'https://other-idp.example.test' })).encoded), 401, /not issued by this organization's identity provider/);
  });

  test('unknown, unsolicited, mismatched or expired InResponseTo is refused', async () => {
    await expectRefused(await postAcs((await response({ inResponseTo: newId() })).encoded), 401, /does not answer a sign-in started here/);
    await expectRefused(await postAcs((await response({ inResponseTo: null })).encoded), 401, /unsolicited/);
    const id = await start();
    await expectRefused(await postAcs((await response({ inResponseTo: id, responseInResponseTo: newId() })).encoded), 401, /different requests/);
    const stale = await start();
    h.clock.advance(SAML_REQUEST_TTL_MS + 1000);
    await expectRefused(await postAcs((await response({ inResponseTo: stale })).encoded), 401, /does not answer a sign-in started here/);
  });

  test("a request started for another organization does not answer this one's", async () => {
    const other = await signUp(h, { ip: SIGNUP_IP });
    await configureSaml(other.organizationGid, other.token);
    const foreign = await start(other.organizationGid);
    await expectRefused(await postAcs((await response({ inResponseTo: foreign })).encoded), 401, /does not answer a sign-in started here/);
  });

  test('a replayed assertion is refused: the same post twice, or the same assertion ID answering a new request', async () => {
    const first = await response();
    expect((await postAcs(first.encoded)).status).toBe(200);
    await expectRefused(await postAcs(first.encoded), 401, /already used/);

    const assertionId = /<saml:Assertion [^>]*ID="([^"]+)"/.exec(first.xml)![1]!;
    await expectRefused(await postAcs((await response({ assertionId })).encoded), 401, /already used/);

    // The request is single-use too: a fresh assertion cannot answer it again.
    const inResponseTo = /InResponseTo="([^"]+)"/.exec(first.xml)![1]!;
    await expectRefused(await postAcs((await response({ inResponseTo })).encoded), 401, /does not answer a sign-in started here/);
  });

  test('a refused assertion uses nothing up: the request it answers still works', async () => {
    const id = await start();
    await expectRefused(await postAcs((await response({ inResponseTo: id, audience: 'https://wrong.example.test' })).encoded), 401, /audience/);
    expect((await postAcs((await response({ inResponseTo: id })).encoded)).status).toBe(200);
  });

  test("an IdP's failure status is refused with the status, and malformed input is a 400", async () => {
    const failed = sign(responseXml(idp, { acsUrl: urls.acsUrl, audience: urls.entityId, inResponseTo: await start(), nameId: NAME_ID, now: h.clock.now(), failureStatus: 'AuthnFailed' }), idp, 'none');
    await expectRefused(await postAcs(encode(failed)), 401, /status Responder\/AuthnFailed/);
    await expectRefused(await postAcs(encode('<not-saml/>')), 400, /not a SAML Response/);
    await expectRefused(await postAcs('!!!not base64!!!'), 400, /base64/);
  });

  test('a response posted by another browser than the one that started the sign-in is refused (login CSRF)', async () => {
    const { encoded } = await response();
    await expectRefused(await postAcs(encoded, { cookie: '' }), 401, /started in another browser/);
    // Nothing was used up: the browser that started it still can.
    expect((await postAcs(encoded)).status).toBe(200);
  });

  test('nothing is granted by refusals: no session for the owner from the refusal IP', async () => {
    const before = await h.engine.db.selectFrom('sessions').select('gid').where('ip_address', '=', '192.0.2.99').execute();
    await postAcs((await response({ signing: 'none' })).encoded, { ip: '192.0.2.99' });
    await postAcs((await response({ audience: 'https://x.example.test' })).encoded, { ip: '192.0.2.99' });
    const after = await h.engine.db.selectFrom('sessions').select('gid').where('ip_address', '=', '192.0.2.99').execute();
    expect(after.length).toBe(before.length);
  });
});

describe('login detection', () => {
  test('the first SAML login from a new browser + IP enqueues the alert with SSO advice; the same browser + IP again does not', async () => {
    const ip = '198.51.100.77';
    const before = (await loginAlerts(owner.email)).length;
    const first = await postAcs((await response()).encoded, { ip, userAgent: FIREFOX_WINDOWS });
    expect(first.status).toBe(200);
    const after = await loginAlerts(owner.email);
    expect(after).toHaveLength(before + 1);
    const alert = after[after.length - 1]!;
    expect(alert.text).toContain('single sign-on (SAML)');
    expect(alert.text).toContain(`IP:       ${ip}`);
    expect(alert.text).toContain('Firefox on Windows');
    expect(alert.text).toContain("contact your identity provider's administrator");
    expect(alert.text).not.toContain('choose a new password');

    const second = await postAcs((await response()).encoded, { ip, userAgent: FIREFOX_WINDOWS });
    expect(second.status).toBe(200);
    expect(await loginAlerts(owner.email)).toHaveLength(before + 1);
  });
});

describe('privacy of logs', () => {
  test('neither the SAMLResponse nor what it asserts reaches a log line', async () => {
    const written: string[] = [];
    const capture = (chunk: unknown) => (written.push(String(chunk)), true);
    const out = jest.spyOn(process.stdout, 'write').mockImplementation(capture as never);
    const err = jest.spyOn(process.stderr, 'write').mockImplementation(capture as never);
    logger.setLogLevel('DEBUG');
    const nameId = 'idp-user-secret-nameid-42';
    try {
      const refused = await response({ nameId, audience: 'https://wrong.example.test' });
      await postAcs(refused.encoded);
      const accepted = await response();
      await postAcs(accepted.encoded);
      const all = written.join('\n');
      expect(all).toContain('SAML response refused');
      for (const secret of [refused.encoded.slice(0, 40), accepted.encoded.slice(0, 40), nameId, owner.email]) expect(all).not.toContain(secret);
    } finally {
      logger.setLogLevel('SILENT');
      out.mockRestore();
      err.mockRestore();
    }
  });
});

describe('the ACS body', () => {
  test('is a form, each field once, with a SAMLResponse', async () => {
    const path = `/api/1.0/auth/saml/${owner.organizationGid}/acs`;
    const { encoded } = await response();
    const json = await h.handler(apiEvent({ method: 'POST', path, body: { data: { SAMLResponse: encoded } } }));
    expect(json.statusCode).toBe(415);
    const twice = await h.handler(apiEvent({ method: 'POST', path, headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: `SAMLResponse=${encodeURIComponent(encoded)}&SAMLResponse=x` }));
    expect(twice.statusCode).toBe(400);
    const missing = await h.handler(apiEvent({ method: 'POST', path, headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'RelayState=x' }));
    expect(missing.statusCode).toBe(400);
    expect(JSON.parse(missing.body).errors[0].message).toMatch(/SAMLResponse/);
  });
});

describe('the OpenAPI document with the SAML routes', () => {
  test('is valid, documents the ACS body as a form and the metadata as SAML metadata XML', async () => {
    const doc = buildOpenApi([...routes, ...samlRoutes], { title: 't', version: '1', description: 'd', serverUrl: '/api/1.0' }) as any;
    const result = await new Validator().validate(doc);
    expect(result.errors).toBeUndefined();
    const acs = doc.paths['/auth/saml/{org_gid}/acs'].post;
    expect(Object.keys(acs.requestBody.content)).toEqual(['application/x-www-form-urlencoded']);
    expect(acs.requestBody.content['application/x-www-form-urlencoded'].schema.required).toEqual(['SAMLResponse']);
    expect(acs.tags).toEqual(['Single sign-on']);
    expect(acs.security).toEqual([]);
    expect(Object.keys(doc.paths['/auth/saml/{org_gid}/metadata'].get.responses['200'].content)).toEqual(['application/samlmetadata+xml']);
  });
});

describe('purge', () => {
  test('removes SAML request ids and replay records once they expired, and nothing else', async () => {
    const now = h.clock.now();
    const past = new Date(now.getTime() - 1000);
    const future = new Date(now.getTime() + 60_000);
    await h.engine.db
      .insertInto('sso_requests')
      .values([
        { id: '_purge-expired', kind: 'saml', organization_gid: owner.organizationGid, created_at: past, expires_at: past },
        { id: '_purge-live', kind: 'saml', organization_gid: owner.organizationGid, created_at: past, expires_at: future },
      ])
      .execute();
    await h.engine.db
      .insertInto('saml_assertions_seen')
      .values([
        { assertion_id: 'purge:expired', expires_at: past },
        { assertion_id: 'purge:live', expires_at: future },
      ])
      .execute();
    const purged = await purgeSamlState(h.engine.db, now);
    expect(purged.requests).toBeGreaterThanOrEqual(1);
    expect(purged.assertions).toBeGreaterThanOrEqual(1);
    const requests = await h.engine.db.selectFrom('sso_requests').select('id').where('id', 'like', '_purge-%').execute();
    expect(requests.map((r) => r.id)).toEqual(['_purge-live']);
    const seen = await h.engine.db.selectFrom('saml_assertions_seen').select('assertion_id').where('assertion_id', 'like', 'purge:%').execute();
    expect(seen.map((r) => r.assertion_id)).toEqual(['purge:live']);
  });
});
