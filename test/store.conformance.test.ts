import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore } from "../src/store/open.js";
import { freshDatabase, postgresSkipReason } from "../bench/support/postgres.js";
import { storeConformance } from "./helpers/storeConformance.js";

storeConformance("sqlite", () => {
  const dir = mkdtempSync(join(tmpdir(), "flotilla-store-"));
  const path = join(dir, "flotilla.db");
  return Promise.resolve({
    open: () => openStore(path),
    destroy: () => Promise.resolve(rmSync(dir, { recursive: true, force: true })),
  });
});

const skip = await postgresSkipReason();
storeConformance(
  "postgres",
  async () => {
    const db = await freshDatabase();
    return { open: () => openStore(db.url), destroy: db.drop };
  },
  skip ? { skip } : {},
);
