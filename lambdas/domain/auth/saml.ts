/**
 * SAML 2.0 single sign-on per organization (@node-saml/node-saml): the service provider
 * metadata, the SP-initiated AuthnRequest (HTTP-Redirect binding) and the assertion
 * consumer service (HTTP-POST binding). Only SP-initiated logins are accepted: every
 * response must answer an AuthnRequest this service sent, once.
 *
 * What the ACS checks, and where:
 * - node-saml: the XML signature of the assertion, with the certificate the
 *   organization configured for its IdP only (certificates embedded in the message are
 *   ignored; several PEM certificates in the setting are all trusted, for rotation). The assertion must be signed (wantAssertionsSigned); a signed Response is
 *   verified too, but alone it is not enough. Only the signed assertion is read after
 *   that (node-saml hands back the verified bytes, against signature wrapping).
 *   node-saml also checks the audience (= our entity ID) and the response status.
 * - here, with the application clock (deps.clock; node-saml reads the system clock, so
 *   its own time checks are turned off and done here instead, once, with a small
 *   skew): Conditions NotBefore / NotOnOrAfter; a bearer SubjectConfirmation whose
 *   SubjectConfirmationData names our ACS URL as Recipient, is not expired and carries
 *   InResponseTo; the assertion's Issuer is the organization's IdP entity ID; the
 *   Response's Destination (when given) is our ACS URL, and its InResponseTo (when given)
 *   matches the signed one; a Response signature, when present, must be valid.
 * - the browser: the response must be posted by the browser that started the sign-in
 *   (the route checks a cookie /start set), against login CSRF.
 * - the database, in one transaction: the assertion ID was never accepted before
 *   (saml_assertions_seen, kept until the assertion expires) and InResponseTo names an
 *   unused, unexpired AuthnRequest of this organization (sso_requests, 10 minutes, then
 *   marked used). node-saml's InResponseTo cache is not used: it reads the system clock
 *   and its get-then-remove is not atomic.
 *
 * Email rule: the email of a SAML identity is the first value of an email attribute
 * (email, mail, emailAddress, the eduPerson mail OID or the Microsoft claim URI), or
 * else the NameID when its format is emailAddress. Such an email counts as verified:
 * it is asserted, in a signed assertion, by the IdP a super admin of this organization
 * configured for it, so the organization vouches for it, as it does when it invites
 * someone by email. An IdP that explicitly asserts email_verified=false is believed.
 * Linking by email happens only for members of this organization (sso.ts).
 *
 * Nothing here logs the SAMLResponse or its contents; refusals say what failed, never
 * what was received.
 */
import { randomBytes } from 'node:crypto';
import { SAML, SamlStatusError, ValidateInResponseTo, generateServiceProviderMetadata, type CacheProvider, type Profile } from '@node-saml/node-saml';
import { keyInfoToPem } from '@node-saml/node-saml/lib/crypto.js';
import { getVerifiedXml, parseDomFromString, xpath } from '@node-saml/node-saml/lib/xml.js';
import type { Kysely } from 'kysely';
import type { DB } from '../../db/schema.js';
import type { AppDeps } from '../deps.js';
import { BadRequestError, NotFoundError, UnauthorizedError } from '../errors.js';
import { logger } from '../../shared/logger.js';
import type { IssuedSession, LoginContext } from './sessions.js';
import { completeSsoLogin, loadSsoSettings, type ExternalIdentity, type SamlSettings } from './sso.js';

/** How long a started SAML login may take at the IdP. */
export const SAML_REQUEST_TTL_MS = 10 * 60_000;
/** Accepted difference between the IdP's clock and ours. */
export const SAML_CLOCK_SKEW_MS = 2 * 60_000;

