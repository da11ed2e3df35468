/** Asana's response envelopes and opt_fields projection. */

/** Parses opt_fields ("name,assignee.name") into field paths. */
export function parseOptFields(optFields: string | undefined): string[][] | null {
  if (!optFields) return null;
  return optFields.split(',').map((f) => f.split('.'));
}

/**
 * Keeps gid, resource_type and the requested fields of a resource (nested fields
 * through objects and arrays), as Asana does when opt_fields is given.
 */
export function project(value: unknown, fields: string[][]): unknown {
  if (Array.isArray(value)) return value.map((v) => project(v, fields));
  if (value === null || typeof value !== 'object') return value;
  const source = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const key of ['gid', 'resource_type']) if (key in source) out[key] = source[key];
  const nested = new Map<string, string[][]>();
  for (const [head, ...rest] of fields) {
    if (!head || !(head in source)) continue;
    if (rest.length === 0) {
      out[head] = source[head];
      nested.delete(head);
    } else if (!(head in out)) {
      nested.set(head, [...(nested.get(head) ?? []), rest]);
    }
  }
  for (const [head, rest] of nested) out[head] = project(source[head], rest);
  return out;
}

export function listEnvelope(data: unknown[], next: { offset: string; path: string; uri: string } | null) {
  return { data, next_page: next };
}
