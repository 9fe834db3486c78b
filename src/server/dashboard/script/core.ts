/** The script's base: constants, DOM and formatting helpers, the API client, sign-in, routing and timers. */
export const CORE = String.raw`
  var TOKEN_KEY = "flotilla.token";
  var STATUSES = ["pending", "running", "waiting", "completed", "failed", "parked", "cancelled", "dead-lettered"];
  var TERMINAL = ["completed", "failed", "cancelled", "dead-lettered"];
  var CLASSES = ["retries-exhausted", "non-retryable", "budget-exhausted", "loop-detected", "no-progress",
    "validation-failed", "context-exhausted", "policy-violation", "effect-outcome-unknown",
    "cancelled-with-unsettled-effects", "compensation-failed", "deadline-exceeded"];
  var state = { token: sessionStorage.getItem(TOKEN_KEY), me: null, leave: [] };

  function q(sel, root) { return (root || document).querySelector(sel); }

  /** Builds an element; strings become text nodes, never markup. */
  function h(tag, attrs) {
    var el = document.createElement(tag);
    var a = attrs || {};
    Object.keys(a).forEach(function (k) {
      var v = a[k];
      if (v === undefined || v === null || v === false) return;
      if (k.slice(0, 2) === "on") el.addEventListener(k.slice(2), v);
      else if (k === "testid") el.setAttribute("data-testid", v);
      else if (k === "cls") el.className = v;
      else el.setAttribute(k, v === true ? "" : String(v));
    });
    for (var i = 2; i < arguments.length; i++) append(el, arguments[i]);
    return el;
  }
  function append(el, child) {
    if (child === undefined || child === null || child === false) return;
    if (Array.isArray(child)) { child.forEach(function (c) { append(el, c); }); return; }
    el.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
  }
  function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); return el; }
  function badge(text, extra) { return h("span", { cls: "badge " + text + (extra ? " " + extra : "") }, text); }
  function usd(n) { return "$" + (n || 0).toFixed(n >= 1 ? 2 : 6); }
  function ago(ms) {
    var s = Math.round(ms / 1000);
    if (s < 60) return s + "s";
    if (s < 3600) return Math.round(s / 60) + "m";
    if (s < 86400) return Math.round(s / 3600) + "h";
    return Math.round(s / 86400) + "d";
  }
  function brief(v) {
    var s = JSON.stringify(v === undefined ? null : v);
    return s.length > 140 ? s.slice(0, 140) + "…" : s;
  }
  function time(ms) { return new Date(ms).toISOString().replace("T", " ").slice(0, 19); }
  function runLink(id) { return h("a", { href: "#/runs/" + id, testid: "run-link", cls: "mono" }, id); }

  // ---- API ------------------------------------------------------------------

  function headers(json) {
    var out = {};
    if (state.token) out.authorization = "Bearer " + state.token;
    if (json) out["content-type"] = "application/json";
    return out;
  }
  function api(method, path, body) {
    return fetch(path, {
      method: method,
      headers: headers(body !== undefined),
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (res) {
      return res.json().catch(function () { return null; }).then(function (json) {
        if (!res.ok) {
          var e = (json && json.error) || {};
          var err = new Error(e.message || res.statusText);
          err.code = e.code || "HTTP_" + res.status;
          err.status = res.status;
          throw err;
        }
        return { status: res.status, body: json };
      });
    });
  }

  var banner = q("[data-testid=error-banner]");
  function showError(err) {
    banner.hidden = false;
    clear(banner);
    append(banner, [h("strong", null, err.code || "error"), " ", err.message]);
    if (err.status === 401) signOut(err.message);
  }
  function hideError() { banner.hidden = true; clear(banner); }

  // ---- sign-in --------------------------------------------------------------

  var loginForm = q("[data-testid=login-form]");
  loginForm.addEventListener("submit", function (ev) {
    ev.preventDefault();
    state.token = q("[data-testid=login-token]").value.trim();
    sessionStorage.setItem(TOKEN_KEY, state.token);
    boot();
  });
  q("[data-testid=logout]").addEventListener("click", function () { signOut("signed out"); });

  function signOut(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    state.token = null;
    state.me = null;
    leaveView();
    clear(q("#view"));
    q("[data-testid=nav]").hidden = true;
    q("[data-testid=logout]").hidden = true;
    q("[data-testid=whoami]").textContent = "";
    loginForm.hidden = false;
    q("[data-testid=login-message]").textContent = message || "";
  }

  function boot() {
    api("GET", "/api/me").then(function (r) {
      state.me = r.body;
      hideError();
      loginForm.hidden = true;
      q("[data-testid=nav]").hidden = false;
      q("[data-testid=logout]").hidden = !r.body.auth;
      q("[data-testid=whoami]").textContent = r.body.auth
        ? r.body.name + " · tenant " + r.body.tenant
        : "no authentication (loopback only)";
      route();
    }, function (err) {
      if (err.status === 401) signOut(state.token ? err.message : "");
      else showError(err);
    });
  }

  // ---- routing --------------------------------------------------------------

  function leaveView() {
    state.leave.forEach(function (f) { f(); });
    state.leave = [];
  }
  function hashParts() {
    var hash = location.hash.replace(/^#/, "") || "/runs";
    var i = hash.indexOf("?");
    var path = i < 0 ? hash : hash.slice(0, i);
    var params = new URLSearchParams(i < 0 ? "" : hash.slice(i + 1));
    return { path: path, params: params };
  }
  function route() {
    if (!state.me) return;
    leaveView();
    hideError();
    var p = hashParts();
    var view = clear(q("#view"));
    document.querySelectorAll("header nav a").forEach(function (a) {
      a.classList.toggle("active", p.path.indexOf(a.getAttribute("href").slice(1)) === 0);
    });
    var m = /^\/runs\/([^/]+)$/.exec(p.path);
    if (m) return runView(view, decodeURIComponent(m[1]));
    if (p.path === "/dead-letters") return deadLettersView(view, p.params);
    if (p.path === "/fleet") return fleetView(view);
    if (p.path === "/cost") return costView(view, p.params);
    return runsView(view, p.params);
  }
  window.addEventListener("hashchange", route);

  function every(ms, fn) {
    var t = setInterval(fn, ms);
    state.leave.push(function () { clearInterval(t); });
  }

`;
