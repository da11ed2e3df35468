/**
 * Building organizations with people in every role, fast: users and memberships are
 * written directly and sessions issued through the real login path (completeLogin), so
 * tokens behave exactly as in production.
 */
import type { Role } from '../../lambdas/db/schema.js';
import { organizations } from '../../lambdas/db/repositories/organizations.js';
import { users } from '../../lambdas/db/repositories/users.js';
import { completeLogin } from '../../lambdas/domain/auth/sessions.js';
import { CHROME_MAC, uniqueEmail, type IdentityHarness } from './identity.js';

export interface Person {
  gid: string;
  email: string;
  name: string;
  token: string;
}

/** A new user with a session, optionally a member of an organization with a role. */
export async function person(h: IdentityHarness, init: { organizationGid?: string; role?: Role; name?: string } = {}): Promise<Person> {
  const now = h.deps.clock.now();
  const email = uniqueEmail(init.role ?? 'person');
  const name = init.name ?? `${init.role ?? 'Person'} ${email.slice(0, 12)}`;
  const user = await users.create(h.engine.db, { gid: h.deps.ids.gid(), email, name, now });
  if (init.organizationGid) await organizations.addMember(h.engine.db, { gid: h.deps.ids.gid(), organizationGid: init.organizationGid, userGid: user.gid, role: init.role ?? 'member', now });
  const session = await completeLogin(h.deps, { user, method: 'signup', ctx: { ip: '198.51.100.1', userAgent: CHROME_MAC, baseUrl: 'https://tasks.example.test' } });
  return { gid: user.gid, email, name, token: session.token };
}

/** An organization with one person in each role. */
export async function organizationWithRoles(h: IdentityHarness, name = 'Org') {
  const now = h.deps.clock.now();
  const org = await organizations.create(h.engine.db, { gid: h.deps.ids.gid(), name, now });
  const [superAdmin, admin, member, guest] = await Promise.all((['super_admin', 'admin', 'member', 'guest'] as const).map((role) => person(h, { organizationGid: org.gid, role })));
  return { org, superAdmin: superAdmin!, admin: admin!, member: member!, guest: guest! };
}
