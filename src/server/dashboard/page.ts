import { randomBytes } from "node:crypto";
import { SCRIPT } from "./script.js";
import { STYLES } from "./styles.js";

/**
 * The dashboard: one HTML page, its style and script inline (no external
 * asset, no CDN), allowed by a per-response nonce in its Content Security
 * Policy. The page holds no data: it signs in with a token kept in
 * sessionStorage and reads everything from the JSON API.
 */
export function dashboardPage(): { html: string; csp: string } {
  const nonce = randomBytes(16).toString("base64");
  const csp = [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src 'nonce-${nonce}'`,
    "connect-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Flotilla</title>
<style nonce="${nonce}">${STYLES}</style>
</head>
<body>
<header>
  <h1>Flotilla</h1>
  <nav data-testid="nav" hidden>
    <a href="#/runs" data-testid="nav-runs">Runs</a>
    <a href="#/dead-letters" data-testid="nav-dead-letters">Dead letters</a>
    <a href="#/fleet" data-testid="nav-fleet">Fleet</a>
    <a href="#/cost" data-testid="nav-cost">Cost</a>
  </nav>
  <span class="who" data-testid="whoami"></span>
  <button class="secondary" data-testid="logout" hidden>Sign out</button>
</header>
<main>
  <div class="banner" data-testid="error-banner" hidden></div>
  <form class="login" data-testid="login-form" hidden>
    <h2>Sign in</h2>
    <p class="muted">Paste an operator token (one of <code>FLOTILLA_TOKENS</code>). It is kept in this tab's session storage only.</p>
    <input type="password" name="token" autocomplete="off" data-testid="login-token" placeholder="token">
    <button type="submit" data-testid="login-submit">Sign in</button>
    <p class="muted" data-testid="login-message"></p>
  </form>
  <div id="view" data-testid="view"></div>
</main>
<script nonce="${nonce}">${SCRIPT}</script>
</body>
</html>`;
  return { html, csp };
}
