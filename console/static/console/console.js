// Partial refresh without a full reload: any element with data-refresh-url and
// data-refresh-seconds has its inner HTML replaced by that URL's answer, and
// "console:refreshed" is dispatched so charts can redraw.
(function () {
  function refresh(el) {
    fetch(el.dataset.refreshUrl, { headers: { "X-Requested-With": "fetch" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        el.innerHTML = html;
        el.querySelectorAll("script").forEach(function (old) {
          var s = document.createElement("script");
          s.textContent = old.textContent;
          old.replaceWith(s);
        });
        el.dispatchEvent(new CustomEvent("console:refreshed", { bubbles: true }));
      })
      .catch(function () { /* keep what is shown; try again next tick */ });
  }
  document.querySelectorAll("[data-refresh-url]").forEach(function (el) {
    var seconds = parseFloat(el.dataset.refreshSeconds || "10");
    setInterval(function () { if (!document.hidden) refresh(el); }, seconds * 1000);
  });
})();

// Charts: every element with a Plotly figure spec in data-figure is drawn once the page is laid
// out (an inline script would size it before its neighbours exist), and again after its section
// refreshed. Pages that have charts load plotly.min.js (our static copy) in their head.
(function () {
  function draw(root) {
    if (!window.Plotly) return;
    root.querySelectorAll("[data-figure]").forEach(function (el) {
      var figure = JSON.parse(el.dataset.figure);
      window.Plotly.react(el, figure.data, figure.layout, { responsive: true, displaylogo: false,
        modeBarButtonsToRemove: ["select2d", "lasso2d"] });
    });
  }
  draw(document);
  document.addEventListener("console:refreshed", function (event) { draw(event.target); });
})();

// The navigation's migration picker shows the chosen migration as soon as it is picked (its Show
// button does the same without JavaScript).
(function () {
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
})();
