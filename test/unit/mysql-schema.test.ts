/**
 * The MySQL schema module without a server (the server's side: test/integration/mysql-schema.test.ts):
 * its migrations are numbered one after another up to SCHEMA_VERSION and listed in
 * docs/operations.md as they are in the code, every table has its definition, and every
 * identifier column in them is bytes.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MIGRATIONS, SCHEMA_VERSION, schemaTables, tableDefinitions } from '../../src/store/mysql-schema';

const IDENTIFIER_COLUMNS = ['connection_id', 'room', 'subject', 'delivery_id', 'cursor_id'];

describe('the MySQL schema module', () => {
  it('numbers its migrations 1, 2, … up to SCHEMA_VERSION', () => {
    expect(MIGRATIONS.map((migration) => migration.version)).toEqual(
      Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1),
    );
  });

  it('lists every migration in docs/operations.md, with the description the versions table records', () => {
    const docs = readFileSync(join(__dirname, '..', '..', 'docs', 'operations.md'), 'utf8');
    const section = docs.slice(docs.indexOf('### Schema versions and migrations'));
    const rows = [...section.matchAll(/^\| (\d+) +\| (.+?) +\|$/gm)].map(([, version, what]) => [
      Number(version),
      what,
    ]);
    expect(rows).toEqual(MIGRATIONS.map((migration) => [migration.version, migration.description]));
  });

  it('defines every table of the schema but the versions table (which migrate makes first)', () => {
    const { versions, ...tables } = schemaTables('p_');
    const defined = tableDefinitions(schemaTables('p_')).map(
      (ddl) => /CREATE TABLE IF NOT EXISTS `([^`]+)`/.exec(ddl)?.[1],
    );
    expect(defined.sort()).toEqual(Object.values(tables).sort());
    expect(defined).not.toContain(versions);
  });

  it('makes every identifier column bytes (VARBINARY), in every table', () => {
    const columns = tableDefinitions(schemaTables('p_')).flatMap((ddl) =>
      [...ddl.matchAll(/(?:^|[(,]\s*)(\w+) (\w+(?:\(\d+\))?)/gm)].filter(([, name]) =>
        IDENTIFIER_COLUMNS.includes(name as string),
      ),
    );
    expect(columns.length).toBeGreaterThanOrEqual(11);
    for (const [, name, type] of columns) expect(`${name} ${type}`).toMatch(/ VARBINARY\(\d+\)$/);
  });
});
