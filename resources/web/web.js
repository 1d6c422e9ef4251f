// The Web Scheduler's small script. The pages work without it; with it, the focus goes where a
// keyboard or screen-reader user needs it: the error summary when a form came back with errors,
// else the page title (so each step is announced). Links in the summary focus their field.
(function () {
  "use strict";
  function ready() {
    var summary = document.getElementById("error-summary");
    var target = summary || document.getElementById("filled") || document.getElementById("title");
    if (target) {
      if (!target.hasAttribute("tabindex")) target.setAttribute("tabindex", "-1");
      target.focus();
    }
    if (summary) {
      summary.addEventListener("click", function (event) {
        var link = event.target.closest("a");
        if (!link) return;
        var field = document.getElementById(link.getAttribute("href").slice(1));
        if (field) { event.preventDefault(); field.focus(); }
      });
    }
    // Inside the overlay (embed.js), Escape asks the host page to close it.
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && window.parent !== window) {
        window.parent.postMessage({ csrScheduler: "close" }, "*");
      }
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
  else ready();
})();
