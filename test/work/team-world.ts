/**
 * The people the messages and templates suites share: an organization with one person
 * per role, another organization, and four more full members around a team:
 * `teamMember` and `teamMate` are its full members, `limited` a limited-access member,
 * `loner` in no team; `secretTeam` (secret) has `teamMember` alone.
 */
import type { IdentityHarness } from '../support/identity.js';
import { team } from '../support/graph.js';
import { organizationWithRoles, person, type Person } from '../support/world.js';

export type RolesWorld = Awaited<ReturnType<typeof organizationWithRoles>>;

export interface TeamWorld {
  w: RolesWorld;
  other: RolesWorld;
  teamMember: Person;
  teamMate: Person;
  limited: Person;
  loner: Person;
  tm: string;
  secretTeam: string;
}

export async function teamWorld(h: IdentityHarness, teamName: string): Promise<TeamWorld> {
  const w = await organizationWithRoles(h);
  const other = await organizationWithRoles(h, 'Other');
  const [teamMember, teamMate, limited, loner] = (await Promise.all([1, 2, 3, 4].map(() => person(h, { organizationGid: w.org.gid, role: 'member' })))) as [Person, Person, Person, Person];
  const tm = await team(h, w.org.gid, { name: teamName, members: [{ gid: teamMember.gid }, { gid: teamMate.gid }, { gid: limited.gid, limited: true }] });
  const secretTeam = await team(h, w.org.gid, { name: 'Secret', visibility: 'secret', members: [{ gid: teamMember.gid }] });
  return { w, other, teamMember, teamMate, limited, loner, tm, secretTeam };
}
