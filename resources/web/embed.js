// Embed the Web Scheduler on a company's site (docs/web-scheduler.md):
//   <script src="https://book.example.com/embed.js" async></script>
//   <button type="button" data-csr-scheduler>Book online</button>
// or call window.CSRScheduler("open") / ("close"). The overlay is a dialog holding an iframe of the
// scheduler; Escape or the Close button closes it and the focus returns to the button that opened it.
// The site's origin must be in the company's allowed_origins (CSP frame-ancestors).
(function () {
  "use strict";
  var script = document.currentScript;
  var base = script ? new URL(".", script.src).href : "";
  var overlay = null, opener = null;

  function close() {
    if (!overlay) return;
    overlay.remove();
    overlay = null;
    document.removeEventListener("keydown", onKey, true);
    if (opener && opener.focus) opener.focus();
  }
  function onKey(event) {
    if (event.key === "Escape") { event.preventDefault(); close(); }
  }
  function open(params) {
    if (overlay) return;
    opener = document.activeElement;
    overlay = document.createElement("div");
    overlay.id = "csr-scheduler-overlay";
    overlay.setAttribute("role", "dialog");
    overlay.setAttribute("aria-modal", "true");
    overlay.setAttribute("aria-label", "Book a visit online");
    overlay.style.cssText = "position:fixed;inset:0;z-index:2147483000;background:rgba(0,0,0,.55);" +
      "display:flex;align-items:center;justify-content:center;padding:8px";
    var box = document.createElement("div");
    box.style.cssText = "position:relative;background:#fff;width:100%;max-width:40rem;height:100%;max-height:48rem;" +
      "border-radius:8px;overflow:hidden;display:flex;flex-direction:column";
    var bar = document.createElement("div");
    bar.style.cssText = "display:flex;justify-content:flex-end;padding:4px;background:#0b4f8a";
    var button = document.createElement("button");
    button.type = "button";
    button.id = "csr-scheduler-close";
    button.textContent = "Close";
    button.setAttribute("aria-label", "Close online booking");
    button.style.cssText = "font:inherit;font-weight:700;padding:6px 14px;border:0;border-radius:4px;background:#fff;color:#0b4f8a;cursor:pointer";
    button.addEventListener("click", close);
    bar.appendChild(button);
    var frame = document.createElement("iframe");
    frame.id = "csr-scheduler-frame";
    frame.title = "Book a visit online";
    var query = new URLSearchParams(params || {});
    var utm = new URLSearchParams(window.location.search).get("utm_campaign");
    if (utm && !query.has("utm_campaign")) query.set("utm_campaign", utm);
    frame.src = base + (query.toString() ? "?" + query.toString() : "");
    frame.style.cssText = "border:0;flex:1;width:100%";
    box.appendChild(bar);
    box.appendChild(frame);
    overlay.appendChild(box);
    overlay.addEventListener("click", function (event) { if (event.target === overlay) close(); });
    document.body.appendChild(overlay);
    document.addEventListener("keydown", onKey, true);
    frame.focus();
  }
  window.addEventListener("message", function (event) {
    if (event.data && event.data.csrScheduler === "close" && base.indexOf(event.origin) === 0) close();
  });
  window.CSRScheduler = function (command, params) {
    if (command === "open") open(params);
    else if (command === "close") close();
  };
  document.addEventListener("click", function (event) {
    var trigger = event.target.closest && event.target.closest("[data-csr-scheduler]");
    if (trigger) { event.preventDefault(); open(); }
  });
})();
