import { FlotillaError } from "../core/errors.js";
import type { LlmProvider } from "./types.js";

/** The LLM providers a Flotilla instance knows, by name. */
export class ProviderRegistry {
  private readonly byName = new Map<string, LlmProvider>();

  constructor(given: Record<string, LlmProvider> = {}) {
    for (const [name, p] of Object.entries(given)) this.byName.set(name, p);
  }

  register(name: string, provider: LlmProvider): void {
    this.byName.set(name, provider);
  }

  /**
   * The provider named, or without a name the one called `default` (or the
   * only one); a typed error that says how to register one otherwise.
   */
  get(name?: string): LlmProvider {
    const p =
      name !== undefined
        ? this.byName.get(name)
        : (this.byName.get("default") ??
          (this.byName.size === 1 ? [...this.byName.values()][0] : undefined));
    if (!p) {
      throw new FlotillaError(
        "FLOTILLA_NO_PROVIDER",
        name === undefined
          ? "ctx.llm needs a provider: pass { providers: { default: … } } to Flotilla.open, " +
              "or call flotilla.registerProvider('default', provider) (in a worker module: in setup)"
          : `no LLM provider named '${name}' is registered: call flotilla.registerProvider('${name}', provider) ` +
              "(in a worker module: in setup), or pass it in { providers } to Flotilla.open",
      );
    }
    return p;
  }
}
