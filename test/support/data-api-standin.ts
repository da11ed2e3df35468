/**
 * A stand-in for the RDS Data API that executes against PGlite with the Data API's
 * rules, so repository tests run "as on Aurora" (see ../shared/DESIGN.md):
 *
 * - parameters are bound by their SqlParameter type: a stringValue without typeHint is
 *   a varchar (so `uuid_col = :id` or inserting it into a timestamptz column fails as on
 *   Aurora); typeHint UUID, TIMESTAMP, DATE, TIME, DECIMAL, JSON bind those types;
 *   longValue is int8, doubleValue float8, booleanValue bool, blobValue bytea; array
 *   parameters are refused;
 * - one statement per call (PGlite's extended protocol refuses several, as Aurora does);
 * - results come back as Data API records (Field unions) with columnMetadata, values
 *   rendered as Aurora renders them (timestamps without offset in UTC, json as text,
 *   numeric as string);
 * - limits: 1 MiB per response, 64 KB per row, 45 s per statement (a statement that
 *   overruns is rolled back and StatementTimeoutException is thrown), transactions that
 *   stay idle for 3 minutes are rolled back and forgotten.
 *
 * client() returns a real RDSData client whose commands are answered by the stand-in
 * (aws-sdk-client-mock on that one instance), so code under test uses the real SDK types.
 */
import { randomUUID } from 'node:crypto';
import {
  BadRequestException,
  BatchExecuteStatementCommand,
  BeginTransactionCommand,
  CommitTransactionCommand,
  DatabaseErrorException,
  ExecuteStatementCommand,
  NotFoundException,
  RDSData,
  RDSDataClient,
  type RDSDataClientResolvedConfig,
  type ServiceInputTypes,
  type ServiceOutputTypes,
  RollbackTransactionCommand,
  StatementTimeoutException,
  type BatchExecuteStatementCommandInput,
  type BatchExecuteStatementCommandOutput,
  type ColumnMetadata,
  type ExecuteStatementCommandInput,
  type ExecuteStatementCommandOutput,
  type Field,
  type SqlParameter,
} from '@aws-sdk/client-rds-data';
import type { PGlite, Transaction } from '@electric-sql/pglite';
import { mockClient, type AwsStub } from 'aws-sdk-client-mock';
import type { Clock } from '../../lambdas/adapters/ports.js';
import { systemClock } from '../../lambdas/adapters/clock.js';
import { namedToPositional } from '../../lambdas/db/sql-text.js';

export const DATA_API_LIMITS = {
  responseBytes: 1024 * 1024,
  rowBytes: 64 * 1024,
  statementTimeoutMs: 45_000,
  transactionIdleMs: 3 * 60_000,
};

/** Type OIDs for parameter binding. */
const OID = { bool: 16, bytea: 17, int8: 20, float8: 701, varchar: 1043, date: 1082, time: 1083, timestamp: 1114, numeric: 1700, json: 114, uuid: 2950 };
const HINT_OID: Record<string, number> = { UUID: OID.uuid, TIMESTAMP: OID.timestamp, DATE: OID.date, TIME: OID.time, DECIMAL: OID.numeric, JSON: OID.json };

/** Result types whose text form is passed through untouched (PGlite parses the rest). */
const RAW_TEXT_OIDS = [20, 21, 23, 26, 700, 701, 1700, 114, 3802, 1082, 1083, 1114, 1184, 1266, 1186, 2950];

/** java.sql.Types codes, as the Data API reports them in columnMetadata.type. */
const JDBC_TYPE: Record<string, number> = { bool: -7, int2: 5, int4: 4, int8: -5, float4: 7, float8: 8, numeric: 2, text: 12, varchar: 12, bpchar: 1, date: 91, time: 92, timestamp: 93, timestamptz: 93, bytea: -2, uuid: 1111, json: 1111, jsonb: 1111 };

interface OpenTransaction {
  tx: Transaction;
  lastUsed: number;
  finish: (action: 'commit' | 'rollback') => Promise<void>;
  busy: Promise<unknown>;
}

