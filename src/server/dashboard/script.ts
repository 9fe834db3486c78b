/**
 * The dashboard's script, served inline. Plain browser JavaScript (no build
 * step, no framework): it renders with DOM calls and text nodes only, so a
 * value from the journal can never become markup. Every element a test or a
 * person looks for has a stable `data-testid`.
 */
import { CORE } from "./script/core.js";
import { OPERATIONS } from "./script/operations.js";
import { RUNS } from "./script/runs.js";

/** The parts share one function scope, as one script: each may call what the others define. */
export const SCRIPT = `"use strict";
(function () {
${CORE}
${RUNS}
${OPERATIONS}
  boot();
})();
`;
