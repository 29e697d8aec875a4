// netpol-drift dashboard: a little progressive enhancement over server-rendered pages.
// Served from this server only (the CSP allows no inline script). Everything that comes
// from the data is put on the page as text (textContent), never as HTML.
"use strict";

(function () {
  var VERDICTS = { a: "allowed", b: "blocked", e: "error", i: "invalid" };
  var KNOWN = { allowed: true, blocked: true, error: true, invalid: true };

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function chip(verdict) {
    var node = el("span", "chip");
    var swatch = el("span", "sw");
    if (KNOWN[verdict]) swatch.classList.add("v-" + verdict);
    node.appendChild(swatch);
    node.appendChild(document.createTextNode(String(verdict)));
    return node;
  }

  // ---- tooltip -------------------------------------------------------------------------
  var tooltip = null;
  function showTip(text, x, y) {
    if (!tooltip) {
      tooltip = el("div", "tooltip");
      tooltip.setAttribute("role", "tooltip");
      document.body.appendChild(tooltip);
    }
    tooltip.textContent = text;
    tooltip.hidden = false;
    var left = Math.min(x + 14, window.innerWidth - tooltip.offsetWidth - 8);
    var top = Math.min(y + 16, window.innerHeight - tooltip.offsetHeight - 8);
    tooltip.style.left = Math.max(8, left) + "px";
    tooltip.style.top = Math.max(8, top) + "px";
  }
  function hideTip() { if (tooltip) tooltip.hidden = true; }

  // ---- the cell panel ------------------------------------------------------------------
  var panel = null;
  var selected = null;
  function closePanel() {
    if (panel) panel.hidden = true;
    if (selected) { selected.classList.remove("selected"); selected = null; }
  }
  function ensurePanel() {
    if (panel) return panel;
    panel = el("aside", "cell-panel");
    panel.id = "cell-panel";
    panel.setAttribute("aria-live", "polite");
    panel.hidden = true;
    document.body.appendChild(panel);
    return panel;
  }
  function showCell(cell) {
    var box = ensurePanel();
    box.replaceChildren();
    var close = el("button", "close", "×");
    close.type = "button";
    close.setAttribute("aria-label", "Close");
    close.addEventListener("click", closePanel);
    box.appendChild(close);
    var port = cell.port_number && String(cell.port) !== String(cell.port_number)
      ? cell.port + " (" + cell.port_number + ")" : cell.port;
    box.appendChild(el("h3", "", cell.source + " → " + cell.target + " " + port + "/" + cell.protocol));
    var list = el("dl");
    function row(label, value) {
      list.appendChild(el("dt", "", label));
      var dd = el("dd");
      if (value instanceof Node) dd.appendChild(value); else dd.textContent = String(value);
      list.appendChild(dd);
    }
    row("Version", cell.version);
    row("Observed", chip(cell.observed));
    row("Expected", chip(cell.expected));
    row("Raw outcome", cell.raw_outcome || "—");
    row("Attempts", cell.attempts);
    if (cell.latency_ms !== null && cell.latency_ms !== undefined) row("Latency", Math.round(cell.latency_ms) + " ms");
    var flags = [];
    if (cell.regression) flags.push("regression");
    if (cell.flaky) flags.push("flaky");
    if (cell.loopback) flags.push("loopback");
    row("Flags", flags.length ? flags.join(", ") : "—");
    box.appendChild(list);
    box.appendChild(el("h3", "", "Why the engine expects " + cell.expected));
    box.appendChild(el("pre", "explanation", cell.explanation || "No explanation stored."));
    var link = el("a", "", "Open the cell's page and history");
    link.href = cell.url;
    box.appendChild(link);
    box.hidden = false;
  }
  function loadCell(url, origin) {
    if (selected) selected.classList.remove("selected");
    selected = origin || null;
    if (selected) selected.classList.add("selected");
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(showCell)
      .catch(function (err) {
        var box = ensurePanel();
        box.replaceChildren(el("p", "", "Could not load the cell: " + err.message));
        box.hidden = false;
      });
  }
  document.addEventListener("keydown", function (event) { if (event.key === "Escape") closePanel(); });

  // ---- heatmap tables ------------------------------------------------------------------
  function tableTip(td) {
    var tr = td.parentElement;
    var table = td.closest("table");
    var rowHead = tr.querySelector("th.row");
    var colHead = table.tHead.rows[0].cells[td.cellIndex];
    var text = (rowHead ? rowHead.textContent : "") + " → " + (colHead ? colHead.textContent : "");
    var observed = td.dataset.observed;
    if (observed) {
      text += ": " + observed;
      if (td.dataset.expected && td.dataset.expected !== observed) text += " (expected " + td.dataset.expected + ")";
      if (td.dataset.regression) text += " · regression";
    } else {
      text += ": no cell";
    }
    return text;
  }
  function wireTable(table) {
    var url = table.dataset.cellUrl;
    table.addEventListener("mouseover", function (event) {
      var td = event.target.closest("td.c");
      if (td) showTip(tableTip(td), event.clientX, event.clientY);
    });
    table.addEventListener("mousemove", function (event) {
      var td = event.target.closest("td.c");
      if (td) showTip(tableTip(td), event.clientX, event.clientY); else hideTip();
    });
    table.addEventListener("mouseleave", hideTip);
    function open(td) {
      if (td && td.dataset.key) loadCell(url + "?key=" + encodeURIComponent(td.dataset.key), td);
    }
    table.addEventListener("click", function (event) { open(event.target.closest("td.c")); });
    table.addEventListener("keydown", function (event) {
      if (event.key === "Enter" || event.key === " ") {
        var td = event.target.closest("td.c");
        if (td) { event.preventDefault(); open(td); }
      }
    });
  }

  // ---- heatmap canvases (large matrices) ----------------------------------------------
  function cssColour(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#999";
  }
  function wireCanvas(box) {
    var source = box.querySelector("script.heatmap-data");
    var canvas = box.querySelector("canvas");
    if (!source || !canvas) return;
    var data = JSON.parse(source.textContent);
    var rows = data.rows, cols = data.columns, codes = data.codes, dim = data.dim || [];
    var ctx = canvas.getContext("2d");
    var font = "11px system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif";
    ctx.font = font;
    var cs = Math.max(4, Math.min(16, Math.floor(1000 / Math.max(cols.length, rows.length, 1))));
    var labelled = cs >= 9;
    var left = 8, top = 8;
    if (labelled) {
      var widest = 0, tallest = 0, i;
      for (i = 0; i < rows.length; i++) widest = Math.max(widest, ctx.measureText(rows[i]).width);
      for (i = 0; i < cols.length; i++) tallest = Math.max(tallest, ctx.measureText(cols[i]).width);
      left = Math.min(260, Math.ceil(widest) + 12);
      top = Math.min(220, Math.ceil(tallest) + 12);
    }
    var width = left + cols.length * cs + 8, height = top + rows.length * cs + 8;
    var ratio = window.devicePixelRatio || 1;
    canvas.width = Math.ceil(width * ratio);
    canvas.height = Math.ceil(height * ratio);
    canvas.style.width = width + "px";
    canvas.style.height = height + "px";
    ctx.scale(ratio, ratio);
    ctx.font = font;
    var colours = {
      a: cssColour("--allowed"), b: cssColour("--blocked"), e: cssColour("--error"),
      i: cssColour("--invalid"), ".": cssColour("--missing")
    };
    var outline = cssColour("--regression"), ink = cssColour("--ink");
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, width, height);
    if (labelled) {
      ctx.fillStyle = ink;
      ctx.textBaseline = "middle";
      ctx.textAlign = "right";
      for (var r = 0; r < rows.length; r++) ctx.fillText(rows[r], left - 6, top + r * cs + cs / 2, left - 10);
      ctx.textAlign = "left";
      for (var c = 0; c < cols.length; c++) {
        ctx.save();
        ctx.translate(left + c * cs + cs / 2, top - 6);
        ctx.rotate(-Math.PI / 2);
        ctx.fillText(cols[c], 0, 0, top - 10);
        ctx.restore();
      }
    }
    var gap = cs >= 8 ? 1 : 0, drawn = 0, regressions = 0;
    for (var y = 0; y < codes.length; y++) {
      var line = codes[y], faded = dim[y] || "";
      for (var x = 0; x < line.length; x++) {
        var code = line.charAt(x);
        ctx.globalAlpha = faded.charAt(x) === "1" ? 0.22 : 1;
        ctx.fillStyle = colours[code.toLowerCase()] || colours["."];
        ctx.fillRect(left + x * cs, top + y * cs, cs - gap, cs - gap);
        if (code !== ".") drawn++;
        if (code !== code.toLowerCase()) {
          regressions++;
          ctx.strokeStyle = outline;
          ctx.lineWidth = cs >= 8 ? 2 : 1;
          ctx.strokeRect(left + x * cs + 1, top + y * cs + 1, cs - gap - 2, cs - gap - 2);
        }
      }
    }
    ctx.globalAlpha = 1;
    // Where the grid is drawn, for whoever reads the picture back (the browser tests).
    canvas.dataset.cells = String(drawn);
    canvas.dataset.regressions = String(regressions);
    canvas.dataset.left = String(left);
    canvas.dataset.top = String(top);
    canvas.dataset.cell = String(cs);
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", data.version + ": " + drawn + " cells, " + regressions + " regressions");

    function at(event) {
      var rect = canvas.getBoundingClientRect();
      var cx = Math.floor((event.clientX - rect.left - left) / cs);
      var cy = Math.floor((event.clientY - rect.top - top) / cs);
      if (cx < 0 || cy < 0 || cy >= rows.length || cx >= cols.length) return null;
      return { row: cy, col: cx, code: codes[cy].charAt(cx) };
    }
    canvas.addEventListener("mousemove", function (event) {
      var hit = at(event);
      if (!hit) { hideTip(); return; }
      var verdict = VERDICTS[hit.code.toLowerCase()];
      var text = rows[hit.row] + " → " + cols[hit.col] + ": " + (verdict || "no cell");
      if (verdict && hit.code !== hit.code.toLowerCase()) text += " · regression";
      showTip(text, event.clientX, event.clientY);
    });
    canvas.addEventListener("mouseleave", hideTip);
    canvas.addEventListener("click", function (event) {
      var hit = at(event);
      if (!hit || hit.code === ".") return;
      loadCell(box.dataset.cellUrl + "?version=" + encodeURIComponent(data.version) +
        "&row=" + data.rowIndex[hit.row] + "&col=" + data.columnIndex[hit.col], null);
    });
  }

  // ---- small behaviours ------------------------------------------------------------------
  function wireForms() {
    document.querySelectorAll("form[data-autosubmit]").forEach(function (form) {
      form.querySelectorAll("select").forEach(function (select) {
        select.addEventListener("change", function () { form.requestSubmit(); });
      });
    });
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.dataset.confirm)) event.preventDefault();
      });
    });
  }
  function wireRefresh() {
    var node = document.querySelector("[data-refresh-seconds]");
    if (!node) return;
    var seconds = Math.max(2, parseInt(node.dataset.refreshSeconds, 10) || 5);
    window.setTimeout(function () { window.location.reload(); }, seconds * 1000);
  }

  function start() {
    document.querySelectorAll("table.heatmap[data-cell-url]").forEach(wireTable);
    document.querySelectorAll(".canvas-heatmap[data-cell-url]").forEach(wireCanvas);
    wireForms();
    wireRefresh();
    document.documentElement.dataset.ready = "1";
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