export interface StandInOptions {
  clock?: Clock;
  limits?: Partial<typeof DATA_API_LIMITS>;
}

export class DataApiStandIn {
  readonly limits: typeof DATA_API_LIMITS;
  readonly #pglite: PGlite;
  readonly #clock: Clock;
  readonly #transactions = new Map<string, OpenTransaction>();
  #typeNames: Map<number, string> | undefined;
  /** Statements executed, for tests that count round trips. */
  statements = 0;

  constructor(pglite: PGlite, options: StandInOptions = {}) {
    this.#pglite = pglite;
    this.#clock = options.clock ?? systemClock;
    this.limits = { ...DATA_API_LIMITS, ...options.limits };
  }

  /** A real aggregated RDSData client whose calls this stand-in answers. */
  client(): RDSData {
    const client = new RDSData({ region: 'us-east-1', credentials: { accessKeyId: 'standin', secretAccessKey: 'standin' } });
    this.answer(client);
    return client;
  }

  /**
   * Answers the calls of one client instance, or of every RDSDataClient when given the
   * class (for code that creates its client at module scope, like the Lambda handlers).
   */
  answer(target: RDSData | typeof RDSDataClient): AwsStub<ServiceInputTypes, ServiceOutputTypes, RDSDataClientResolvedConfig> {
    const mock = mockClient(target);
    mock.on(ExecuteStatementCommand).callsFake((input: ExecuteStatementCommandInput) => this.executeStatement(input));
    mock.on(BatchExecuteStatementCommand).callsFake((input: BatchExecuteStatementCommandInput) => this.batchExecuteStatement(input));
    mock.on(BeginTransactionCommand).callsFake(() => this.beginTransaction());
    mock.on(CommitTransactionCommand).callsFake((input: { transactionId?: string }) => this.#end(input.transactionId, 'commit'));
    mock.on(RollbackTransactionCommand).callsFake((input: { transactionId?: string }) => this.#end(input.transactionId, 'rollback'));
    return mock;
  }

  async beginTransaction(): Promise<{ transactionId: string }> {
    this.sweepIdleTransactions();
    const transactionId = randomUUID();
    await new Promise<void>((opened, failed) => {
      // PGlite runs one transaction at a time; hold its transaction open until commit or rollback.
      this.#pglite
        .transaction(
          (tx) =>
            new Promise<void>((done, abort) => {
              this.#transactions.set(transactionId, {
                tx,
                lastUsed: this.#clock.now().getTime(),
                busy: Promise.resolve(),
                finish: async (action) => {
                  if (action === 'commit') done();
                  else abort(new RollbackSignal());
                },
              });
              opened();
            }),
        )
        .catch((error: unknown) => {
          if (!(error instanceof RollbackSignal)) failed(error);
        });
    });
    return { transactionId };
  }

