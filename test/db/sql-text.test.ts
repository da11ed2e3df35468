import { describe, expect, test } from '@jest/globals';
import { namedToPositional, splitStatements } from '../../lambdas/db/sql-text.js';

describe('splitStatements', () => {
  test('splits at top-level semicolons only', () => {
    const script = `create table a (x text default 'a;b'); -- note; here
/* block; /* nested; */ still; */ insert into "odd;name" values ($$a;b$$, $tag$;$tag$, E'it\\'s;');;
do $$ begin perform 1; end $$;
select 1`;
    expect(splitStatements(script)).toEqual([
      "create table a (x text default 'a;b')",
      `-- note; here\n/* block; /* nested; */ still; */ insert into "odd;name" values ($$a;b$$, $tag$;$tag$, E'it\\'s;')`,
      'do $$ begin perform 1; end $$',
      'select 1',
    ]);
  });

  test('drops empty and comment-only statements', () => {
    expect(splitStatements(';;\n-- only a comment\n')).toEqual([]);
  });
});

describe('namedToPositional', () => {
  test('rewrites :name placeholders and leaves casts, strings, identifiers and comments alone', () => {
    const { text, names } = namedToPositional(`select :0, a::int, ':x', ":y", $$:z$$, :name, :0 -- :c`);
    expect(text).toBe(`select $1, a::int, ':x', ":y", $$:z$$, $2, $1 -- :c`);
    expect(names).toEqual(['0', 'name']);
  });

  test('leaves plpgsql assignments alone', () => {
    expect(namedToPositional('x := :v').text).toBe('x := $1');
  });
});
