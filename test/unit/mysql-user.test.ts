import { accountOf, appUserStatements, tablePrivileges } from '../../src/store/mysql-user';
import { schemaTables } from '../../src/store/mysql-schema';
import { routineNames } from '../../src/store/mysql-routines';

describe('the application user', () => {
  const options = { user: 'websockets_app', database: 'websockets', prefix: 'p_' };

  it('is identified by RDS IAM authentication with TLS required in AWS, and has no password', () => {
    const [create, alter] = appUserStatements({ ...options, auth: { kind: 'iam' } });
    expect(create).toEqual({
      sql: "CREATE USER IF NOT EXISTS 'websockets_app'@'%' IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS' REQUIRE SSL",
      values: [],
    });
    expect(alter?.sql).toBe(
      "ALTER USER 'websockets_app'@'%' IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS' REQUIRE SSL",
    );
  });

  it('gets a password, as a bound value, where the server has no IAM plugin', () => {
    const [create] = appUserStatements({ ...options, auth: { kind: 'password', password: "it's" } });
    expect(create).toEqual({ sql: "CREATE USER IF NOT EXISTS 'websockets_app'@'%' IDENTIFIED BY ?", values: ["it's"] });
  });

  it('may read and write every table of the schema, only read the versions, and see the process list; nothing else', () => {
    const grants = appUserStatements({ ...options, auth: { kind: 'iam' } })
      .slice(2)
      .map((statement) => statement.sql);
    const tables = Object.values(schemaTables('p_'));
    const routines = Object.values(routineNames('p_'));
    expect(grants).toHaveLength(tables.length + 1 + routines.length);
    for (const routine of routines) {
      expect(grants).toContain(`GRANT EXECUTE ON PROCEDURE \`websockets\`.\`${routine}\` TO 'websockets_app'@'%'`);
    }
    for (const table of tables) {
      const rights = table === 'p_schema_versions' ? 'SELECT' : 'SELECT, INSERT, UPDATE, DELETE';
      expect(grants).toContain(`GRANT ${rights} ON \`websockets\`.\`${table}\` TO 'websockets_app'@'%'`);
    }
    expect(grants).toContain("GRANT PROCESS ON *.* TO 'websockets_app'@'%'");
    expect(grants.join('\n')).not.toMatch(/CREATE|ALTER|DROP|INDEX|GRANT OPTION|ALL/);
    expect(tablePrivileges(schemaTables('p_')).map((row) => row.table)).toEqual(tables);
  });

  it('refuses a name that would need quoting', () => {
    expect(() => accountOf("x'@'%")).toThrow(/letters, digits or _/);
    expect(() => accountOf('a'.repeat(33))).toThrow();
  });
});
