/**
 * A small SQL lexer for the two places that must read SQL text: splitting migration
 * files into statements, and rewriting the Data API's `:name` placeholders. It knows
 * PostgreSQL's quoting: '...' (with '' escapes), E'...' (backslash escapes), "...",
 * $tag$...$tag$, -- and nested /* *\/ comments, and the :: cast operator.
 */

type Segment = { code: true; text: string } | { code: false; text: string };

/** Splits SQL into code segments and non-code segments (strings, identifiers, comments). */
export function segments(sql: string): Segment[] {
  const out: Segment[] = [];
  let code = '';
  let i = 0;
  const flushCode = () => {
    if (code) out.push({ code: true, text: code });
    code = '';
  };
  const take = (end: number) => {
    flushCode();
    out.push({ code: false, text: sql.slice(i, end) });
    i = end;
  };
  while (i < sql.length) {
    const c = sql[i]!;
    const next = sql[i + 1];
    if (c === '-' && next === '-') {
      const nl = sql.indexOf('\n', i);
      take(nl === -1 ? sql.length : nl);
    } else if (c === '/' && next === '*') {
      let depth = 0;
      let j = i;
      while (j < sql.length) {
        if (sql.startsWith('/*', j)) {
          depth++;
          j += 2;
        } else if (sql.startsWith('*/', j)) {
          depth--;
          j += 2;
          if (depth === 0) break;
        } else j++;
      }
      take(j);
    } else if (c === "'" || c === '"') {
      const backslashes = c === "'" && (sql[i - 1] === 'E' || sql[i - 1] === 'e') && !/\w/.test(sql[i - 2] ?? '');
      let j = i + 1;
      while (j < sql.length) {
        if (backslashes && sql[j] === '\\') j += 2;
        else if (sql[j] === c && sql[j + 1] === c) j += 2;
        else if (sql[j] === c) break;
        else j++;
      }
      take(Math.min(j + 1, sql.length));
    } else if (c === '$' && !/\w/.test(sql[i - 1] ?? '')) {
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i));
      if (tag) {
        const close = sql.indexOf(tag[0], i + tag[0].length);
        take(close === -1 ? sql.length : close + tag[0].length);
      } else {
        code += c;
        i++;
      }
    } else {
      code += c;
      i++;
    }
  }
  flushCode();
  return out;
}

/** Splits a script into statements at top-level semicolons; empty statements are dropped. */
export function splitStatements(script: string): string[] {
  const statements: string[] = [];
  let current = '';
  let hasCode = false;
  for (const seg of segments(script)) {
    if (!seg.code) {
      current += seg.text;
      if (!seg.text.startsWith('--') && !seg.text.startsWith('/*')) hasCode = true;
      continue;
    }
    const parts = seg.text.split(';');
    parts.forEach((part, idx) => {
      current += part;
      if (part.trim()) hasCode = true;
      if (idx < parts.length - 1) {
        if (hasCode) statements.push(current.trim());
        current = '';
        hasCode = false;
      }
    });
  }
  if (hasCode && current.trim()) statements.push(current.trim());
  return statements;
}

/**
 * Rewrites `:name` placeholders (the Data API's syntax) to `$n`, leaving `::` casts,
 * strings, identifiers and comments alone. Returns the new text and the parameter
 * names in `$n` order (a name used twice maps to one `$n`).
 */
export function namedToPositional(sql: string): { text: string; names: string[] } {
  const names: string[] = [];
  let text = '';
  for (const seg of segments(sql)) {
    if (!seg.code) {
      text += seg.text;
      continue;
    }
    text += seg.text.replace(/(::?)([A-Za-z0-9_]+)/g, (match, colons: string, name: string, offset: number, whole: string) => {
      if (colons === '::' || whole[offset - 1] === ':') return match;
      let index = names.indexOf(name);
      if (index === -1) index = names.push(name) - 1;
      return `$${index + 1}`;
    });
  }
  return { text, names };
}
