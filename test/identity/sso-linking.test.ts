/**
 * SSO linking cannot be turned against users of other organizations: identities are
 * scoped to the organization whose identity provider asserted them, and an account that
 * belongs to more than one organization is never linked by email.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { organizations } from '../../lambdas/db/repositories/organizations.js';
import { resolveSsoUser } from '../../lambdas/domain/auth/sso.js';
import { identityHarness, type IdentityHarness } from '../support/identity.js';
import { organizationWithRoles } from '../support/world.js';

let h: IdentityHarness;
beforeAll(async () => {
  h = await identityHarness();
});
afterAll(async () => {
  await h?.close();
});

test("another organization's admin cannot claim a user through their own identity provider", async () => {
  const b = await organizationWithRoles(h, 'Victim org');
  const a = await organizationWithRoles(h, 'Attacker org');
  const issuer = 'https://idp.victim.example';
  // The victim's identity is linked in B.
  const linked = await resolveSsoUser(h.deps, { kind: 'oidc', organizationGid: b.org.gid, issuer, subject: 'victim-sub', email: b.member.email, emailVerified: true });
  expect(linked.gid).toBe(b.member.gid);

  // The victim also joined A (e.g. accepted an invitation).
  await organizations.addMember(h.engine.db, { gid: h.deps.ids.gid(), organizationGid: a.org.gid, userGid: b.member.gid, role: 'member', now: h.clock.now() });

  // A's admin reuses B's issuer and the victim's subject: the identity is not B's to A.
  await expect(resolveSsoUser(h.deps, { kind: 'oidc', organizationGid: a.org.gid, issuer, subject: 'victim-sub', email: null, emailVerified: false })).rejects.toThrow(/verified email/);
  // A's IdP asserts the victim's email: refused, the account belongs to another organization too.
  await expect(resolveSsoUser(h.deps, { kind: 'saml', organizationGid: a.org.gid, issuer: 'https://idp.attacker.example', subject: 'x', email: b.member.email, emailVerified: true })).rejects.toThrow(/another organization/);
  const identities = await h.engine.db.selectFrom('user_identities').select(['organization_gid']).where('user_gid', '=', b.member.gid).execute();
  expect(identities.map((i) => i.organization_gid)).toEqual([b.org.gid]);
  // The identity linked before still works in B.
  expect((await resolveSsoUser(h.deps, { kind: 'oidc', organizationGid: b.org.gid, issuer, subject: 'victim-sub', email: null, emailVerified: false })).gid).toBe(b.member.gid);
});