const BEARER = 'urn:oasis:names:tc:SAML:2.0:cm:bearer';
const EMAIL_NAMEID_FORMAT = 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress';
const EMAIL_ATTRIBUTES = ['email', 'mail', 'emailAddress', 'urn:oid:0.9.2342.19200300.100.1.3', 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress'];
const NAME_ATTRIBUTES = ['name', 'displayName', 'urn:oid:2.16.840.1.113730.3.1.241', 'http://schemas.microsoft.com/identity/claims/displayname'];
const GIVEN_NAME_ATTRIBUTES = ['givenName', 'given_name', 'urn:oid:2.5.4.42', 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname'];
const SURNAME_ATTRIBUTES = ['sn', 'surname', 'family_name', 'urn:oid:2.5.4.4', 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname'];
const EMAIL_SHAPE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export interface SamlUrls {
  /** Our entity ID: the metadata URL, as is customary. */
  entityId: string;
  metadataUrl: string;
  acsUrl: string;
  startUrl: string;
}

export function samlUrls(baseUrl: string, organizationGid: string): SamlUrls {
  const base = `${baseUrl.replace(/\/+$/, '')}/api/1.0/auth/saml/${encodeURIComponent(organizationGid)}`;
  return { entityId: `${base}/metadata`, metadataUrl: `${base}/metadata`, acsUrl: `${base}/acs`, startUrl: `${base}/start` };
}

/** node-saml's request-id cache is replaced by sso_requests; nothing may call it. */
const noCache: CacheProvider = {
  saveAsync: () => Promise.reject(new Error('SAML request ids live in sso_requests')),
  getAsync: () => Promise.reject(new Error('SAML request ids live in sso_requests')),
  removeAsync: () => Promise.reject(new Error('SAML request ids live in sso_requests')),
};

/**
 * The configured IdP certificate(s): several PEM certificates in the setting are all
 * trusted, so an IdP's signing certificate can be rotated without a failed login.
 */
function idpCertificates(settings: SamlSettings): string[] {
  const blocks = settings.idpCertificate.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
  return blocks && blocks.length > 0 ? blocks : [settings.idpCertificate.trim()];
}

function client(settings: SamlSettings, urls: SamlUrls, requestId?: string): SAML {
  return new SAML({
    issuer: urls.entityId,
    audience: urls.entityId,
    callbackUrl: urls.acsUrl,
    entryPoint: settings.idpSsoUrl,
    idpCert: idpCertificates(settings),
    idpIssuer: settings.idpEntityId,
    wantAssertionsSigned: true,
    wantAuthnResponseSigned: false,
    // Times are checked in checkAssertion() with deps.clock; -1 turns node-saml's off.
    acceptedClockSkewMs: -1,
    validateInResponseTo: ValidateInResponseTo.never,
    cacheProvider: noCache,
    // Let the IdP choose the NameID format and the authentication method (requiring
    // PasswordProtectedTransport breaks IdPs that use MFA or Kerberos).
    identifierFormat: null,
    disableRequestedAuthnContext: true,
    ...(requestId ? { generateUniqueId: () => requestId } : {}),
  });
}

/** The SP metadata of an organization; available before its IdP is configured (the IdP admin needs it first). */
export async function samlMetadata(deps: AppDeps, organizationGid: string, baseUrl: string): Promise<string> {
  await loadSsoSettings(deps, organizationGid); // 404 for unknown or deleted organizations
  const urls = samlUrls(baseUrl, organizationGid);
  return generateServiceProviderMetadata({ issuer: urls.entityId, callbackUrl: urls.acsUrl, wantAssertionsSigned: true, identifierFormat: null });
}

async function samlSettings(deps: AppDeps, organizationGid: string): Promise<SamlSettings> {
  const settings = await loadSsoSettings(deps, organizationGid);
  if (!settings.saml) throw new NotFoundError('SAML single sign-on is not set up for this organization');
  return settings.saml;
}

/**
 * Starts an SP-initiated login: records a new AuthnRequest ID (single use, 10 minutes)
 * and returns the IdP URL to redirect the browser to (HTTP-Redirect binding).
 */
export async function startSamlLogin(deps: AppDeps, organizationGid: string, baseUrl: string): Promise<{ location: string; requestId: string }> {
  const settings = await samlSettings(deps, organizationGid);
  const requestId = `_${randomBytes(20).toString('hex')}`;
  const location = await client(settings, samlUrls(baseUrl, organizationGid), requestId).getAuthorizeUrlAsync('', undefined, {});
  const now = deps.clock.now();
  await deps.database.db
    .insertInto('sso_requests')
    .values({ id: requestId, kind: 'saml', organization_gid: organizationGid, created_at: now, expires_at: new Date(now.getTime() + SAML_REQUEST_TTL_MS) })
    .execute();
  return { location, requestId };
}

export interface SamlPost {
  /** Base64 of the SAML Response XML, as posted by the browser. */
  SAMLResponse: string;
  RelayState?: string | undefined;
}

export interface SamlAcsInput {
  post: SamlPost;
  baseUrl: string;
  /**
   * Whether the AuthnRequest with this ID was started in the browser that posts the
   * response (the route checks a cookie set by /start), against login CSRF: a response
   * for someone else's account cannot be pushed into a victim's browser.
   */
  startedInThisBrowser(requestId: string): boolean;
}

/** A refusal: 401 with a message that names the failed check and nothing received. */
class SamlRefusal extends UnauthorizedError {
  constructor(readonly reason: string) {
    super(`SAML sign-in refused: ${reason}`);
  }
}

/** Turns node-saml's errors into refusals that say which check failed, not what the message held. */
function refusalFor(error: unknown): SamlRefusal {
  if (error instanceof SamlStatusError) {
    // "SAML provider returned Responder error: AuthnFailed": keep the status codes only, not free text.
    const [, top, detail] = /returned (\w+) error: (\w+)?/.exec(error.message) ?? [];
    const status = [top, detail].filter(Boolean).join('/');
    return new SamlRefusal(`the identity provider answered ${status ? `with status ${status}` : 'with an error'} instead of signing you in`);
  }
  const message = error instanceof Error ? error.message : '';
  if (/audience/i.test(message)) return new SamlRefusal('the assertion is meant for another service provider (audience)');
  if (/encrypt|decrypt/i.test(message)) return new SamlRefusal('encrypted assertions are not supported; turn assertion encryption off at the identity provider');
  if (/signature|idpCert|certificate/i.test(message)) return new SamlRefusal("the assertion is not signed with the certificate configured for this organization's identity provider");
  if (/Missing SAML assertion|No valid subject confirmation/i.test(message)) return new SamlRefusal('the response carries no usable assertion');
  if (/not a valid date|Error parsing/i.test(message)) return new SamlRefusal('the assertion carries invalid validity times');
  return new SamlRefusal('the response could not be validated');
}

type Xml2Js = Record<string, any>;
const attr = (node: Xml2Js | undefined, name: string): string | undefined => {
  const value = node?.$?.[name];
  return typeof value === 'string' ? value : undefined;
};
const time = (value: string | undefined, label: string): number | undefined => {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new SamlRefusal(`the assertion's ${label} is not a valid time`);
  return ms;
};

interface CheckedAssertion {
  assertionId: string;
  inResponseTo: string;
  /** When the assertion can no longer be accepted anyway (replay records may go then). */
  validUntil: Date;
}

/** The checks node-saml leaves to us, on the signed assertion only. */
function checkAssertion(assertion: Xml2Js, input: { settings: SamlSettings; urls: SamlUrls; now: number }): CheckedAssertion {
  const { now } = input;
  const skew = SAML_CLOCK_SKEW_MS;
  const assertionId = attr(assertion, 'ID');
  if (!assertionId) throw new SamlRefusal('the assertion has no ID');
  const issuer = assertion.Issuer?.[0]?._;
  if (typeof issuer !== 'string' || issuer.trim() !== input.settings.idpEntityId) throw new SamlRefusal("the assertion was not issued by this organization's identity provider (Issuer)");
  const issuedAt = time(attr(assertion, 'IssueInstant'), 'IssueInstant');
  if (issuedAt !== undefined && issuedAt > now + skew) throw new SamlRefusal('the assertion was issued in the future (check the clocks)');

  const conditions = assertion.Conditions?.[0] as Xml2Js | undefined;
  if (!conditions) throw new SamlRefusal('the assertion has no Conditions');
  const notBefore = time(attr(conditions, 'NotBefore'), 'NotBefore');
  const notOnOrAfter = time(attr(conditions, 'NotOnOrAfter'), 'NotOnOrAfter');
  if (notBefore !== undefined && now + skew < notBefore) throw new SamlRefusal('the assertion is not valid yet (NotBefore)');
  if (notOnOrAfter !== undefined && now - skew >= notOnOrAfter) throw new SamlRefusal('the assertion has expired (NotOnOrAfter)');

  // SAML Web Browser SSO profile: at least one bearer confirmation with our ACS as
  // Recipient, a NotOnOrAfter still in the future, and (SP-initiated) InResponseTo.
  const confirmations = ((assertion.Subject?.[0]?.SubjectConfirmation ?? []) as Xml2Js[]).filter((c) => attr(c, 'Method') === BEARER);
  if (confirmations.length === 0) throw new SamlRefusal('the assertion has no bearer subject confirmation');
  let firstProblem: SamlRefusal | null = null;
  for (const confirmation of confirmations) {
    const data = confirmation.SubjectConfirmationData?.[0] as Xml2Js | undefined;
    const problem = ((): SamlRefusal | CheckedAssertion => {
      if (attr(data, 'Recipient') !== input.urls.acsUrl) return new SamlRefusal('the assertion is addressed to another URL (Recipient)');
      const until = time(attr(data, 'NotOnOrAfter'), 'SubjectConfirmationData NotOnOrAfter');
      if (until === undefined) return new SamlRefusal('the subject confirmation has no NotOnOrAfter');
      if (now - skew >= until) return new SamlRefusal('the assertion has expired (SubjectConfirmationData NotOnOrAfter)');
      const since = time(attr(data, 'NotBefore'), 'SubjectConfirmationData NotBefore');
      if (since !== undefined && now + skew < since) return new SamlRefusal('the assertion is not valid yet (SubjectConfirmationData NotBefore)');
      const inResponseTo = attr(data, 'InResponseTo');
      if (!inResponseTo) return new SamlRefusal('unsolicited responses are not accepted: start the sign-in here (no InResponseTo)');
      return { assertionId, inResponseTo, validUntil: new Date(Math.max(until, notOnOrAfter ?? until) + skew) };
    })();
    if (!(problem instanceof SamlRefusal)) return problem;
    firstProblem ??= problem;
  }
  throw firstProblem!;
}

function attributeValue(attributes: Record<string, unknown>, names: string[]): string | null {
  for (const name of names) {
    const raw = attributes[name];
    const value = Array.isArray(raw) ? raw.find((v) => typeof v === 'string' && v.trim()) : raw;
    if (typeof value === 'string' && value.trim()) return value.trim();
  }
  return null;
}

/** The external identity of a verified assertion (see the email rule above). */
export function samlIdentity(profile: Profile, organizationGid: string, settings: SamlSettings): ExternalIdentity {
  const subject = profile.nameID?.trim();
  if (!subject) throw new SamlRefusal('the assertion has no NameID');
  if (subject.length > 1024) throw new SamlRefusal('the NameID is too long');
  const attributes = (profile.attributes ?? {}) as Record<string, unknown>;
  const fromAttribute = attributeValue(attributes, EMAIL_ATTRIBUTES);
  const candidate = fromAttribute ?? (profile.nameIDFormat === EMAIL_NAMEID_FORMAT ? subject : null);
  const email = candidate && candidate.length <= 320 && EMAIL_SHAPE.test(candidate) ? candidate : null;
  const deniedVerified = /^(false|0|no)$/i.test(attributeValue(attributes, ['email_verified', 'emailVerified']) ?? '');
  const given = attributeValue(attributes, GIVEN_NAME_ATTRIBUTES);
  const surname = attributeValue(attributes, SURNAME_ATTRIBUTES);
  const name = attributeValue(attributes, NAME_ATTRIBUTES) ?? ([given, surname].filter(Boolean).join(' ') || null);
  return {
    kind: 'saml',
    organizationGid,
    issuer: settings.idpEntityId,
    subject,
    email,
    emailVerified: email !== null && !deniedVerified,
    name: name ? name.slice(0, 256) : null,
  };
}

/** Response-level checks on the (possibly unsigned) envelope. */
async function checkEnvelope(xml: string, settings: SamlSettings, urls: SamlUrls): Promise<{ inResponseTo: string | null }> {
  const doc = await parseDomFromString(xml).catch(() => null);
  if (!doc) throw new BadRequestError('SAMLResponse is not a SAML message');
  const root = doc.documentElement;
  if (!root || root.localName !== 'Response' || root.namespaceURI !== 'urn:oasis:names:tc:SAML:2.0:protocol') throw new BadRequestError('SAMLResponse is not a SAML Response');
  const destination = root.getAttribute('Destination');
  if (destination && destination !== urls.acsUrl) throw new SamlRefusal('the response is addressed to another URL (Destination)');
  // A Response signature is optional, but one that is there must be valid.
  const signatures = xpath.selectElements(root, "./*[local-name(.)='Signature' and namespace-uri(.)='http://www.w3.org/2000/09/xmldsig#']");
  if (signatures.length > 0) {
    let verified: string | null = null;
    try {
      verified = getVerifiedXml(xml, root, idpCertificates(settings).map((cert) => keyInfoToPem(cert, 'CERTIFICATE', 'idpCert')));
    } catch {
      verified = null;
    }
    if (!verified) throw new SamlRefusal("the response is not signed with the certificate configured for this organization's identity provider");
  }
  return { inResponseTo: root.getAttribute('InResponseTo') || null };
}

/**
 * Validates a posted SAML response for an organization and consumes it (its assertion
 * ID and the AuthnRequest it answers are used up). Returns the identity to log in.
 */
export async function acceptSamlResponse(deps: AppDeps, organizationGid: string, input: SamlAcsInput): Promise<ExternalIdentity> {
  const settings = await samlSettings(deps, organizationGid);
  const urls = samlUrls(input.baseUrl, organizationGid);
  const encoded = input.post.SAMLResponse.replace(/\s+/g, '');
  const xml = Buffer.from(encoded, 'base64').toString('utf8');
  try {
    const envelope = await checkEnvelope(xml, settings, urls);
    let profile: Profile | null;
    try {
      ({ profile } = await client(settings, urls).validatePostResponseAsync({ SAMLResponse: encoded }));
    } catch (error) {
      throw refusalFor(error);
    }
    if (!profile) throw new SamlRefusal('the response signs nobody in');
    const assertion = (profile.getAssertion?.() as { Assertion?: Xml2Js } | undefined)?.Assertion;
    if (!assertion) throw new SamlRefusal('the response carries no usable assertion');
    const now = deps.clock.now();
    const checked = checkAssertion(assertion, { settings, urls, now: now.getTime() });
    if (envelope.inResponseTo !== null && envelope.inResponseTo !== checked.inResponseTo) throw new SamlRefusal('the response and its assertion answer different requests (InResponseTo)');
    const identity = samlIdentity(profile, organizationGid, settings);
    await consume(deps.database.db, { organizationGid, now, startedInThisBrowser: input.startedInThisBrowser, ...checked });
    return identity;
  } catch (error) {
    if (error instanceof SamlRefusal) logger.warn('SAML response refused', { organization_gid: organizationGid, reason: error.reason });
    throw error;
  }
}

/** Uses up the assertion ID and the AuthnRequest it answers, both or neither. */
async function consume(db: Kysely<DB>, input: CheckedAssertion & Pick<SamlAcsInput, 'startedInThisBrowser'> & { organizationGid: string; now: Date }): Promise<void> {
  await db.transaction().execute(async (trx) => {
    // Scoped by organization: IdPs of different organizations cannot collide or block each other.
    const seen = await trx
      .insertInto('saml_assertions_seen')
      .values({ assertion_id: `${input.organizationGid}:${input.assertionId}`, expires_at: input.validUntil })
      .onConflict((oc) => oc.column('assertion_id').doNothing())
      .returning('assertion_id')
      .executeTakeFirst();
    if (!seen) throw new SamlRefusal('this assertion was already used');
    const request = await trx
      .updateTable('sso_requests')
      .set({ used_at: input.now })
      .where('id', '=', input.inResponseTo)
      .where('kind', '=', 'saml')
      .where('organization_gid', '=', input.organizationGid)
      .where('used_at', 'is', null)
      .where('expires_at', '>', input.now)
      .returning('id')
      .executeTakeFirst();
    if (!request) throw new SamlRefusal('the response does not answer a sign-in started here, or that sign-in was already completed or has expired; start again (InResponseTo)');
    // Rolls back both: the browser that did start it can still complete it.
    if (!input.startedInThisBrowser(input.inResponseTo)) throw new SamlRefusal('this sign-in was started in another browser; start again here');
  });
}

/** The ACS: a verified, fresh assertion becomes a session through the common login path (alerts included). */
export async function completeSamlLogin(deps: AppDeps, organizationGid: string, input: Omit<SamlAcsInput, 'baseUrl'>, ctx: LoginContext): Promise<IssuedSession> {
  const identity = await acceptSamlResponse(deps, organizationGid, { ...input, baseUrl: ctx.baseUrl });
  return completeSsoLogin(deps, identity, ctx);
}

/** For the daily purge: SAML request ids and replay records nobody can use any more. */
export async function purgeSamlState(db: Kysely<DB>, now: Date): Promise<{ requests: number; assertions: number }> {
  const requests = await db.deleteFrom('sso_requests').where('kind', '=', 'saml').where('expires_at', '<', now).returning('id').execute();
  const assertions = await db.deleteFrom('saml_assertions_seen').where('expires_at', '<', now).returning('assertion_id').execute();
  return { requests: requests.length, assertions: assertions.length };
}
