import assert from "node:assert/strict";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { chromium, type Browser, type Locator, type Page } from "playwright-core";
import { tempStore } from "./helpers/tempStore.js";
import {
  call,
  openServeFleet,
  startServeProcess,
  TOKENS,
  TOKENS_ENV,
  type ServeFleet,
  type ServeProcess,
} from "./serve.fixture.js";

/*
 * The dashboard in a real browser (Debian's Chromium through playwright-core)
 * against `flotilla serve` started as a child process, the real CLI, on a
 * store whose runs a worker in this process executes. Screenshots go to
 * test-artifacts/serve/.
 */

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARTIFACTS = join(import.meta.dirname, "..", "test-artifacts", "serve");
const missing = !existsSync(CHROMIUM);
if (missing && process.env.CI === "true")
  throw new Error(`${CHROMIUM} is missing: .ci/run installs Debian's chromium`);
if (missing) console.log(`skipped: no Chromium at ${CHROMIUM} (apt-get install chromium)`);

const row = (page: Page, runId: string) =>
  page.locator(`[data-testid=run-row][data-run-id="${runId}"]`);

/**
 * One attribute of every element a locator finds, in order, read at one
 * moment: element by element, a list that re-renders between the count and
 * a read left the read waiting 30 s for a row that was gone.
 */
function attributes(list: Locator, name: string): Promise<(string | null)[]> {
  // Run in the page: the elements are the DOM's (this file is compiled without its types).
  type Element = { getAttribute(attribute: string): string | null };
  return list.evaluateAll(
    (els: Element[], attr: string) => els.map((el) => el.getAttribute(attr)),
    name,
  );
}

