/**
 * The shape of an asynchronous export (team CSV, organization JSON): a prologue, then
 * sections of items read in keyset pages, then an epilogue. The export worker
 * (lambdas/workers/exports.ts) writes a plan as a stream and checkpoints between pages:
 * a position is (section index, the cursor after the last page written, items written in
 * that section), so a new invocation resumes exactly where the last one stopped, and the
 * text written is the same as if it had run in one go.
 *
 * Everything a plan produces must be a function of the job row (its gid, organization,
 * created_at, modified_since) and the data: never of the wall clock or of an earlier
 * invocation's memory, because a resumed export rebuilds the plan from the job.
 */

export interface ExportPage {
  /** Rendered items in order: JSON values (without separators) or whole CSV records (with their CRLF). */
  items: string[];
  /** The cursor after the last item, or null when the section has no more items. */
  next: string | null;
}

export interface ExportSection {
  /** Counted under this name in the manifest and the progress (e.g. "tasks"). */
  name: string;
  /** Text written before the first item, e.g. `,\n"tasks":[`. */
  open: string;
  /** Text written after the last item, e.g. `\n]`. */
  close: string;
  /** Written between two items: `,\n` for JSON arrays, '' for CSV records. */
  separator: string;
  /**
   * One page of items after `after` (null: from the start). Pages must stay well under 1 MiB
   * of database rows (use keysetPage). `early`, when given, may be called with the cursor the
   * page will most likely end at as soon as it is known (when its rows have arrived, before
   * its related lists are read and it is rendered), so the next page's read can start: only
   * a hint, the returned `next` decides.
   */
  page(after: string | null, early?: (next: string | null) => void): Promise<ExportPage>;
}

export interface ExportPlan {
  /** e.g. "application/json" or "text/csv; charset=utf-8". */
  contentType: string;
  /** The download's file name (see exportFilename), e.g. "Acme organization export.json.gz". */
  filename: string;
  /** Stored and downloaded gzip-compressed (Content-Type stays the document's, the file name ends in .gz). */
  gzip: boolean;
  /** Text before the first section (a JSON header, a CSV BOM and header row). */
  prologue: string;
  sections: ExportSection[];
  /** Text after the last section. */
  epilogue: string;
}

/** Where a written export stands: the next thing to write. */
export interface ExportPosition {
  /** Index of the section being written; sections.length when all are done. */
  section: number;
  /** Cursor for the next page of that section (null: its first page). */
  after: string | null;
  /** Items of that section written so far (a separator goes before the next one when > 0). */
  written: number;
  /** Items written per section name, for the manifest and the progress. */
  counts: Record<string, number>;
}

/** What a plan is built from: the job row, never the wall clock (see above). */
export interface ExportJobContext {
  gid: string;
  organizationGid: string;
  /** When the export was requested: the document's exported_at. */
  createdAt: Date;
  /** Incremental organization exports: only what changed after this (plus tombstones). */
  modifiedSince: Date | null;
  /** Who asked: a user or a service account. */
  requestedBy: { kind: 'user' | 'service_account'; gid: string };
  /** The API's public base URL (links inside the document). */
  baseUrl: string;
}

export const startPosition = (): ExportPosition => ({ section: 0, after: null, written: 0, counts: {} });

/** Pages read ahead of the one being written (see renderPlan). */
export const READ_AHEAD_PAGES = 3;

/**
 * A plan's pages in document order, read up to `depth` pages ahead of the consumer: as soon
 * as a page's cursor is known (its `early` hint, else its arrival), the read of the one after
 * it starts while fewer than `depth` pages wait to be consumed, so the database reads the
 * next page's rows while this one's lists are read and rendered. A read for any other
 * position (a resume, or a page that ended before its hint) drops what was read ahead and
 * starts again there.
 */
interface PageRead {
  section: number;
  after: string | null;
  page: Promise<ExportPage>;
}

class PageReader {
  readonly #plan: ExportPlan;
  readonly #depth: number;
  /** Reads started and not yet handed to the consumer, in document order. */
  #queue: PageRead[] = [];
  /** The read started last: only its arrival starts the next one. */
  #last: PageRead | null = null;
  /** The next read, waiting for room in the queue. */
  #waiting: { section: number; after: string | null } | null = null;
  readonly #started = new Set<Promise<unknown>>();
  #closed = false;

