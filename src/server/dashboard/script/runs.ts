/** The runs list and one run's page: its timeline, effects, receipt, undo plan and live updates. */
export const RUNS = String.raw`
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

`;