async function until(what: string, check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function signIn(page: Page, url: string, token: string): Promise<void> {
  await page.goto(`${url}/`);
  await page.getByTestId("login-token").fill(token);
  await page.getByTestId("login-submit").click();
  await page.getByTestId("nav").waitFor();
}

describe("flotilla serve: the dashboard in Chromium", { skip: missing }, () => {
  it(
    "lists runs, opens a timeline, cancels, resolves, undoes with the plan first, redrives a dead letter; a tenant cannot see another's run",
    { timeout: 180_000 },
    async () => {
      const started = Date.now();
      mkdirSync(ARTIFACTS, { recursive: true });
      const store = tempStore();
      let fleet: ServeFleet | undefined;
      let serve: ServeProcess | undefined;
      let browser: Browser | undefined;
      const pageErrors: string[] = [];
      try {
        fleet = await openServeFleet(store);
        const { acme, globex } = fleet;
        serve = await startServeProcess(["--store", store, "--port", "0"], {
          env: { FLOTILLA_TOKENS: TOKENS_ENV },
        });
        const url = serve.url;
        browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
        const admin = await browser.newPage({ viewport: { width: 1360, height: 900 } });
        admin.on("pageerror", (e) => pageErrors.push(e.message));
        const shot = (page: Page, name: string) =>
          page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

        // Sign in; the runs of both tenants are listed with their cost.
        await signIn(admin, url, TOKENS.admin);
        await row(admin, globex.done).waitFor();
        for (const id of [
          acme.done,
          acme.waiting,
          acme.failed,
          acme.dead,
          acme.parked,
          globex.done,
        ])
          await row(admin, id).waitFor();
        assert.match((await row(admin, acme.done).textContent()) ?? "", /\$0\.002000/);
        await admin.getByTestId("filter-status").selectOption("waiting");
        await admin.getByTestId("filter-apply").click();
        await until("the list to show the 2 waiting runs only", async () => {
          const statuses = await attributes(admin.getByTestId("run-row"), "data-status");
          return statuses.length === 2 && statuses.every((x) => x === "waiting");
        });
        await shot(admin, "01-runs-filtered");

        // A timeline: effects with their state, LLM calls, children.
        await admin.goto(`${url}/#/runs?agent=serve.desk`);
        await row(admin, acme.done).getByTestId("run-link").click();
        await admin.locator('[data-testid=effect-row][data-state="committed"]').waitFor();
        assert.equal(await admin.getByTestId("llm-row").count(), 2);
        assert.equal(await admin.getByTestId("child-row").count(), 1);
        assert.equal(await admin.getByTestId("run-status").textContent(), "completed");
        assert.ok((await admin.getByTestId("timeline-entry").count()) >= 8);
        await shot(admin, "02-timeline");

        // A run moved by someone else: the page follows it live (Server-Sent Events).
        await admin.goto(`${url}/#/runs/${globex.waiting}`);
        await admin.locator('[data-testid=timeline-entry][data-type="run.suspended"]').waitFor();
        await fleet.flotilla.signal(globex.waiting, "go", "from elsewhere");
        await admin.locator('[data-testid=timeline-entry][data-type="run.completed"]').waitFor();
        await admin.locator("[data-testid=run-status] .badge.completed").waitFor();

        // Cancel a waiting run: the receipt shows, and the timeline follows live.
        await admin.goto(`${url}/#/runs/${acme.waiting}`);
        await admin.getByTestId("timeline-entry").first().waitFor();
        await admin.getByTestId("cancel-reason").fill("customer withdrew");
        await admin.getByTestId("action-cancel").click();
        await admin.getByTestId("action-result").getByTestId("receipt").waitFor();
        assert.match(
          (await admin.getByTestId("receipt").first().textContent()) ?? "",
          /customer withdrew \(by admin\)/,
        );
        await admin.locator('[data-testid=timeline-entry][data-type="run.cancelled"]').waitFor();
        await admin.locator("[data-testid=run-status] .badge.cancelled").waitFor();
        assert.equal((await fleet.flotilla.store.getRun(acme.waiting))?.status, "cancelled");
        await shot(admin, "03-cancel-receipt");

        // Resolve a parked effect: the run resumes and completes.
        fleet.heal();
        await admin.goto(`${url}/#/runs/${globex.parked}`);
        await admin.getByTestId("resolve-committed").click();
        await admin.getByTestId("resolve-result").waitFor();
        await fleet.flotilla.handle(globex.parked).result({ timeoutMs: 10_000 });
        const resolved = (await fleet.flotilla.store.readJournal(globex.parked)).find(
          (e) => e.type === "effect.resolved",
        );
        assert.equal((resolved?.data as { by: string }).by, "admin");

        // Undo: the plan first, nothing done until confirmed; then the report.
        await admin.goto(`${url}/#/runs/${globex.done}`);
        await admin.getByTestId("action-undo-plan").click();
        await admin.getByTestId("undo-plan").waitFor();
        assert.match(
          (await admin.getByTestId("undo-plan").textContent()) ?? "",
          /payments\.charge@\d+.*compensate/,
        );
        assert.deepEqual(fleet.refunds, [], "the plan did nothing");
        await shot(admin, "04-undo-plan");
        await admin.getByTestId("action-undo-confirm").click();
        await admin
          .getByTestId("action-result")
          .getByTestId("undo-report")
          .waitFor({ timeout: 30_000 });
        const outcomes = admin.getByTestId("action-result").getByTestId("undo-outcomes");
        assert.match((await outcomes.textContent()) ?? "", /undone/);
        assert.deepEqual(fleet.refunds, [{ order: "globex-1" }]);
        await shot(admin, "05-undo-report");

        // Dead letters by class; redrive one: its run resumes and completes.
        await admin.goto(`${url}/#/dead-letters?class=non-retryable`);
        const entry = admin.locator(`[data-testid=dl-row][data-dl-id="${acme.deadLetter}"]`);
        await entry.waitFor();
        assert.equal(await entry.getAttribute("data-status"), "open");
        await admin.getByTestId("dl-reason").fill("provider fixed");
        await entry.getByTestId("dl-redrive").click();
        await admin
          .locator(`[data-testid=dl-row][data-dl-id="${acme.deadLetter}"][data-status="redriven"]`)
          .waitFor();
        assert.equal(
          await fleet.flotilla.handle(acme.dead).result({ timeoutMs: 10_000 }),
          "answer to flaky",
        );
        const redriven = (await fleet.flotilla.store.readJournal(acme.dead)).find(
          (e) => e.type === "run.redriven",
        );
        assert.deepEqual(
          [(redriven?.data as { by: string }).by, (redriven?.data as { reason: string }).reason],
          ["admin", "provider fixed"],
        );
        await shot(admin, "06-dead-letters");

        // Fleet and cost views render (the chart is inline SVG).
        await admin.getByTestId("nav-cost").click();
        await admin.getByTestId("cost-chart").waitFor();
        assert.ok((await admin.getByTestId("cost-bar").count()) >= 24);
        await shot(admin, "07-cost");
        await admin.getByTestId("nav-fleet").click();
        await admin.getByTestId("fleet-note").waitFor();

        // A tenant's token: only its runs; another tenant's run is not found, on the page and in the API.
        const tenant = await browser.newPage({ viewport: { width: 1360, height: 900 } });
        tenant.on("pageerror", (e) => pageErrors.push(e.message));
        await signIn(tenant, url, TOKENS.acme);
        await row(tenant, acme.done).waitFor();
        const listed = await attributes(tenant.getByTestId("run-row"), "data-run-id");
        for (const id of [
          globex.done,
          globex.waiting,
          globex.failed,
          globex.dead,
          globex.parked,
          globex.child,
        ])
          assert.ok(!listed.includes(id), `globex run ${id} listed to acme`);
        await tenant.goto(`${url}/#/runs/${globex.done}`);
        await tenant.getByTestId("run-error").waitFor();
        assert.match(
          (await tenant.getByTestId("run-error").textContent()) ?? "",
          /FLOTILLA_NOT_FOUND/,
        );
        await shot(tenant, "08-tenant-not-found");
        // The same request from the page (its origin, the token it signed in with).
        const fromPage = await tenant.evaluate(
          async ([id, token]) => {
            const res = await fetch(`/api/runs/${id}`, {
              headers: { authorization: `Bearer ${token}` },
            });
            return { status: res.status, body: (await res.json()) as { error: { code: string } } };
          },
          [globex.done, TOKENS.acme] as const,
        );
        assert.deepEqual([fromPage.status, fromPage.body.error.code], [404, "FLOTILLA_NOT_FOUND"]);
        const api = await call(url, "GET", `/api/runs/${globex.done}`, { token: TOKENS.acme });
        assert.equal(api.status, 404);
        const dl = await call(url, "POST", `/api/dead-letters/${globex.deadLetter}/redrive`, {
          token: TOKENS.acme,
          body: {},
        });
        assert.equal(dl.status, 404);

        assert.deepEqual(pageErrors, [], "no script error on the page");
        console.log(
          `browser test: ${((Date.now() - started) / 1000).toFixed(1)} s, screenshots in ${ARTIFACTS}`,
        );
      } finally {
        try {
          await browser?.close();
        } finally {
          try {
            await serve?.stop();
          } finally {
            await fleet?.close();
          }
        }
      }
    },
  );
});
