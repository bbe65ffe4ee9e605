// Import page: show the upload's progress, then that the file is being checked.
// Plain JavaScript, no library: the form still works without it.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("import-form");
    if (!form || !window.FormData || !window.XMLHttpRequest) {
      return;
    }
    var box = document.getElementById(form.dataset.progress);
    var bar = box.querySelector("progress");
    var status = box.querySelector("[role=status]");
    var clicked = null;
    form.addEventListener("click", function (event) {
      if (event.target.type === "submit") {
        clicked = event.target;
      }
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var data = new FormData(form);
      if (clicked && clicked.name) {
        data.append(clicked.name, clicked.value);
      }
      var request = new XMLHttpRequest();
      request.open("POST", form.action || window.location.href);
      request.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable) {
          bar.value = Math.round((100 * e.loaded) / e.total);
          status.textContent = "Uploading: " + bar.value + "%";
        }
      });
      request.upload.addEventListener("load", function () {
        bar.removeAttribute("value"); // indeterminate while the server checks
        status.textContent = "Checking every row; large files take a minute.";
      });
      request.addEventListener("load", function () {
        document.open();
        document.write(request.responseText);
        document.close();
      });
      request.addEventListener("error", function () {
        status.textContent = "The upload failed: check the connection and try again.";
      });
      box.hidden = false;
      form.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
      request.send(data);
    });
  });
})();
