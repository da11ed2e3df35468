/**
 * A SAML 2.0 identity provider for tests: an RSA key pair with a self-signed certificate
 * (selfsigned), and SAML Responses built as an IdP would, signed with xml-crypto
 * (RSA-SHA256, exclusive C14N, enveloped signatures placed after the Issuer).
 * Every part a check looks at can be overridden, so tests can build exactly the wrong
 * message they mean to be refused.
 */
import { randomBytes } from 'node:crypto';
import { inflateRawSync } from 'node:zlib';
import { generate } from 'selfsigned';
import { SignedXml } from 'xml-crypto';

export interface TestIdp {
  entityId: string;
  ssoUrl: string;
  /** PEM certificate to configure at the service provider. */
  certificate: string;
  privateKey: string;
}

export async function createTestIdp(entityId = 'https://idp.example.test/saml/metadata', ssoUrl = 'https://idp.example.test/saml/sso'): Promise<TestIdp> {
  const pems = await generate([{ name: 'commonName', value: 'Test IdP' }], { keySize: 2048, algorithm: 'sha256' });
  return { entityId, ssoUrl, certificate: pems.cert, privateKey: pems.private };
}

export const SAML_NS = { protocol: 'urn:oasis:names:tc:SAML:2.0:protocol', assertion: 'urn:oasis:names:tc:SAML:2.0:assertion' };
export const NAMEID_EMAIL = 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress';
export const NAMEID_PERSISTENT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent';

