import { afterAll, beforeAll, expect, test } from '@jest/globals';
import type { APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { createAuthorizer } from '../../lambdas/handlers/authorizer.js';
import { identityHarness, signUp, type IdentityHarness } from '../support/identity.js';

let h: IdentityHarness;
beforeAll(async () => {
  h = await identityHarness();
});
afterAll(async () => {
  await h?.close();
});

const event = (method: string, headers: Record<string, string>): APIGatewayRequestAuthorizerEvent =>
  ({ type: 'REQUEST', methodArn: 'arn:aws:execute-api:eu-west-1:123456789012:abc/prod/GET/api/1.0/users/me', httpMethod: method, headers, resource: '/api/1.0/users/me', path: '/api/1.0/users/me' }) as unknown as APIGatewayRequestAuthorizerEvent;

test('allows a valid bearer token and a session cookie on GET; refuses cookies on writes, bad and revoked tokens', async () => {
  const authorize = createAuthorizer(h.deps);
  const u = await signUp(h);
  const allowed = await authorize(event('GET', { Authorization: `Bearer ${u.token}` }));
  expect(allowed.principalId).toBe(u.userGid);
  expect(allowed.policyDocument.Statement[0]).toMatchObject({ Effect: 'Allow', Resource: 'arn:aws:execute-api:eu-west-1:123456789012:abc/prod/GET/api/1.0/users/me' });
  expect(allowed.context).toEqual({ principal_kind: 'user', principal_gid: u.userGid });
  expect((await authorize(event('GET', { cookie: `session=${u.token}` }))).principalId).toBe(u.userGid);

  await expect(authorize(event('POST', { cookie: `session=${u.token}` }))).rejects.toThrow('Unauthorized');
  await expect(authorize(event('GET', {}))).rejects.toThrow('Unauthorized');
  await expect(authorize(event('GET', { Authorization: 'Bearer x'.padEnd(50, 'y') }))).rejects.toThrow('Unauthorized');
  await h.call({ method: 'POST', path: '/api/1.0/auth/logout', token: u.token });
  await expect(authorize(event('GET', { Authorization: `Bearer ${u.token}` }))).rejects.toThrow('Unauthorized');
});
