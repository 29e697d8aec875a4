// Chaos timelines: the text of a band, a phase or a marker follows the pointer as a
// tooltip. The server writes it as the shape's SVG <title>; here it moves to data-tip
// (and aria-label, for screen readers) so the browser's own tooltip does not show too.
// Served from this server only (the CSP allows no inline script); text only, never HTML.
"use strict";

(function () {
  var tip = null;

  function show(text, x, y) {
    if (!tip) {
      tip = document.createElement("div");
      tip.className = "tooltip chaos-tip";
      tip.setAttribute("role", "tooltip");
      document.body.appendChild(tip);
    }
    tip.textContent = text;
    tip.hidden = false;
    var left = Math.min(x + 14, window.innerWidth - tip.offsetWidth - 8);
    var top = Math.min(y + 16, window.innerHeight - tip.offsetHeight - 8);
    tip.style.left = Math.max(8, left) + "px";
    tip.style.top = Math.max(8, top) + "px";
  }
  function hide() { if (tip) tip.hidden = true; }

  function wire(svg) {
    svg.querySelectorAll("title").forEach(function (title) {
      var owner = title.parentNode;
      owner.setAttribute("data-tip", title.textContent);
      owner.setAttribute("aria-label", title.textContent);
      owner.removeChild(title);
    });
    svg.addEventListener("mousemove", function (event) {
      var node = event.target;
      while (node && node !== svg && !(node.getAttribute && node.getAttribute("data-tip"))) {
        node = node.parentNode;
      }
      if (!node || node === svg) { hide(); return; }
      show(node.getAttribute("data-tip"), event.clientX, event.clientY);
    });
    svg.addEventListener("mouseleave", hide);
  }

  function start() {
    document.querySelectorAll("svg.chaos-svg").forEach(wire);
    document.addEventListener("scroll", hide, { passive: true });
    document.documentElement.dataset.chaosReady = "1";
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