export interface ResponseInit {
  /** ACS URL: Recipient and Destination unless overridden. */
  acsUrl: string;
  /** Our entity ID: the Audience unless overridden. */
  audience: string;
  inResponseTo: string | null;
  nameId: string;
  nameIdFormat?: string;
  attributes?: Record<string, string | string[]>;
  now: Date;
  /** Overrides; null leaves the attribute out. */
  issuer?: string;
  destination?: string | null;
  recipient?: string;
  responseInResponseTo?: string | null;
  notBefore?: Date | null;
  notOnOrAfter?: Date | null;
  subjectNotOnOrAfter?: Date | null;
  assertionId?: string;
  /** Responder/AuthnFailed etc.: a failure status and no assertion. */
  failureStatus?: string;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const iso = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
const attrIf = (name: string, value: string | null | undefined) => (value === null || value === undefined ? '' : ` ${name}="${esc(value)}"`);
export const newId = () => `_${randomBytes(16).toString('hex')}`;

/** The XML of an unsigned SAML Response (with one assertion unless failureStatus is set). */
export function responseXml(idp: Pick<TestIdp, 'entityId'>, init: ResponseInit): string {
  const issuer = init.issuer ?? idp.entityId;
  const now = init.now;
  const minutes = (n: number) => new Date(now.getTime() + n * 60_000);
  const notBefore = init.notBefore === undefined ? minutes(-1) : init.notBefore;
  const notOnOrAfter = init.notOnOrAfter === undefined ? minutes(5) : init.notOnOrAfter;
  const subjectNotOnOrAfter = init.subjectNotOnOrAfter === undefined ? minutes(5) : init.subjectNotOnOrAfter;
  const destination = init.destination === undefined ? init.acsUrl : init.destination;
  const responseInResponseTo = init.responseInResponseTo === undefined ? init.inResponseTo : init.responseInResponseTo;
  const status = init.failureStatus
    ? `<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Responder"><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:${esc(init.failureStatus)}"/></samlp:StatusCode></samlp:Status>`
    : '<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>';
  const attributes = Object.entries(init.attributes ?? {})
    .map(
      ([name, value]) =>
        `<saml:Attribute Name="${esc(name)}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic">${(Array.isArray(value) ? value : [value])
          .map((v) => `<saml:AttributeValue xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xs:string">${esc(v)}</saml:AttributeValue>`)
          .join('')}</saml:Attribute>`,
    )
    .join('');
  const assertion = init.failureStatus
    ? ''
    : `<saml:Assertion xmlns:saml="${SAML_NS.assertion}" ID="${esc(init.assertionId ?? newId())}" Version="2.0" IssueInstant="${iso(now)}">` +
      `<saml:Issuer>${esc(issuer)}</saml:Issuer>` +
      `<saml:Subject><saml:NameID Format="${esc(init.nameIdFormat ?? NAMEID_PERSISTENT)}">${esc(init.nameId)}</saml:NameID>` +
      `<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData${attrIf('InResponseTo', init.inResponseTo)}${attrIf('NotOnOrAfter', subjectNotOnOrAfter && iso(subjectNotOnOrAfter))}${attrIf('Recipient', init.recipient ?? init.acsUrl)}/></saml:SubjectConfirmation></saml:Subject>` +
      `<saml:Conditions${attrIf('NotBefore', notBefore && iso(notBefore))}${attrIf('NotOnOrAfter', notOnOrAfter && iso(notOnOrAfter))}><saml:AudienceRestriction><saml:Audience>${esc(init.audience)}</saml:Audience></saml:AudienceRestriction></saml:Conditions>` +
      `<saml:AuthnStatement AuthnInstant="${iso(now)}" SessionIndex="${newId()}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>` +
      (attributes ? `<saml:AttributeStatement>${attributes}</saml:AttributeStatement>` : '') +
      `</saml:Assertion>`;
  return (
    `<samlp:Response xmlns:samlp="${SAML_NS.protocol}" xmlns:saml="${SAML_NS.assertion}" ID="${newId()}" Version="2.0" IssueInstant="${iso(now)}"${attrIf('Destination', destination)}${attrIf('InResponseTo', responseInResponseTo)}>` +
    `<saml:Issuer>${esc(issuer)}</saml:Issuer>${status}${assertion}</samlp:Response>`
  );
}

function signElement(xml: string, key: Pick<TestIdp, 'privateKey' | 'certificate'>, element: 'Assertion' | 'Response'): string {
  const path = element === 'Response' ? "/*[local-name(.)='Response']" : "/*[local-name(.)='Response']/*[local-name(.)='Assertion']";
  const sig = new SignedXml({
    privateKey: key.privateKey,
    publicCert: key.certificate,
    signatureAlgorithm: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
    canonicalizationAlgorithm: 'http://www.w3.org/2001/10/xml-exc-c14n#',
  });
  sig.addReference({
    xpath: path,
    transforms: ['http://www.w3.org/2000/09/xmldsig#enveloped-signature', 'http://www.w3.org/2001/10/xml-exc-c14n#'],
    digestAlgorithm: 'http://www.w3.org/2001/04/xmlenc#sha256',
  });
  sig.computeSignature(xml, { prefix: 'ds', location: { reference: `${path}/*[local-name(.)='Issuer']`, action: 'after' } });
  return sig.getSignedXml();
}

export type Signing = 'assertion' | 'response' | 'both' | 'none';

/** Signs as an IdP would: the assertion (default), the response, both, or nothing. */
export function sign(xml: string, key: Pick<TestIdp, 'privateKey' | 'certificate'>, what: Signing = 'assertion'): string {
  let out = xml;
  if (what === 'assertion' || what === 'both') out = signElement(out, key, 'Assertion');
  if (what === 'response' || what === 'both') out = signElement(out, key, 'Response');
  return out;
}

export const encode = (xml: string) => Buffer.from(xml, 'utf8').toString('base64');

/** The AuthnRequest carried by an HTTP-Redirect binding URL (deflated, base64). */
export function authnRequestFrom(location: string): { xml: string; id: string; url: URL } {
  const url = new URL(location);
  const encoded = url.searchParams.get('SAMLRequest');
  if (!encoded) throw new Error(`no SAMLRequest in ${location}`);
  const xml = inflateRawSync(Buffer.from(encoded, 'base64')).toString('utf8');
  const id = /\sID="([^"]+)"/.exec(xml)?.[1];
  if (!id) throw new Error('AuthnRequest without ID');
  return { xml, id, url };
}
