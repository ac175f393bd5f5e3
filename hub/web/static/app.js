// The hub's only script: SLA countdowns, and the resolution fields shown when closing a case.
// Served from /static (the pages' Content-Security-Policy allows no inline script).
(function () {
  "use strict";
  var body = document.body;
  var overdue = body.getAttribute("data-overdue") || "overdue";
  var left = body.getAttribute("data-left") || "left";

  function format(ms) {
    var s = Math.floor(Math.abs(ms) / 1000);
    var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    var text = (d ? d + "d " : "") + h + "h " + m + "m";
    return ms < 0 ? overdue + " " + text : text + " " + left;
  }

  function tick() {
    var now = Date.now();
    var nodes = document.querySelectorAll(".sla[data-due]");
    for (var i = 0; i < nodes.length; i++) {
      var due = Date.parse(nodes[i].getAttribute("data-due"));
      if (isNaN(due)) continue;
      var ms = due - now;
      nodes[i].textContent = format(ms);
      nodes[i].classList.toggle("late", ms < 0);
      nodes[i].classList.toggle("soon", ms >= 0 && ms < 3600 * 1000);
    }
  }

  function resolutionToggle() {
    var select = document.getElementById("status-select");
    var fields = document.querySelector("#status-form .resolution");
    if (!select || !fields) return;
    var update = function () { fields.style.display = select.value === "closed" ? "" : "none"; };
    select.addEventListener("change", update);
    update();
  }

  tick();
  setInterval(tick, 30000);
  resolutionToggle();
})();
