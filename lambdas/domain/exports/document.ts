/**
 * The JSON export document, written as a stream: an object whose parts are plain values,
 * arrays produced page by page, or text written by a part's own generator. Parts are
 * produced lazily and in order, so a part may use what earlier parts collected (the tags
 * and custom fields the tasks referred to). The format is documented in
 * docs/export-format.md.
 */
import type { Viewer } from '../access/policy.js';
import { userCompact, workspaceCompact } from '../work/present.js';
import type { Db } from '../work/common.js';

/** Identifies the document format (docs/export-format.md). */
export const EXPORT_FORMAT = 'asana-compatible-export';
export const EXPORT_FORMAT_VERSION = 1;

export const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

export type ExportKind = 'project' | 'my_tasks' | 'saved_search';

export type JsonPart =
  | { key: string; value: unknown }
  /** Computed when its turn comes (after the parts before it were written). */
  | { key: string; later: () => unknown }
  /** An array written page by page. */
  | { key: string; pages: () => AsyncIterable<unknown[]> }
  /** An array whose items (comma-separated JSON text) a generator writes. */
  | { key: string; items: () => AsyncIterable<string> };

export async function* jsonDocument(parts: JsonPart[]): AsyncGenerator<string> {
  yield '{';
  for (const [i, part] of parts.entries()) {
    yield `${i ? ',' : ''}\n${JSON.stringify(part.key)}:`;
    if ('value' in part) yield JSON.stringify(part.value);
    else if ('later' in part) yield JSON.stringify(await part.later());
    else if ('pages' in part) {
      yield '[';
      let n = 0;
      for await (const page of part.pages()) for (const item of page) yield `${n++ ? ',' : ''}\n${JSON.stringify(item)}`;
      yield '\n]';
    } else {
      yield '[';
      yield* part.items();
      yield '\n]';
    }
  }
  yield '\n}\n';
}

/** The "export" header: what this document is, when and for whom it was made. */
export async function exportHeader(db: Db, viewer: Viewer, kind: ExportKind, source: { gid: string; resource_type: string; name: string }, now: Date) {
  const [user, organization] = await Promise.all([
    db.selectFrom('users').select(['gid', 'name']).where('gid', '=', viewer.userGid).executeTakeFirstOrThrow(),
    db.selectFrom('organizations').select(['gid', 'name']).where('gid', '=', viewer.organizationGid).executeTakeFirstOrThrow(),
  ]);
  return {
    format: EXPORT_FORMAT,
    version: EXPORT_FORMAT_VERSION,
    kind,
    exported_at: now.toISOString(),
    exported_by: userCompact(user),
    workspace: workspaceCompact(organization),
    source,
  };
}
