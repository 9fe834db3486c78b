/**
 * The dashboard's script, served inline. Plain browser JavaScript (no build
 * step, no framework): it renders with DOM calls and text nodes only, so a
 * value from the journal can never become markup. Every element a test or a
 * person looks for has a stable `data-testid`.
 */
export const SCRIPT = String.raw`
"use strict";
(function () {
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

  // ---- runs -----------------------------------------------------------------

  function runsView(view, params) {
    var status = h("select", { testid: "filter-status" }, h("option", { value: "" }, "any status"),
      STATUSES.map(function (s) { return h("option", { value: s, selected: params.get("status") === s }, s); }));
    var agent = h("input", { testid: "filter-agent", placeholder: "agent", value: params.get("agent") || "" });
    var tenant = h("input", { testid: "filter-tenant", placeholder: "tenant", value: params.get("tenant") || "" });
    var form = h("form", { cls: "bar", testid: "runs-filters", onsubmit: function (ev) {
      ev.preventDefault();
      var next = new URLSearchParams();
      if (status.value) next.set("status", status.value);
      if (agent.value.trim()) next.set("agent", agent.value.trim());
      if (tenant.value.trim()) next.set("tenant", tenant.value.trim());
      var qs = next.toString();
      location.hash = "#/runs" + (qs ? "?" + qs : "");
    } }, status, agent, tenant, h("button", { type: "submit", testid: "filter-apply" }, "Filter"),
      h("span", { cls: "muted", testid: "runs-live" }, "live: refreshed every 2 s"));
    var body = h("tbody");
    var table = h("table", { testid: "runs-table" }, h("thead", null, h("tr", null,
      ["run", "agent", "status", "tenant", "cost", "tokens in/out", "LLM calls", "age"].map(function (c, i) {
        return h("th", { cls: i >= 4 ? "num" : "" }, c);
      }))), body);
    append(view, [h("h2", null, "Runs"), form, table]);
    var query = new URLSearchParams();
    ["status", "agent", "tenant"].forEach(function (k) { if (params.get(k)) query.set(k, params.get(k)); });
    function load() {
      api("GET", "/api/runs?" + query.toString()).then(function (r) {
        clear(body);
        if (r.body.runs.length === 0)
          append(body, h("tr", null, h("td", { colspan: 8, cls: "muted", testid: "runs-empty" }, "no runs")));
        r.body.runs.forEach(function (run) {
          append(body, h("tr", { testid: "run-row", "data-run-id": run.id, "data-status": run.status },
            h("td", null, runLink(run.id), run.parentId ? h("div", { cls: "muted" }, "child of " + run.parentId.slice(0, 8)) : null),
            h("td", null, run.agent),
            h("td", null, badge(run.status), run.cancelRequested && run.status !== "cancelled" ? " cancel requested" : ""),
            h("td", null, run.tenant || "–"),
            h("td", { cls: "num" }, usd(run.cost.usd)),
            h("td", { cls: "num" }, run.cost.inputTokens + " / " + run.cost.outputTokens),
            h("td", { cls: "num" }, run.cost.llmCalls),
            h("td", { cls: "num" }, ago(run.ageMs))));
        });
      }, showError);
    }
    load();
    every(2000, load);
  }

  // ---- one run --------------------------------------------------------------

  function section(title, testid, content) {
    return h("section", { testid: testid }, h("h3", null, title), content);
  }
  function tableOf(testid, columns, rows, empty) {
    if (rows.length === 0) return h("p", { cls: "muted", testid: testid }, empty || "none");
    return h("table", { testid: testid }, h("thead", null, h("tr", null, columns.map(function (c) { return h("th", null, c); }))),
      h("tbody", null, rows));
  }

  function receiptView(receipt) {
    function refs(list, extra) {
      return list.length ? list.map(function (e) { return e.tool + "@" + e.step + (extra ? extra(e) : ""); }).join(", ") : "none";
    }
    return h("div", { cls: "card", testid: "receipt" },
      h("div", null, h("strong", null, "Cancel receipt"), " — ", receipt.reason),
      h("div", { testid: "receipt-committed" }, "committed: " + refs(receipt.committed)),
      h("div", { testid: "receipt-in-flight" }, "in flight: " + refs(receipt.inFlight, function (e) { return " (settled: " + e.settled + ")"; })),
      h("div", { testid: "receipt-not-started" }, "never started: " + refs(receipt.notStarted, function (e) { return e.waitingFor ? " (was waiting for " + e.waitingFor + ")" : ""; })),
      h("div", null, "deferred, never attempted: " + refs(receipt.deferred || [])),
      receipt.children && receipt.children.length ? h("div", null, "children asked to cancel: ", receipt.children.map(function (c) { return [runLink(c), " "]; })) : null,
      receipt.undo ? undoReportView(receipt.undo) : null,
      receipt.undoPending ? h("div", { cls: "notice" }, receipt.undoPending.message) : null);
  }

  function undoPlanView(plan) {
    return tableOf("undo-plan", ["wave", "effect", "run", "action", "side effect"], plan.effects.map(function (e) {
      return h("tr", null, h("td", null, e.wave), h("td", null, e.tool + "@" + e.step), h("td", null, runLink(e.runId)),
        h("td", null, badge(e.action)), h("td", null, e.sideEffect || ""));
    }), "nothing to undo: the run committed no effect");
  }

  function undoReportView(report) {
    return h("div", { cls: "card", testid: "undo-report" },
      h("div", null, h("strong", null, "Undo report"), " — ",
        report.complete ? badge("complete", "completed") : badge("incomplete", "failed"), " undo run ", runLink(report.undoRunId)),
      tableOf("undo-outcomes", ["effect", "outcome", ""], report.effects.map(function (e) {
        return h("tr", null, h("td", null, e.tool + "@" + e.step), h("td", null, badge(e.outcome)),
          h("td", null, e.error ? e.error.message : (e.sideEffect || "")));
      })));
  }

  function runView(view, id) {
    var head = h("div", { testid: "run-head" });
    var actions = h("div", { cls: "bar", testid: "run-actions" });
    var result = h("div", { testid: "action-result" });
    var body = h("div", { testid: "run-body" });
    var timeline = h("ol", { cls: "timeline", testid: "timeline" });
    append(view, [head, actions, result, body, section("Timeline (live)", "timeline-section", timeline)]);
    var seen = {};
    var current = null;

    function addEntry(e) {
      if (seen[e.id]) return;
      seen[e.id] = true;
      append(timeline, h("li", { testid: "timeline-entry", "data-type": e.type },
        ("+" + (e.offsetMs / 1000).toFixed(3) + "s").padStart(10) + "  " + (e.step || "").padEnd(6) + " " + e.type.padEnd(20) + " " + e.summary));
    }

    function act(promise, render) {
      clear(result);
      append(result, h("p", { cls: "muted", testid: "action-pending" }, "working…"));
      return promise.then(function (r) {
        clear(result);
        append(result, render(r));
        load();
      }, function (err) { clear(result); showError(err); });
    }

    function renderActions(run) {
      clear(actions);
      var ended = TERMINAL.indexOf(run.status) >= 0;
      var reason = h("input", { testid: "cancel-reason", placeholder: "reason (journaled)" });
      var compensate = h("input", { type: "checkbox", testid: "cancel-compensate" });
      append(actions, [
        reason,
        h("label", null, compensate, " then undo"),
        h("button", { cls: "danger", testid: "action-cancel", disabled: ended, onclick: function () {
          var body = reason.value.trim() ? { reason: reason.value.trim() } : {};
          act(api("POST", "/api/runs/" + id + "/cancel" + (compensate.checked ? "?compensate=true" : ""), body),
            function (r) { return receiptView(r.body); });
        } }, "Cancel run"),
        h("button", { testid: "action-retry", disabled: run.status !== "failed", onclick: function () {
          act(api("POST", "/api/runs/" + id + "/retry", {}), function () {
            return h("p", { cls: "notice", testid: "retry-result" }, "run will resume from its journal");
          });
        } }, "Retry"),
        h("button", { cls: "secondary", testid: "action-undo-plan", disabled: !ended || run.agent === "flotilla.undo", onclick: function () {
          act(api("GET", "/api/runs/" + id + "/undo-plan"), function (r) {
            return h("div", { cls: "card", testid: "undo-plan-card" }, h("strong", null, "Undo plan"),
              h("p", { cls: "muted" }, "Latest first, in waves. Nothing has been done yet."),
              undoPlanView(r.body),
              h("div", { cls: "bar" }, h("button", { cls: "danger", testid: "action-undo-confirm", onclick: function () {
                act(api("POST", "/api/runs/" + id + "/undo", {}), function (u) {
                  return u.status === 202
                    ? h("div", { cls: "notice", testid: "undo-pending" }, u.body.message)
                    : undoReportView(u.body);
                });
              } }, "Undo now")));
          });
        } }, "Plan undo…")
      ]);
    }

    function render(d) {
      var run = d.run;
      current = run;
      clear(head);
      append(head, [
        h("h2", null, "Run ", h("span", { cls: "mono", testid: "run-id" }, run.id)),
        h("div", { cls: "grid" },
          card("status", h("span", { testid: "run-status" }, badge(run.status))),
          card("agent", h("span", { testid: "run-agent" }, run.agent)),
          card("tenant", run.tenant || "–"),
          card("cost", h("span", { testid: "run-cost" }, usd(d.cost.usd))),
          card("tokens in / out", d.cost.inputTokens + " / " + d.cost.outputTokens),
          card("LLM calls", d.cost.llmCalls),
          card("started", time(run.createdAt)),
          run.parentId ? card("parent", runLink(run.parentId)) : null),
        run.error ? h("div", { cls: "banner", testid: "run-error-message" }, (run.error.code || run.error.name) + ": " + run.error.message) : null
      ]);
      renderActions(run);
      clear(body);
      append(body, [
        section("Effects", "effects-section", tableOf("effects", ["step", "tool", "contract", "state", "key", "args → result", ""],
          d.effects.map(function (e) {
            var decide = null;
            if (e.awaitingDecision) {
              var why = h("input", { testid: "resolve-reason", placeholder: "reason (for failed)" });
              var send = function (outcome) {
                var b = { outcome: outcome };
                if (outcome === "failed") b.reason = why.value.trim() || "failed by operator";
                act(api("POST", "/api/runs/" + id + "/effects/" + encodeURIComponent(e.step) + "/resolve", b), function () {
                  return h("p", { cls: "notice", testid: "resolve-result" }, "effect " + e.step + " resolved as " + outcome + "; the run resumes");
                });
              };
              decide = h("div", { cls: "bar" },
                h("button", { testid: "resolve-committed", onclick: function () { send("committed"); } }, "it happened"),
                h("button", { testid: "resolve-retry", cls: "secondary", onclick: function () { send("retry"); } }, "call again"),
                why, h("button", { testid: "resolve-failed", cls: "danger", onclick: function () { send("failed"); } }, "it failed"));
            }
            return h("tr", { testid: "effect-row", "data-step": e.step, "data-state": e.state },
              h("td", null, e.step), h("td", null, e.tool), h("td", null, e.effect), h("td", null, badge(e.state),
                e.resolved ? h("div", { cls: "muted" }, "resolved " + e.resolved.decision + " by " + e.resolved.by) : null,
                e.dedupedFrom ? h("div", { cls: "muted" }, "deduplicated") : null),
              h("td", { cls: "mono" }, e.key), h("td", { cls: "mono" }, brief(e.args) + " → " + (e.error ? e.error.message : brief(e.result))),
              h("td", null, decide));
          }))),
        section("LLM calls", "llm-section", tableOf("llm-calls", ["step", "name", "model", "tokens in/out", "cost", "attempts", "provenance"],
          d.llmCalls.map(function (l) {
            var prov = l.provenance || {};
            return h("tr", { testid: "llm-row" }, h("td", null, l.step), h("td", null, l.name), h("td", null, l.model),
              h("td", null, l.inputTokens + " / " + l.outputTokens), h("td", null, usd(l.costUsd)),
              h("td", null, l.attempts + (l.samples > 1 ? " (" + l.samples + " samples)" : "")),
              h("td", null, l.state === "failed" ? badge("failed") : prov.degraded ? badge("degraded", "parked") : "primary",
                prov.degraded ? " " + (prov.reason || "") + " " + (prov.source || "") : "", l.error ? " " + l.error.message : ""));
          }))),
        section("Steps", "steps-section", tableOf("steps", ["step", "kind", "name", "state", "error"], d.steps.map(function (s) {
          return h("tr", null, h("td", null, s.step), h("td", null, s.kind), h("td", null, s.name), h("td", null, badge(s.state)),
            h("td", null, s.error ? s.error.message : ""));
        }))),
        section("Breakers, budgets, waits", "resilience-section", tableOf("resilience", ["at", "step", "event", ""], d.resilience.map(function (r) {
          return h("tr", null, h("td", null, time(r.at)), h("td", null, r.step || ""), h("td", null, r.type), h("td", null, r.summary));
        }))),
        section("Children", "children-section", tableOf("children", ["step", "name", "run", "status"], d.children.map(function (c) {
          return h("tr", { testid: "child-row" }, h("td", null, c.step), h("td", null, c.name), h("td", null, runLink(c.runId)),
            h("td", null, c.status ? badge(c.status) : "–"));
        }))),
        section("Cancel receipts", "receipts", d.receipts.length ? d.receipts.map(receiptView) : h("p", { cls: "muted" }, "none")),
        section("Undo", "undo-section", d.undo ? h("div", null, "undo run ", runLink(d.undo.undoRunId), " ", badge(d.undo.status),
          d.undo.report ? undoReportView(d.undo.report) : null) : h("p", { cls: "muted" }, "not undone")),
        section("Dead letters", "run-dead-letters", tableOf("run-dl", ["id", "class", "status", "error"], d.deadLetters.map(function (x) {
          return h("tr", null, h("td", { cls: "mono" }, x.id), h("td", null, x.class), h("td", null, badge(x.status)),
            h("td", null, x.error ? x.error.message : ""));
        }))),
        section("Operator actions", "actions-log", tableOf("actions", ["at", "action", "by", "reason", "step"], d.actions.map(function (a) {
          return h("tr", null, h("td", null, time(a.at)), h("td", null, a.type), h("td", null, a.by || ""), h("td", null, a.reason || ""), h("td", null, a.step || ""));
        }))),
        section("Input", "run-input", h("pre", { cls: "mono" }, JSON.stringify(run.input, null, 2))),
        run.result !== undefined ? section("Result", "run-result", h("pre", { cls: "mono" }, JSON.stringify(run.result, null, 2))) : null
      ]);
      d.timeline.forEach(addEntry);
    }

    var loading = false, again = false;
    function load() {
      if (loading) { again = true; return; }
      loading = true;
      api("GET", "/api/runs/" + encodeURIComponent(id)).then(function (r) { render(r.body); }, function (err) {
        if (err.status === 404 || err.status === 400) {
          clear(view);
          append(view, h("div", { cls: "banner", testid: "run-error" }, h("strong", null, err.code), " ", err.message));
          stop.abort();
        } else showError(err);
      }).then(function () {
        loading = false;
        if (again) { again = false; load(); }
      });
    }

    var stop = new AbortController();
    state.leave.push(function () { stop.abort(); });
    var refresh = null;
    follow("/api/runs/" + encodeURIComponent(id) + "/events", stop.signal, function (type, data) {
      if (type === "journal") addEntry(data);
      if (type === "run" && current && data.status !== current.status) {
        var s = q("[data-testid=run-status]");
        if (s) { clear(s); append(s, badge(data.status)); }
      }
      clearTimeout(refresh);
      refresh = setTimeout(load, 250);
    });
    load();
  }

  function card(k, v) { return h("div", { cls: "card" }, h("div", { cls: "k" }, k), h("div", { cls: "v" }, v)); }

  /** Server-Sent Events over fetch, so the bearer token goes in a header; reconnects after a drop. */
  function follow(path, signal, onEvent) {
    var last = null;
    function connect() {
      if (signal.aborted) return;
      var hs = headers(false);
      if (last) hs["last-event-id"] = last;
      fetch(path, { headers: hs, signal: signal }).then(function (res) {
        if (!res.ok || !res.body) throw new Error("stream answered " + res.status);
        var reader = res.body.getReader();
        var decoder = new TextDecoder();
        var buf = "";
        function pump() {
          return reader.read().then(function (chunk) {
            if (chunk.done) return;
            buf += decoder.decode(chunk.value, { stream: true });
            var i;
            while ((i = buf.indexOf("\n\n")) >= 0) {
              var block = buf.slice(0, i);
              buf = buf.slice(i + 2);
              var type = "message", data = "";
              block.split("\n").forEach(function (line) {
                if (line.indexOf("event:") === 0) type = line.slice(6).trim();
                else if (line.indexOf("data:") === 0) data += line.slice(5).trim();
                else if (line.indexOf("id:") === 0) last = line.slice(3).trim();
              });
              if (data) { try { onEvent(type, JSON.parse(data)); } catch (e) { /* a malformed event is skipped */ } }
            }
            return pump();
          });
        }
        return pump();
      }).catch(function () { /* dropped: try again below */ }).then(function () {
        if (!signal.aborted) setTimeout(connect, 2000);
      });
    }
    connect();
  }

  // ---- dead letters ---------------------------------------------------------

  function deadLettersView(view, params) {
    var cls = params.get("class") || "";
    var status = params.get("status") || "";
    var result = h("div", { testid: "dl-result" });
    var classes = h("div", { cls: "grid", testid: "dl-classes" });
    var body = h("tbody");
    function go(next) {
      var p = new URLSearchParams();
      if (next.class) p.set("class", next.class);
      if (next.status) p.set("status", next.status);
      var s = p.toString();
      location.hash = "#/dead-letters" + (s ? "?" + s : "");
    }
    var statusSelect = h("select", { testid: "dl-filter-status", onchange: function () { go({ class: cls, status: statusSelect.value }); } },
      h("option", { value: "" }, "any status"),
      ["open", "redriven", "discarded", "resolved"].map(function (s) { return h("option", { value: s, selected: s === status }, s); }));
    var reason = h("input", { testid: "dl-reason", placeholder: "reason (journaled; needed to discard)" });
    append(view, [
      h("h2", null, "Dead letters"),
      classes,
      h("div", { cls: "bar" }, statusSelect, reason,
        cls ? h("span", null, "class ", badge(cls), " ", h("a", { href: "#/dead-letters", testid: "dl-clear-class" }, "all classes")) : null,
        cls ? h("button", { testid: "dl-redrive-class", onclick: function () {
          var b = reason.value.trim() ? { reason: reason.value.trim() } : {};
          run(api("POST", "/api/dead-letters/redrive?class=" + encodeURIComponent(cls), b), function (r) {
            return "redriven: " + (r.body.redriven.join(", ") || "none") +
              (r.body.skipped.length ? "; skipped: " + r.body.skipped.map(function (s) { return s.id + " (" + s.reason + ")"; }).join(", ") : "");
          });
        } }, "Redrive every open " + cls) : null),
      result,
      h("table", { testid: "dl-table" }, h("thead", null, h("tr", null, ["id", "class", "status", "run", "agent", "tenant", "cost", "error", "age", ""].map(function (c) {
        return h("th", null, c);
      }))), body)
    ]);
    function run(promise, message) {
      clear(result);
      promise.then(function (r) {
        append(clear(result), h("p", { cls: "notice" }, message(r)));
        load();
      }, showError);
    }
    function load() {
      var qs = new URLSearchParams();
      if (cls) qs.set("class", cls);
      if (status) qs.set("status", status);
      api("GET", "/api/dead-letters?" + qs.toString()).then(function (r) {
        var counts = {};
        CLASSES.forEach(function (c) { counts[c] = 0; });
        r.body.deadLetters.forEach(function (d) { counts[d.class] = (counts[d.class] || 0) + 1; });
        clear(classes);
        CLASSES.forEach(function (c) {
          if (!counts[c] && c !== cls) return;
          append(classes, h("a", { href: "#/dead-letters?class=" + c + (status ? "&status=" + status : ""), cls: "card", testid: "dl-class", "data-class": c },
            h("div", { cls: "k" }, c), h("div", { cls: "v" }, counts[c])));
        });
        clear(body);
        if (r.body.deadLetters.length === 0)
          append(body, h("tr", null, h("td", { colspan: 10, cls: "muted", testid: "dl-empty" }, "no dead letters")));
        r.body.deadLetters.forEach(function (d) {
          var open = d.status === "open";
          append(body, h("tr", { testid: "dl-row", "data-dl-id": d.id, "data-class": d.class, "data-status": d.status },
            h("td", { cls: "mono" }, d.id.slice(0, 8)), h("td", null, d.class), h("td", null, badge(d.status)),
            h("td", null, runLink(d.runId)), h("td", null, d.agent), h("td", null, d.tenant || "–"),
            h("td", null, usd(d.context.cost.usd)), h("td", null, d.error ? d.error.message : ""),
            h("td", null, ago(Date.now() - d.createdAt)),
            h("td", null, open ? h("div", { cls: "bar" },
              h("button", { testid: "dl-redrive", onclick: function () {
                var b = reason.value.trim() ? { reason: reason.value.trim() } : {};
                run(api("POST", "/api/dead-letters/" + d.id + "/redrive", b), function () { return "redriven " + d.id; });
              } }, "Redrive"),
              h("button", { cls: "secondary", testid: "dl-discard", onclick: function () {
                run(api("POST", "/api/dead-letters/" + d.id + "/discard", { reason: reason.value.trim() }), function () { return "discarded " + d.id; });
              } }, "Discard")) : (d.resolution && d.resolution.by ? "by " + d.resolution.by : ""))));
        });
      }, showError);
    }
    load();
    every(3000, load);
  }

  // ---- fleet ----------------------------------------------------------------

  function pct(x) { return (100 * (x || 0)).toFixed(1) + "%"; }
  function fleetView(view) {
    var box = h("div");
    append(view, [h("h2", null, "Fleet"), box]);
    function load() {
      api("GET", "/api/fleet").then(function (r) {
        var f = r.body;
        clear(box);
        append(box, [
          f.note ? h("p", { cls: "notice", testid: "fleet-note" }, f.note) : h("p", { cls: "muted" }, f.processes.length + " process(es) on the " + f.backend + " limiter"),
          h("h3", null, "Admission (limits vs admitted)"),
          tableOf("fleet-dependencies", ["dependency", "procs", "queued", "in flight", "req/min (limit)", "tokens/min (limit)", "admitted/limit", "429s", "429 share", "wait p99", "tenant share"],
            f.dependencies.map(function (d) {
              return h("tr", { testid: "fleet-row" }, h("td", null, d.dependency), h("td", null, d.processes), h("td", null, d.queueDepth),
                h("td", null, d.inFlight), h("td", null, Math.round(d.requestsPerMinute) + (d.limits.requests ? " (" + d.limits.requests + ")" : "")),
                h("td", null, Math.round(d.tokensPerMinute) + (d.limits.tokens ? " (" + d.limits.tokens + ")" : "")),
                h("td", null, Object.keys(d.admittedOverLimit).map(function (k) { return k + " " + pct(d.admittedOverLimit[k]); }).join(", ")),
                h("td", null, d.rateLimited), h("td", null, pct(d.share429)), h("td", null, Math.round(d.p99QueueWaitMs) + " ms"),
                h("td", null, Object.keys(d.tenantShare).sort().map(function (t) { return t + " " + pct(d.tenantShare[t]); }).join(", ")));
            }), "no scheduler has published in the last 30 s"),
          h("h3", null, "Breakers and retry budgets (per worker)"),
          tableOf("fleet-breakers", ["dependency", "worker", "breaker", "requests", "retries"], f.breakers.map(function (b) {
            var st = (b.breaker && b.breaker.state) || "closed";
            return h("tr", { testid: "breaker-row" }, h("td", null, b.dependency), h("td", { cls: "mono" }, b.worker),
              h("td", null, badge(st, st === "open" ? "open-breaker" : "")), h("td", null, b.requests), h("td", null, b.retries));
          }), "no worker has published breaker state in the last minute")
        ]);
      }, showError);
    }
    load();
    every(3000, load);
  }

  // ---- cost -----------------------------------------------------------------

  var SVG = "http://www.w3.org/2000/svg";
  function svg(tag, attrs, text) {
    var el = document.createElementNS(SVG, tag);
    Object.keys(attrs || {}).forEach(function (k) { el.setAttribute(k, String(attrs[k])); });
    if (text !== undefined) el.appendChild(document.createTextNode(text));
    return el;
  }
  function costView(view, params) {
    var bucket = params.get("bucket") || "hour";
    var hours = params.get("hours") || (bucket === "minute" ? "2" : bucket === "day" ? "720" : "24");
    var select = h("select", { testid: "cost-bucket", onchange: function () { location.hash = "#/cost?bucket=" + select.value; } },
      ["minute", "hour", "day"].map(function (b) { return h("option", { value: b, selected: b === bucket }, "per " + b); }));
    var box = h("div");
    append(view, [h("h2", null, "Cost over time"), h("div", { cls: "bar" }, select, h("span", { cls: "muted" }, "last " + hours + " h")), box]);
    function load() {
      api("GET", "/api/cost?bucket=" + bucket + "&hours=" + encodeURIComponent(hours)).then(function (r) {
        var c = r.body;
        clear(box);
        var W = 900, H = 220, pad = 40, n = c.buckets.length;
        var max = Math.max.apply(null, c.buckets.map(function (b) { return b.usd; }).concat([1e-9]));
        var chart = svg("svg", { viewBox: "0 0 " + W + " " + (H + 30), width: "100%", role: "img", "data-testid": "cost-chart", "aria-label": "cost per " + bucket });
        chart.appendChild(svg("text", { x: 0, y: 12 }, usd(max)));
        chart.appendChild(svg("line", { x1: pad, y1: H, x2: W, y2: H, stroke: "#d0d5dd" }));
        var bw = (W - pad) / n;
        c.buckets.forEach(function (b, i) {
          var bh = (b.usd / max) * (H - 20);
          var rect = svg("rect", { x: pad + i * bw + 1, y: H - bh, width: Math.max(1, bw - 2), height: bh, "class": "bar-usd", "data-testid": "cost-bar" });
          rect.appendChild(svg("title", {}, time(b.start) + ": " + usd(b.usd) + ", " + b.llmCalls + " LLM calls, " + (b.inputTokens + b.outputTokens) + " tokens"));
          chart.appendChild(rect);
        });
        chart.appendChild(svg("text", { x: pad, y: H + 16 }, time(c.buckets[0].start)));
        chart.appendChild(svg("text", { x: W - 120, y: H + 16 }, time(c.buckets[n - 1].start)));
        append(box, [
          h("div", { cls: "grid" }, card("total", h("span", { testid: "cost-total" }, usd(c.total.usd))), card("LLM calls", c.total.llmCalls),
            card("tokens in / out", c.total.inputTokens + " / " + c.total.outputTokens), card("runs read", c.runsScanned + (c.truncated ? " (newest only)" : ""))),
          h("div", { cls: "chart" }, chart)
        ]);
      }, showError);
    }
    load();
    every(10000, load);
  }

  boot();
})();
`;
