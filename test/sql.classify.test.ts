import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { classifySql, isFlotillaError, type SqlClass, type SqlDialect } from "../src/index.js";

const DIALECTS: SqlDialect[] = ["postgres", "sqlite"];

/** [sql, class, schema change?] that both grammars read alike. */
const BOTH: [string, SqlClass, boolean][] = [
  ["SELECT * FROM items WHERE id = 1", "read", false],
  ["SELECT 'DROP TABLE items; DELETE FROM items'", "read", false],
  ["SELECT count(*) FROM items i JOIN orders o ON o.item = i.id GROUP BY i.id", "read", false],
  ["INSERT INTO items (id, name) VALUES (1, 'a')", "write", false],
  ["INSERT INTO items SELECT * FROM staging", "write", false],
  ["UPDATE items SET qty = qty - 1 WHERE id = 7", "write", false],
  ["UPDATE items SET note = 'WHERE id = 1'", "destructive", false],
  ["DELETE FROM items WHERE id IN (SELECT item FROM orders WHERE shipped = 1)", "write", false],
  ["DELETE FROM items WHERE id = 1 -- and nothing else", "write", false],
  ["/* WHERE id = 1 */ DELETE FROM items", "destructive", false],
  ["DELETE FROM items", "destructive", false],
  ["DELETE FROM items WHERE 1 = 1", "destructive", false],
  ["UPDATE items SET qty = 0 WHERE 2 > 1", "destructive", false],
  ["DROP TABLE items", "destructive", true],
  ["ALTER TABLE items ADD COLUMN x INT", "destructive", true],
  ["CREATE TABLE copy (a INT)", "destructive", true],
];

const POSTGRES: [string, SqlClass, boolean][] = [
  ["TRUNCATE items", "destructive", true],
  ["UPDATE public.items SET qty = $1 WHERE id = $2", "write", false],
  [
    "INSERT INTO items (id) VALUES (1) ON CONFLICT (id) DO UPDATE SET qty = excluded.qty",
    "write",
    false,
  ],
  ["SELECT * INTO newtable FROM items", "destructive", true],
  ["DELETE FROM items WHERE true", "destructive", false],
  ["SELECT $$a;b$$", "read", false],
];

const SQLITE: [string, SqlClass, boolean][] = [
  ["REPLACE INTO items VALUES (1, 'a')", "write", false],
  ["UPDATE main.items SET qty = ? WHERE id = ?", "write", false],
  ["DELETE FROM items WHERE id = :id", "write", false],
];

describe("SQL classification by the parser", () => {
  for (const dialect of DIALECTS) {
    const cases = [...BOTH, ...(dialect === "postgres" ? POSTGRES : SQLITE)];
    it(`${dialect}: ${cases.length} statements get their class, tables and reasons`, () => {
      for (const [sql, cls, schema] of cases) {
        const c = classifySql(sql, dialect);
        assert.equal(c.class, cls, `${sql} is ${cls}`);
        assert.equal(c.schema, schema, `${sql}: schema change ${schema}`);
        assert.equal(c.multi, false);
        if (cls === "destructive") assert.ok(c.reasons.length > 0, `${sql} says why`);
        else assert.deepEqual(c.reasons, []);
        if (cls === "write") assert.ok(c.writes.length > 0, `${sql} names its target`);
      }
    });
  }

  it("names the tables a statement writes, qualified as written", () => {
    assert.deepEqual(classifySql("UPDATE public.items SET a = 1 WHERE id = 2", "postgres").writes, [
      "public.items",
    ]);
    assert.deepEqual(
      classifySql("INSERT INTO orders SELECT * FROM items", "postgres").writes,
      ["orders"],
      "the table read from is not a write target",
    );
    assert.deepEqual(classifySql("DROP TABLE a, b", "postgres").writes, ["a", "b"]);
  });

  it("says why a statement is destructive", () => {
    assert.match(classifySql("DELETE FROM items", "sqlite").reasons.join(), /DELETE without WHERE/);
    assert.match(
      classifySql("UPDATE items SET a = 1 WHERE 1 = 1", "postgres").reasons.join(),
      /WHERE does not look at the row/,
    );
    assert.match(classifySql("TRUNCATE items", "postgres").reasons.join(), /TRUNCATE/);
  });

  it("UPDATE/DELETE with a WHERE are row-limited; INSERT is not", () => {
    assert.equal(classifySql("UPDATE t SET a = 1 WHERE id > 3", "postgres").rowLimited, true);
    assert.equal(classifySql("DELETE FROM t WHERE id > 3", "sqlite").rowLimited, true);
    assert.equal(classifySql("INSERT INTO t VALUES (1)", "sqlite").rowLimited, false);
  });

  it("a script is classified by its worst statement", () => {
    const c = classifySql("SELECT 1; UPDATE t SET a = 1 WHERE id = 2; DROP TABLE t", "postgres");
    assert.equal(c.multi, true);
    assert.equal(c.statements.length, 3);
    assert.deepEqual(
      c.statements.map((s) => s.class),
      ["read", "write", "destructive"],
    );
    assert.equal(c.class, "destructive");
    assert.equal(classifySql("SELECT 1; SELECT 2", "sqlite").class, "read");
  });

  it("refuses what it cannot parse or will not run, with typed errors", () => {
    const code = (sql: string, dialect: SqlDialect) => {
      try {
        classifySql(sql, dialect);
        return "classified";
      } catch (err) {
        assert.ok(isFlotillaError(err), String(err));
        const refusal = err.details.refusal;
        return typeof refusal === "string" ? `${err.code}/${refusal}` : err.code;
      }
    };
    assert.equal(code("DELEET FROM items", "postgres"), "FLOTILLA_SQL_PARSE");
    assert.equal(code("SELECT * FROM", "sqlite"), "FLOTILLA_SQL_PARSE");
    assert.equal(code("PRAGMA foreign_keys = off", "sqlite"), "FLOTILLA_SQL_PARSE");
    assert.equal(code("BEGIN", "postgres"), "FLOTILLA_SQL_REFUSED/unsupported");
    assert.equal(code("SET search_path = evil", "postgres"), "FLOTILLA_SQL_REFUSED/unsupported");
    assert.equal(code("CALL wipe()", "postgres"), "FLOTILLA_SQL_REFUSED/unsupported");
    assert.equal(code("", "sqlite"), "FLOTILLA_SQL_REFUSED/empty");
    assert.equal(code(";", "postgres"), "FLOTILLA_SQL_REFUSED/empty");
  });
});

