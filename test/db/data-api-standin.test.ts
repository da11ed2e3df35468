/**
 * The stand-in must reject what Aurora's Data API rejects, or repository tests that pass
 * on it would fail in production.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { BadRequestException, DatabaseErrorException, NotFoundException, StatementTimeoutException, type RDSData } from '@aws-sdk/client-rds-data';
import { PGlite } from '@electric-sql/pglite';
import { ManualClock } from '../../lambdas/adapters/clock.js';
import { DataApiStandIn } from '../support/data-api-standin.js';

let pglite: PGlite;
let standIn: DataApiStandIn;
let client: RDSData;
const clock = new ManualClock();
const target = { resourceArn: 'arn:r', secretArn: 'arn:s', database: 'postgres' };
const run = (sql: string, parameters: Parameters<RDSData['executeStatement']>[0]['parameters'] = [], transactionId?: string) =>
  client.executeStatement({ ...target, sql, parameters, includeResultMetadata: true, ...(transactionId ? { transactionId } : {}) });

beforeAll(async () => {
  pglite = await PGlite.create();
  standIn = new DataApiStandIn(pglite, { clock });
  client = standIn.client();
  await pglite.exec(`
    create table typed (id uuid primary key, at timestamptz, day date, amount numeric(10,2), doc jsonb, n int, label text, big text);
  `);
});
afterAll(async () => {
  await pglite.close();
});

describe('parameter binding', () => {
  test('an untyped stringValue is a varchar: comparing it with a uuid fails as on Aurora', async () => {
    const p = [{ name: 'id', value: { stringValue: '2f1c8a52-2d0a-4a47-9d7e-3c5ab0d7b1a1' } }];
    await expect(run('select * from typed where id = :id', p)).rejects.toThrow(DatabaseErrorException);
    await expect(run('select * from typed where id = :id', p)).rejects.toThrow(/operator does not exist: uuid = character varying.*SQLState: 42883/s);
  });

  test('untyped strings cannot go into timestamptz, date, numeric or jsonb columns', async () => {
    for (const [column, value] of [['at', '2026-01-01 00:00:00'], ['day', '2026-01-01'], ['amount', '1.50'], ['doc', '{"a":1}']] as const) {
      await expect(run(`insert into typed (id, ${column}) values (gen_random_uuid(), :v)`, [{ name: 'v', value: { stringValue: value } }])).rejects.toThrow(/is of type/);
    }
  });

  test('type hints bind UUID, TIMESTAMP, DATE, DECIMAL and JSON', async () => {
    const id = '2f1c8a52-2d0a-4a47-9d7e-3c5ab0d7b1a1';
    await run('insert into typed (id, at, day, amount, doc, n, label) values (:id, :at, :day, :amount, :doc, :n, :label)', [
      { name: 'id', typeHint: 'UUID', value: { stringValue: id } },
      { name: 'at', typeHint: 'TIMESTAMP', value: { stringValue: '2026-03-04 05:06:07.890' } },
      { name: 'day', typeHint: 'DATE', value: { stringValue: '2026-03-04' } },
      { name: 'amount', typeHint: 'DECIMAL', value: { stringValue: '12.34' } },
      { name: 'doc', typeHint: 'JSON', value: { stringValue: '{"k":[1,2]}' } },
      { name: 'n', value: { longValue: 7 } },
      { name: 'label', value: { stringValue: 'plain text is fine for text columns' } },
    ]);
    const out = await run('select id, at, day, amount, doc, n, label, n > 5 as big_n from typed where id = :id', [{ name: 'id', typeHint: 'UUID', value: { stringValue: id } }]);
    expect(out.records).toEqual([
      [
        { stringValue: id },
        { stringValue: '2026-03-04 05:06:07.89' },
        { stringValue: '2026-03-04' },
        { stringValue: '12.34' },
        { stringValue: '{"k": [1, 2]}' },
        { longValue: 7 },
        { stringValue: 'plain text is fine for text columns' },
        { booleanValue: true },
      ],
    ]);
    expect(out.columnMetadata?.map((c) => c.typeName)).toEqual(['uuid', 'timestamptz', 'date', 'numeric', 'jsonb', 'int4', 'text', 'bool']);
  });

  test('array parameters and missing parameters are refused', async () => {
    await expect(run('select :a', [{ name: 'a', value: { arrayValue: { longValues: [1] } } }])).rejects.toThrow(BadRequestException);
    await expect(run('select :a, :b', [{ name: 'a', value: { longValue: 1 } }])).rejects.toThrow(/No value specified for parameter: b/);
  });

  test('one statement per call', async () => {
    await expect(run('select 1; select 2')).rejects.toThrow(/multiple commands/);
  });

  test('statements without a result set report the rows they changed and no metadata', async () => {
    const out = await run("update typed set label = 'x' where n = 7");
    expect(out.numberOfRecordsUpdated).toBe(1);
    expect(out.columnMetadata).toBeUndefined();
  });
});

describe('limits', () => {
  test('a response over 1 MiB is refused, a smaller one is not', async () => {
    const rows = (n: number) => run(`select repeat('x', 60000) as big from generate_series(1, ${n})`);
    await expect(rows(16)).resolves.toMatchObject({ records: expect.any(Array) });
    await expect(rows(20)).rejects.toThrow(/more than the allowed response size limit/);
  });

  test('a row over 64 KB is refused', async () => {
    await expect(run(`select repeat('x', 70000) as big`)).rejects.toThrow(/single row/);
  });

  test('a statement that overruns the timeout is rolled back and reported', async () => {
    const slow = new DataApiStandIn(pglite, { limits: { statementTimeoutMs: 50 } }).client();
    await expect(
      slow.executeStatement({ ...target, sql: "insert into typed (id, label) select gen_random_uuid(), 'slow' from pg_sleep(0.2)" }),
    ).rejects.toThrow(StatementTimeoutException);
    const left = await run("select count(*) from typed where label = 'slow'");
    expect(left.records).toEqual([[{ longValue: 0 }]]);
  });
});

describe('transactions', () => {
  test('commit makes changes visible; rollback discards them; a failed statement does not end the transaction', async () => {
    const { transactionId } = await client.beginTransaction(target);
    await run("insert into typed (id, label) values (gen_random_uuid(), 'committed')", [], transactionId);
    await expect(run('select * from nowhere', [], transactionId)).rejects.toThrow(/does not exist/);
    await client.commitTransaction({ ...target, transactionId: transactionId! });

    const second = await client.beginTransaction(target);
    await run("insert into typed (id, label) values (gen_random_uuid(), 'rolled back')", [], second.transactionId);
    await client.rollbackTransaction({ ...target, transactionId: second.transactionId! });

    const out = await run("select label from typed where label in ('committed', 'rolled back')");
    expect(out.records).toEqual([[{ stringValue: 'committed' }]]);
  });

  test('a transaction idle for over 3 minutes is rolled back and its id is unknown afterwards', async () => {
    const { transactionId } = await client.beginTransaction(target);
    await run("insert into typed (id, label) values (gen_random_uuid(), 'idle')", [], transactionId);
    clock.advance(3 * 60_000 + 1);
    await expect(run('select 1', [], transactionId)).rejects.toThrow(NotFoundException);
    await expect(client.commitTransaction({ ...target, transactionId: transactionId! })).rejects.toThrow(NotFoundException);
    const out = await run("select count(*) from typed where label = 'idle'");
    expect(out.records).toEqual([[{ longValue: 0 }]]);
  });

  test('batchExecuteStatement applies every parameter set atomically', async () => {
    const sets = ['b1', 'b2', 'b3'].map((label) => [{ name: 'label', value: { stringValue: label } }]);
    await client.batchExecuteStatement({ ...target, sql: 'insert into typed (id, label) values (gen_random_uuid(), :label)', parameterSets: sets });
    await expect(
      client.batchExecuteStatement({ ...target, sql: 'insert into typed (id, n) values (gen_random_uuid(), :n)', parameterSets: [[{ name: 'n', value: { longValue: 1 } }], [{ name: 'n', value: { stringValue: 'nope' } }]] }),
    ).rejects.toThrow(/is of type integer/);
    const out = await run("select count(*) from typed where label like 'b_' or n = 1");
    expect(out.records).toEqual([[{ longValue: 3 }]]);
  });
});
