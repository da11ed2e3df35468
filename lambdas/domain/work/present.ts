/** Asana's compact representations, in one place. */
export const userCompact = (u: { gid: string; name: string }) => ({ gid: u.gid, resource_type: 'user' as const, name: u.name });
export const workspaceCompact = (o: { gid: string; name: string }) => ({ gid: o.gid, resource_type: 'workspace' as const, name: o.name });
export const teamCompact = (t: { gid: string; name: string }) => ({ gid: t.gid, resource_type: 'team' as const, name: t.name });
export const projectCompact = (p: { gid: string; name: string }) => ({ gid: p.gid, resource_type: 'project' as const, name: p.name });
export const sectionCompact = (s: { gid: string; name: string }) => ({ gid: s.gid, resource_type: 'section' as const, name: s.name });
export const taskCompact = (t: { gid: string; name: string; resource_subtype: string }) => ({ gid: t.gid, resource_type: 'task' as const, name: t.name, resource_subtype: t.resource_subtype });
export const tagCompact = (t: { gid: string; name: string }) => ({ gid: t.gid, resource_type: 'tag' as const, name: t.name });

/** Compacts for optional references (null stays null). */
export const maybe = <T, R>(value: T | null | undefined, f: (v: T) => R): R | null => (value === null || value === undefined ? null : f(value));
