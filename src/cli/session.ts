import { Flotilla } from "../runtime/Flotilla.js";
import { openStore } from "../store/open.js";

/**
 * Opens the store for one operator command (no worker: it executes nothing),
 * and closes it after. A missing or outdated store is refused, never created
 * or migrated by a command that only reads or acts on existing runs.
 */
export async function withFlotilla<T>(url: string, fn: (f: Flotilla) => Promise<T>): Promise<T> {
  const store = await openStore(url, { create: false });
  try {
    const f = await Flotilla.open({ store, worker: false });
    try {
      return await fn(f);
    } finally {
      await f.close();
    }
  } finally {
    await store.close();
  }
}
