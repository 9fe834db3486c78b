import { Flotilla } from "../runtime/Flotilla.js";

/** Opens the store for one operator command (no worker: it executes nothing), and closes it after. */
export async function withFlotilla<T>(store: string, fn: (f: Flotilla) => Promise<T>): Promise<T> {
  const f = await Flotilla.open({ store, worker: false });
  try {
    return await fn(f);
  } finally {
    await f.close();
  }
}