// ---- generated statements ---------------------------------------------------

const KEYWORDS = new Set(["t_", "c_"]);
const ident = (prefix: string) =>
  fc
    .stringMatching(/^[a-z][a-z0-9]{0,7}$/)
    .map((s) => `${prefix}${s}`)
    .filter((s) => !KEYWORDS.has(s));
const literal = fc.oneof(
  fc.integer({ min: -1000, max: 1000 }).map(String),
  fc.stringMatching(/^[a-zA-Z0-9 ;*]{0,12}$/).map((s) => `'${s}'`),
);
const op = fc.constantFrom("=", "<", ">", "<=", ">=", "<>");
const comparison = fc.tuple(ident("c_"), op, literal).map(([c, o, v]) => `${c} ${o} ${v}`);
/** A WHERE that looks at the row. */
const rowWhere = fc
  .array(comparison, { minLength: 1, maxLength: 3 })
  .chain((parts) => fc.constantFrom(" AND ", " OR ").map((glue) => parts.join(glue)));
/** A WHERE made of constants only: true or false for every row alike. */
const constantWhere = fc.tuple(literal, op, literal).map(([a, o, b]) => `${a} ${o} ${b}`);

interface Generated {
  sql: string;
  cls: SqlClass;
  table: string;
}

const statement: fc.Arbitrary<Generated> = fc.oneof(
  fc.tuple(ident("t_"), rowWhere).map(([t, w]) => ({
    sql: `SELECT * FROM ${t} WHERE ${w}`,
    cls: "read" as const,
    table: t,
  })),
  fc.tuple(ident("t_"), ident("c_"), literal).map(([t, c, v]) => ({
    sql: `INSERT INTO ${t} (${c}) VALUES (${v})`,
    cls: "write" as const,
    table: t,
  })),
  fc
    .tuple(
      fc.constantFrom("UPDATE", "DELETE"),
      ident("t_"),
      ident("c_"),
      literal,
      fc.oneof(
        rowWhere.map((w) => ({ where: ` WHERE ${w}`, cls: "write" as const })),
        constantWhere.map((w) => ({ where: ` WHERE ${w}`, cls: "destructive" as const })),
        fc.constant({ where: "", cls: "destructive" as const }),
      ),
    )
    .map(([verb, t, c, v, w]) => ({
      sql:
        verb === "UPDATE" ? `UPDATE ${t} SET ${c} = ${v}${w.where}` : `DELETE FROM ${t}${w.where}`,
      cls: w.cls,
      table: t,
    })),
  fc
    .tuple(fc.constantFrom("DROP TABLE", "ALTER TABLE"), ident("t_"), ident("c_"))
    .map(([verb, t, c]) => ({
      sql: verb === "DROP TABLE" ? `DROP TABLE ${t}` : `ALTER TABLE ${t} ADD COLUMN ${c} INT`,
      cls: "destructive" as const,
      table: t,
    })),
);

const RANK: Record<SqlClass, number> = { read: 0, write: 1, destructive: 2 };

describe("SQL classification of generated statements (fast-check)", () => {
  for (const dialect of DIALECTS) {
    it(`${dialect}: every generated statement and script gets its class`, () => {
      fc.assert(
        fc.property(fc.array(statement, { minLength: 1, maxLength: 3 }), (stmts) => {
          const c = classifySql(stmts.map((s) => s.sql).join(";\n"), dialect);
          const worst = stmts.reduce<SqlClass>(
            (w, s) => (RANK[s.cls] > RANK[w] ? s.cls : w),
            "read",
          );
          assert.equal(c.class, worst, stmts.map((s) => s.sql).join("; "));
          assert.equal(c.multi, stmts.length > 1);
          assert.deepEqual(
            c.statements.map((s) => s.class),
            stmts.map((s) => s.cls),
          );
          for (const s of stmts)
            if (s.cls !== "read")
              assert.ok(c.writes.includes(s.table), `${s.sql} writes ${s.table}`);
        }),
        { numRuns: 300 },
      );
    });
  }
});