  async #end(transactionId: string | undefined, action: 'commit' | 'rollback') {
    const open = this.#take(transactionId);
    this.#transactions.delete(transactionId!);
    await open.busy;
    await open.finish(action);
    // Let PGlite finish COMMIT/ROLLBACK before the next call runs.
    await this.#pglite.query('select 1');
    return { transactionStatus: action === 'commit' ? 'Transaction Committed' : 'Rollback Complete' };
  }

  #take(transactionId: string | undefined): OpenTransaction {
    this.sweepIdleTransactions();
    const open = transactionId ? this.#transactions.get(transactionId) : undefined;
    if (!open) throw new NotFoundException({ message: `Transaction ${transactionId} is not found`, $metadata: {} });
    open.lastUsed = this.#clock.now().getTime();
    return open;
  }

  /** Rolls back transactions idle for longer than the Data API allows. */
  sweepIdleTransactions(): void {
    const now = this.#clock.now().getTime();
    for (const [id, open] of this.#transactions) {
      if (now - open.lastUsed > this.limits.transactionIdleMs) {
        this.#transactions.delete(id);
        void open.busy.then(() => open.finish('rollback'));
      }
    }
  }

  async executeStatement(input: ExecuteStatementCommandInput): Promise<ExecuteStatementCommandOutput> {
    const { text, values, paramTypes } = this.#bind(input.sql ?? '', input.parameters ?? []);
    const run = async (tx: Transaction | PGlite) => {
      this.statements++;
      const started = Date.now();
      const result = await tx.query<unknown[]>(text, values, { rowMode: 'array', paramTypes, parsers: this.#rawParsers() });
      if (Date.now() - started > this.limits.statementTimeoutMs) {
        throw new StatementTimeoutException({ message: 'The statement timed out', $metadata: {}, dbConnectionId: 0 });
      }
      return this.#render(result, tx, input.includeResultMetadata ?? false);
    };
    try {
      if (input.transactionId) {
        const open = this.#take(input.transactionId);
        const job = open.busy.then(async () => {
          await open.tx.query('savepoint data_api_statement');
          try {
            const r = await run(open.tx);
            await open.tx.query('release savepoint data_api_statement');
            return r;
          } catch (error) {
            await open.tx.query('rollback to savepoint data_api_statement');
            throw error;
          }
        });
        open.busy = job.catch(() => undefined);
        return await job;
      }
      return await this.#pglite.transaction((tx) => run(tx));
    } catch (error) {
      throw toDataApiError(error);
    }
  }

  async batchExecuteStatement(input: BatchExecuteStatementCommandInput): Promise<BatchExecuteStatementCommandOutput> {
    const sets = input.parameterSets?.length ? input.parameterSets : [[]];
    const ownTransaction = !input.transactionId;
    const transactionId = input.transactionId ?? (await this.beginTransaction()).transactionId;
    const updateResults = [];
    try {
      for (const parameters of sets) {
        const out = await this.executeStatement({ ...input, parameters, transactionId, includeResultMetadata: false });
        updateResults.push({ generatedFields: out.generatedFields ?? [] });
      }
      if (ownTransaction) await this.#end(transactionId, 'commit');
    } catch (error) {
      if (ownTransaction) await this.#end(transactionId, 'rollback').catch(() => undefined);
      throw error;
    }
    return { updateResults, $metadata: {} };
  }

  #bind(sql: string, parameters: SqlParameter[]) {
    const { text, names } = namedToPositional(sql);
    const byName = new Map(parameters.map((p) => [p.name, p]));
    const values: unknown[] = [];
    const paramTypes: number[] = [];
    for (const name of names) {
      const p = byName.get(name);
      if (!p) throw new BadRequestException({ message: `No value specified for parameter: ${name}`, $metadata: {} });
      const v: Field = p.value ?? { isNull: true };
      if (v.isNull) {
        values.push(null);
        paramTypes.push(0);
      } else if (v.stringValue !== undefined) {
        const oid = p.typeHint ? HINT_OID[p.typeHint] : OID.varchar;
        if (!oid) throw new BadRequestException({ message: `Unsupported typeHint: ${p.typeHint}`, $metadata: {} });
        values.push(v.stringValue);
        paramTypes.push(oid);
      } else if (v.longValue !== undefined) {
        values.push(String(v.longValue));
        paramTypes.push(OID.int8);
      } else if (v.doubleValue !== undefined) {
        values.push(String(v.doubleValue));
        paramTypes.push(OID.float8);
      } else if (v.booleanValue !== undefined) {
        values.push(v.booleanValue);
        paramTypes.push(OID.bool);
      } else if (v.blobValue !== undefined) {
        values.push(v.blobValue);
        paramTypes.push(OID.bytea);
      } else {
        throw new BadRequestException({ message: 'Array parameters are not supported.', $metadata: {} });
      }
    }
    return { text, values, paramTypes };
  }

  #rawParsers() {
    return Object.fromEntries(RAW_TEXT_OIDS.map((oid) => [oid, (value: string) => value]));
  }

  /** Type names by OID, read through the executor at hand (the PGlite lock may be held by a transaction). */
  async #typeName(oid: number, executor: Transaction | PGlite): Promise<string> {
    if (!this.#typeNames?.has(oid)) {
      const types = await executor.query<{ oid: number; typname: string }>('select oid::int4 as oid, typname from pg_type');
      this.#typeNames = new Map(types.rows.map((t) => [t.oid, t.typname]));
    }
    return this.#typeNames.get(oid) ?? 'unknown';
  }

  async #render(
    result: { rows: unknown[][]; fields: { name: string; dataTypeID: number }[]; affectedRows?: number },
    executor: Transaction | PGlite,
    includeMetadata: boolean,
  ): Promise<ExecuteStatementCommandOutput> {
    if (result.fields.length === 0) {
      return { numberOfRecordsUpdated: result.affectedRows ?? 0, generatedFields: [], $metadata: {} };
    }
    const typeNames = await Promise.all(result.fields.map((f) => this.#typeName(f.dataTypeID, executor)));
    const records = result.rows.map((row) => row.map((value, i) => toField(value, typeNames[i]!)));
    let total = 0;
    for (const record of records) {
      const bytes = Buffer.byteLength(JSON.stringify(record));
      if (bytes > this.limits.rowBytes) throw new BadRequestException({ message: 'Database returned more than the allowed response size limit for a single row', $metadata: {} });
      total += bytes;
      if (total > this.limits.responseBytes) throw new BadRequestException({ message: 'Database returned more than the allowed response size limit', $metadata: {} });
    }
    const columnMetadata: ColumnMetadata[] | undefined = includeMetadata
      ? result.fields.map((f, i) => ({ name: f.name, label: f.name, typeName: typeNames[i], type: JDBC_TYPE[typeNames[i]!] ?? 1111, nullable: 2 }))
      : undefined;
    return { records, ...(columnMetadata ? { columnMetadata } : {}), numberOfRecordsUpdated: 0, $metadata: {} };
  }
}

class RollbackSignal extends Error {}

/** Renders one value as the Data API would. */
function toField(value: unknown, typeName: string): Field {
  if (value === null || value === undefined) return { isNull: true };
  switch (typeName) {
    case 'int2':
    case 'int4':
    case 'int8':
    case 'oid':
      return { longValue: Number(value) };
    case 'float4':
    case 'float8':
      return { doubleValue: Number(value) };
    case 'bool':
      return { booleanValue: Boolean(value) };
    case 'bytea':
      return { blobValue: value as Uint8Array };
    case 'timestamptz':
      // Aurora renders timestamptz in UTC without an offset.
      return { stringValue: utcTimestampText(String(value)) };
  }
  if (typeName.startsWith('_') && Array.isArray(value)) return { arrayValue: toArrayValue(value)! };
  return { stringValue: typeof value === 'string' ? value : JSON.stringify(value) };
}

/** PostgreSQL's timestamptz text ('2026-03-04 05:06:07.89+01') as Aurora shows it: UTC, no offset, no trailing zeros. */
function utcTimestampText(text: string): string {
  if (text.endsWith('+00')) return text.slice(0, -3);
  const iso = new Date(text.replace(' ', 'T').replace(/([+-]\d\d)$/, '$1:00')).toISOString();
  return iso.replace('T', ' ').replace('Z', '').replace(/\.?0+$/, '');
}

function toArrayValue(values: unknown[]): Field['arrayValue'] {
  if (values.some(Array.isArray)) return { arrayValues: values.map((v) => toArrayValue(v as unknown[])!) };
  if (values.every((v) => typeof v === 'boolean')) return { booleanValues: values as boolean[] };
  if (values.every((v) => typeof v === 'number' && Number.isInteger(v))) return { longValues: values as number[] };
  if (values.every((v) => typeof v === 'number')) return { doubleValues: values as number[] };
  return { stringValues: values.map(String) };
}

/** PostgreSQL errors become DatabaseErrorException with the SQLState in the message, as Aurora reports them. */
function toDataApiError(error: unknown): unknown {
  if (error instanceof Error && 'code' in error && typeof (error as { code: unknown }).code === 'string' && !('$metadata' in error)) {
    const e = error as Error & { code: string; position?: string };
    return new DatabaseErrorException({
      message: `ERROR: ${e.message}${e.position ? `\n  Position: ${e.position}` : ''}; SQLState: ${e.code}`,
      $metadata: {},
    });
  }
  return error;
}