  constructor(plan: ExportPlan, depth: number) {
    this.#plan = plan;
    this.#depth = depth;
  }

  read(section: number, after: string | null): Promise<ExportPage> {
    const head = this.#queue[0];
    if (!head || head.section !== section || head.after !== after) {
      this.#queue = [];
      this.#waiting = null;
      this.#start(section, after);
    }
    const entry = this.#queue.shift()!;
    if (this.#waiting && this.#queue.length < this.#depth) {
      const next = this.#waiting;
      this.#waiting = null;
      this.#start(next.section, next.after);
    }
    return entry.page;
  }

  /** No more reads; resolves when every read started has settled (failures ignored: never written). */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([...this.#started]);
  }

  #start(section: number, after: string | null): void {
    if (this.#closed || section >= this.#plan.sections.length) return;
    const entry: PageRead = { section, after, page: null! };
    // The hint and the arrival both lead to the next read; whichever comes first while this
    // is still the last read started (the other then finds a later one, or the same cursor).
    entry.page = this.#plan.sections[section]!.page(after, (next) => this.#follow(entry, next));
    this.#queue.push(entry);
    this.#last = entry;
    const settled = entry.page.then(
      (result) => this.#follow(entry, result.next),
      () => undefined, // the consumer gets the failure from entry.page, or never needs it
    );
    this.#started.add(settled);
    void settled.finally(() => this.#started.delete(settled));
  }

  /** The read after `entry`, which ends at `next`: started now if there is room, else when there is. */
  #follow(entry: PageRead, next: string | null): void {
    if (this.#closed || this.#last !== entry) return;
    const following = next === null ? { section: entry.section + 1, after: null } : { section: entry.section, after: next };
    if (this.#queue.length < this.#depth) this.#start(following.section, following.after);
    else this.#waiting = following;
  }
}

/**
 * Writes a plan from a position, one piece of text at a time. After the text of every
 * page it yields a `checkpoint` with the position that follows it; the caller may stop
 * at any checkpoint and resume later with renderPlan(plan, thatPosition): the text
 * yielded after the resume is exactly the rest of the document.
 *
 * Pages are read ahead (READ_AHEAD_PAGES, PageReader): while the caller compresses and
 * uploads a page's text, the next pages are already being read, so the database and the
 * worker work at the same time. A page depends only on its cursor, so reading it early
 * changes nothing in the text. When the caller stops, every read started is awaited
 * before the generator returns, so no query outlives the step.
 */
export async function* renderPlan(plan: ExportPlan, from: ExportPosition = startPosition(), readAhead = READ_AHEAD_PAGES): AsyncGenerator<{ text: string } | { checkpoint: ExportPosition }> {
  const position: ExportPosition = { ...from, counts: { ...from.counts } };
  const reader = new PageReader(plan, readAhead);
  try {
    if (position.section === 0 && position.after === null && position.written === 0) {
      yield { text: plan.prologue };
      if (plan.sections.length === 0) yield { text: plan.epilogue };
    }
    while (position.section < plan.sections.length) {
      const section = plan.sections[position.section]!;
      if (position.after === null && position.written === 0) yield { text: section.open };
      let after = position.after;
      for (;;) {
        const page = await reader.read(position.section, after);
        const parts: string[] = [];
        for (const item of page.items) {
          parts.push(position.written++ > 0 ? section.separator + item : item);
        }
        position.counts[section.name] = (position.counts[section.name] ?? 0) + page.items.length;
        after = page.next;
        if (after === null) {
          parts.push(section.close);
          position.section += 1;
          position.after = null;
          position.written = 0;
          yield { text: parts.join('') };
          if (position.section === plan.sections.length) yield { text: plan.epilogue };
          yield { checkpoint: { ...position, counts: { ...position.counts } } };
          break;
        }
        position.after = after;
        yield { text: parts.join('') };
        yield { checkpoint: { ...position, counts: { ...position.counts } } };
      }
    }
  } finally {
    await reader.close();
  }
}

/** The whole document as one string (tests and small exports only). */
export async function renderPlanToString(plan: ExportPlan): Promise<string> {
  const parts: string[] = [];
  for await (const piece of renderPlan(plan)) if ('text' in piece) parts.push(piece.text);
  return parts.join('');
}
