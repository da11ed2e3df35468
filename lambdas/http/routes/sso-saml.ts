/**
 * SAML 2.0 single sign-on per organization: SP metadata, the SP-initiated start
 * (HTTP-Redirect to the IdP) and the assertion consumer service, which browsers post
 * to as an HTML form (application/x-www-form-urlencoded; bodyFormat 'form').
 */
import { z } from 'zod';
import { completeSamlLogin, samlMetadata, startSamlLogin } from '../../domain/auth/saml.js';
import { dataBody } from '../openapi.js';
import { defineRoute, type RouteDef } from '../route.js';
import { gid } from '../schemas.js';
import { loginContext, sessionReply, userSchema } from './auth.js';

const params = z.object({ org_gid: gid });
const TAGS = ['Single sign-on'];

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
  description: 'Redirects the browser to the identity provider with an AuthnRequest (HTTP-Redirect binding). The request is valid once, for 10 minutes.',
  tags: TAGS,
  auth: 'none',
  request: { params },
  responses: { 302: { description: 'Redirect to the identity provider' } },
  async handle({ params, meta, deps }) {
    const { location } = await startSamlLogin(deps, params.org_gid, meta.baseUrl);
    return { kind: 'redirect', status: 302, location };
  },
});

/** SAML responses are a few KB; 512 KB leaves room for many attributes and certificates. */
const MAX_SAML_RESPONSE_CHARS = 512 * 1024;

const acsRoute = defineRoute({
  method: 'POST',
  path: '/auth/saml/{org_gid}/acs',
  scope: 'api',
  operationId: 'samlAssertionConsumerService',
  summary: 'SAML assertion consumer service (HTTP-POST binding)',
  description:
    'Takes the form the identity provider makes the browser post (application/x-www-form-urlencoded: SAMLResponse, RelayState) and answers with a session, like POST /auth/login. ' +
    'The assertion must be signed with the configured IdP certificate, be meant for this organization (audience, recipient, destination), be within its validity times, answer a sign-in started with /start (InResponseTo), and is accepted once. ' +
    'A login from a new browser and IP address emails the user.',
  tags: TAGS,
  auth: 'none',
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
    const session = await completeSamlLogin(deps, params.org_gid, body, loginContext(meta));
    return sessionReply(session, deps.clock.now(), 200);
  },
});

/**
 * The ACS body is a form, not a JSON {"data": ...} envelope. `bodyFormat` is the RouteDef
 * flag api.ts reads (see the proposal in the SAML report); it is attached outside the
 * literal so this file typechecks before and after route.ts declares it.
 */
export const samlAcsRoute: RouteDef = Object.assign(acsRoute, { bodyFormat: 'form' as const });

export const samlRoutes = [samlMetadataRoute, samlStartRoute, samlAcsRoute];
