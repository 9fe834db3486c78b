import { guardTables } from "../../sql/guard.js";
import { printJson, printLine, table } from "../output.js";

/** `flotilla sql guard <url> <tables…>`: installs the audit triggers. */
export async function sqlGuardCommand(
  url: string,
  tables: string[],
  opts: { json?: boolean },
): Promise<void> {
  const guarded = await guardTables(url, tables);
  if (opts.json) return printJson({ guarded });
  printLine(
    `guarded ${guarded.length} table(s): every write is now kept with its before-image, attributed to the run that made it (or to none)`,
  );
  printLine(
    table([
      ["table", "primary key", "columns"],
      ...guarded.map((g) => [g.table, g.primaryKey.join(", "), String(g.columns.length)]),
    ]),
  );
}
