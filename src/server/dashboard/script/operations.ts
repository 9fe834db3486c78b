/** The dead-letter queue, the fleet and the cost pages. */
export const OPERATIONS = String.raw`
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
`;
