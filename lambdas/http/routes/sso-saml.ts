/**
 * SAML 2.0 single sign-on per organization: SP metadata, the SP-initiated start
 * (HTTP-Redirect to the IdP) and the assertion consumer service, which browsers post
 * to as an HTML form (application/x-www-form-urlencoded; bodyFormat 'form').
 *
 * The start sets a short-lived cookie named after the AuthnRequest ID, scoped to the
 * ACS path; the ACS requires it, so a sign-in completes only in the browser that began
 * it. The IdP makes the browser post cross-site, so the cookie is SameSite=None (it is
 * HttpOnly, Secure, carries no secret and is sent to the ACS path only).
 *
 * What an identity provider's admin needs: the metadata URL (also shown as
 * saml.sp_metadata_url by GET /organizations/{gid}/sso), or the entity ID (= that URL)
 * and the ACS URL; assertions must be signed; an `email` attribute (or an emailAddress
 * NameID) lets a first sign-in link to the member with that email.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { completeSamlLogin, SAML_REQUEST_TTL_MS, samlMetadata, samlUrls, startSamlLogin } from '../../domain/auth/saml.js';
import { dataBody } from '../openapi.js';
import { defineRoute, type RequestMeta } from '../route.js';
import { gid } from '../schemas.js';
import { loginContext, sessionReply, userSchema } from './auth.js';

const params = z.object({ org_gid: gid });
const TAGS = ['Single sign-on'];

/** The name of the cookie that binds a pending SAML sign-in to the browser that started it. */
export const samlBrowserCookieName = (requestId: string) => `saml_login_${createHash('sha256').update(requestId).digest('base64url').slice(0, 22)}`;

const acsPath = (baseUrl: string, organizationGid: string) => new URL(samlUrls(baseUrl, organizationGid).acsUrl).pathname;

function cookies(meta: RequestMeta): Map<string, string> {
  const jar = new Map<string, string>();
  for (const part of (meta.headers.cookie ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at > 0) jar.set(part.slice(0, at).trim(), part.slice(at + 1).trim());
  }
  return jar;
}

export const samlMetadataRoute = defineRoute({
  method: 'GET',
  path: '/auth/saml/{org_gid}/metadata',
  scope: 'api',
  operationId: 'getSamlServiceProviderMetadata',
  summary: "SAML 2.0 service provider metadata of an organization, for its identity provider's admin",
  description: 'The entity ID is this URL; the assertion consumer service is /auth/saml/{org_gid}/acs (HTTP-POST binding). Assertions must be signed.',
  tags: TAGS,
  auth: 'none',
  request: { params },
  responses: { 200: { description: 'SP metadata (XML)', contentType: 'application/samlmetadata+xml', schema: z.string() } },
  async handle({ params, meta, deps }) {
    const xml = await samlMetadata(deps, params.org_gid, meta.baseUrl);
    return { kind: 'raw', status: 200, headers: { 'Content-Type': 'application/samlmetadata+xml; charset=utf-8' }, body: xml };
  },
});

export const samlStartRoute = defineRoute({
  method: 'GET',
  path: '/auth/saml/{org_gid}/start',
  scope: 'api',
  operationId: 'startSamlLogin',
  summary: "Sign in with the organization's SAML identity provider",
  description:
    'Open in a browser. Redirects (302) to the identity provider with an AuthnRequest (HTTP-Redirect binding). The sign-in must be completed within 10 minutes, once, in the same browser. 404 when the organization does not exist or has no SAML identity provider.',
  tags: TAGS,
  auth: 'none',
  request: { params },
  responses: { 302: { description: 'Redirect to the identity provider (HTTP-Redirect binding)' } },
  async handle({ params, meta, deps }) {
    const { location, requestId } = await startSamlLogin(deps, params.org_gid, meta.baseUrl);
    return {
      kind: 'raw',
      status: 302,
      headers: {
        Location: location,
        'Set-Cookie': `${samlBrowserCookieName(requestId)}=1; Path=${acsPath(meta.baseUrl, params.org_gid)}; Max-Age=${SAML_REQUEST_TTL_MS / 1000}; HttpOnly; Secure; SameSite=None`,
      },
      body: '',
    };
  },
});

/** SAML responses are a few KB; 512 KB leaves room for many attributes and certificates. */
const MAX_SAML_RESPONSE_CHARS = 512 * 1024;

export const samlAcsRoute = defineRoute({
  method: 'POST',
  path: '/auth/saml/{org_gid}/acs',
  scope: 'api',
  operationId: 'samlAssertionConsumerService',
  summary: 'SAML assertion consumer service (HTTP-POST binding)',
  description:
    'Takes the form the identity provider makes the browser post (application/x-www-form-urlencoded: SAMLResponse, RelayState) and answers with a session, like POST /auth/login. ' +
    'The assertion must be signed with the configured IdP certificate, be meant for this organization (audience, recipient, destination), be within its validity times, answer a sign-in started with /start (InResponseTo), and is accepted once. ' +
    'A login from a new browser and IP address emails the user. 400: not a SAML response; 401: refused (the message names the failed check); 403: no member matches; 404: no SAML set up.',
  tags: TAGS,
  auth: 'none',
  bodyFormat: 'form',
  request: {
    params,
    body: z.object({
      SAMLResponse: z
        .string()
        .min(1)
        .max(MAX_SAML_RESPONSE_CHARS)
        .regex(/^[A-Za-z0-9+/=\s]+$/, 'must be base64'),
      RelayState: z.string().max(1024).optional(),
    }),
  },
  responses: { 200: { description: 'Signed in', schema: dataBody(z.object({ token: z.string(), expires_at: z.string(), user: userSchema })) } },
  async handle({ params, body, meta, deps }) {
    const jar = cookies(meta);
    const session = await completeSamlLogin(deps, params.org_gid, { post: body, startedInThisBrowser: (requestId) => jar.get(samlBrowserCookieName(requestId)) === '1' }, loginContext(meta));
    return sessionReply(session, deps.clock.now(), 200);
  },
});

export const samlRoutes = [samlMetadataRoute, samlStartRoute, samlAcsRoute];
