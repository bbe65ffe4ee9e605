/* The report builder and result pages: small, no library, nothing fetched.
 *
 * - "Computing the report…" with the seconds elapsed, as soon as a report is
 *   asked for (a form or link marked data-computing); the browser keeps the page
 *   until the result arrives. Without this script the browser's own loading
 *   indicator shows, and everything works the same.
 * - The landmark field only with the landmark index (the server ignores a
 *   landmark sent with another index, so the page works without this script).
 * - The Cox reference group offers only the groups of the chosen grouping (the
 *   server refuses a group of another grouping, beside the field).
 */
(function () {
  "use strict";

  function showComputing(scope) {
    var status = document.querySelector(".computing");
    if (!status) return;
    status.hidden = false;
    var elapsed = status.querySelector("[data-elapsed]");
    var started = Date.now();
    window.clearInterval(showComputing.timer);
    showComputing.timer = window.setInterval(function () {
      var seconds = Math.round((Date.now() - started) / 1000);
      if (elapsed) elapsed.textContent = seconds + " s";
    }, 1000);
    if (scope) scope.setAttribute("aria-busy", "true");
  }

  function hideComputing() {
    window.clearInterval(showComputing.timer);
    document.querySelectorAll(".computing").forEach(function (el) {
      el.hidden = true;
    });
    document.querySelectorAll("[aria-busy]").forEach(function (el) {
      el.removeAttribute("aria-busy");
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target.closest("form[data-computing]");
    if (form && !event.defaultPrevented) showComputing(form);
  });
  document.addEventListener("click", function (event) {
    var link = event.target.closest("a[data-computing]");
    if (link && !event.ctrlKey && !event.metaKey && !event.shiftKey) {
      showComputing(null);
    }
  });
  // back to a page kept in the browser's cache: the report is no longer running
  window.addEventListener("pageshow", hideComputing);

  function builder(form) {
    var index = form.querySelector("[name=index]");
    var landmark = document.getElementById("field-landmark");
    var groupBy = form.querySelector("[name=group_by]");
    var reference = form.querySelector("select[name=reference]");

    function toggleLandmark() {
      if (!index || !landmark) return;
      landmark.hidden = index.value !== "landmark";
    }

    function filterReference() {
      if (!groupBy || !reference) return;
      var label = groupBy.options[groupBy.selectedIndex].text;
      reference.querySelectorAll("optgroup").forEach(function (group) {
        var shown = group.label === label;
        group.hidden = !shown;
        group.disabled = !shown;
      });
      var chosen = reference.options[reference.selectedIndex];
      if (chosen && chosen.parentNode.disabled) reference.value = "";
    }

    if (index) index.addEventListener("change", toggleLandmark);
    if (groupBy) groupBy.addEventListener("change", filterReference);
    toggleLandmark();
    filterReference();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector("form.report-form");
    if (form) builder(form);
  });
})();
