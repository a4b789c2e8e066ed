// Harpoon web UI: progressive enhancement only; every page works without it.
// Loaded as an external file (the CSP forbids inline script). Server and email text is only
// ever set with textContent; the only HTML put into the page is taken from our own server-
// rendered (escaped) pages, parsed with DOMParser (which runs no script).
"use strict";

function csrf() {
  return document.body.dataset.csrf || "";
}

function flash(el) {
  el.classList.remove("flash");
  // restart the animation
  void el.offsetWidth;
  el.classList.add("flash");
  setTimeout(function () { el.classList.remove("flash"); }, 1600);
}

// QA: an item's ◎ scrolls to its first highlight in the source and flashes every piece of it;
// a click on a highlight brings its item(s) into view.
function setupQa() {
  document.querySelectorAll("button.locate").forEach(function (b) {
    b.addEventListener("click", function () {
      var id = b.dataset.item;
      var marks = document.querySelectorAll('mark[data-items~="' + CSS.escape(id) + '"]');
      if (marks.length === 0) return;
      var details = marks[0].closest("details");
      if (details) details.open = true;
      marks[0].scrollIntoView({ block: "center", behavior: "smooth" });
      marks.forEach(flash);
    });
  });
  document.querySelectorAll("mark[data-items]").forEach(function (m) {
    m.addEventListener("click", function () {
      var first = null;
      m.dataset.items.split(" ").forEach(function (id) {
        var li = document.getElementById("item-" + id);
        if (li) { flash(li); if (!first) first = li; }
      });
      if (first) first.scrollIntoView({ block: "center", behavior: "smooth" });
    });
  });
  document.querySelectorAll("input.autosubmit").forEach(function (c) {
    c.addEventListener("change", function () { c.form.submit(); });
  });
}

// Import: drop zone and file picker; the upload goes by XMLHttpRequest to show its progress,
// the page stays usable, and the result (the draft, or the list of drafts) replaces it.
function setupImport() {
  var form = document.getElementById("import-form");
  if (!form) return;
  var zone = document.getElementById("dropzone");
  var input = document.getElementById("files");
  var chosen = document.getElementById("chosen");
  function list() {
    chosen.textContent = "";
    Array.prototype.forEach.call(input.files, function (f) {
      var li = document.createElement("li");
      li.textContent = f.name + " (" + f.size + " bytes)";
      chosen.appendChild(li);
    });
  }
  input.addEventListener("change", list);
  ["dragenter", "dragover"].forEach(function (t) {
    zone.addEventListener(t, function (e) { e.preventDefault(); zone.classList.add("over"); });
  });
  ["dragleave", "drop"].forEach(function (t) {
    zone.addEventListener(t, function (e) { e.preventDefault(); zone.classList.remove("over"); });
  });
  zone.addEventListener("drop", function (e) {
    if (e.dataTransfer && e.dataTransfer.files.length) {
      input.files = e.dataTransfer.files;
      list();
    }
  });
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var box = document.getElementById("import-progress");
    var bar = box.querySelector("progress");
    var what = box.querySelector(".what");
    box.hidden = false;
    what.textContent = "uploading…";
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.upload.addEventListener("progress", function (ev) {
      if (ev.lengthComputable) bar.value = Math.round((ev.loaded / ev.total) * 100);
    });
    xhr.upload.addEventListener("load", function () {
      bar.removeAttribute("value");
      what.textContent = "extracting…";
    });
    xhr.addEventListener("load", function () {
      if (xhr.responseURL && xhr.responseURL.indexOf("/ui/import") === -1) {
        window.location.assign(xhr.responseURL);
        return;
      }
      replaceMain(xhr.responseText);
    });
    xhr.addEventListener("error", function () { what.textContent = "the upload failed"; });
    xhr.send(new FormData(form));
  });
}

function replaceMain(html) {
  var doc = new DOMParser().parseFromString(html, "text/html");
  var main = doc.querySelector("main");
  var here = document.querySelector("main");
  if (main && here) here.replaceWith(document.importNode(main, true));
}

// Event: select all indicators for the bulk status change.
function setupEvent() {
  var all = document.getElementById("select-all");
  if (!all) return;
  all.addEventListener("change", function () {
    document.querySelectorAll("input.pick").forEach(function (c) { c.checked = all.checked; });
  });
}

// Indicator: operations start in the background; their runs are polled and the related
// indicators and sightings refreshed when a run ends.
var FINISHED = ["succeeded", "failed", "timed_out", "interrupted"];

function runRow(run) {
  var tbody = document.querySelector("#runs tbody");
  if (!tbody) return;
  var tr = tbody.querySelector('tr[data-run="' + run.id + '"]');
  if (!tr) {
    tr = document.createElement("tr");
    tr.dataset.run = String(run.id);
    for (var i = 0; i < 6; i++) tr.appendChild(document.createElement("td"));
    tbody.insertBefore(tr, tbody.firstChild);
  }
  var cells = tr.children;
  cells[0].textContent = String(run.id);
  cells[1].textContent = run.operation;
  var span = document.createElement("span");
  span.className = "run " + run.status;
  span.textContent = run.status;
  cells[2].textContent = "";
  cells[2].appendChild(span);
  cells[3].textContent = run.started_by;
  cells[4].textContent = run.created_at;
  var notes = (run.output && run.output.notes) || [];
  cells[5].textContent = run.error || notes.join("; ");
}

function refreshSections() {
  fetch(window.location.pathname, { credentials: "same-origin" })
    .then(function (r) { return r.text(); })
    .then(function (html) {
      var doc = new DOMParser().parseFromString(html, "text/html");
      ["related", "runs", "indicator-status"].forEach(function (id) {
        var fresh = doc.getElementById(id);
        var old = document.getElementById(id);
        if (fresh && old) old.replaceWith(document.importNode(fresh, true));
      });
    });
}

function poll(indicatorPath, runId) {
  fetch(indicatorPath + "/runs.json", { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then(function (r) { return r.json(); })
    .then(function (runs) {
      var run = runs.find(function (x) { return x.id === runId; });
      if (!run) return;
      runRow(run);
      if (FINISHED.indexOf(run.status) === -1) {
        setTimeout(function () { poll(indicatorPath, runId); }, 500);
      } else {
        refreshSections();
      }
    });
}

function setupOperations() {
  document.querySelectorAll("form.op").forEach(function (form) {
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var button = form.querySelector("button");
      button.disabled = true;
      fetch(form.action, {
        method: "POST",
        credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRF-Token": csrf() },
        body: new URLSearchParams(new FormData(form)),
      })
        .then(function (r) {
          if (r.ok) return r.json().then(function (j) { return { ok: true, body: j }; });
          // The error page (e.g. 429: the run queue is full): its message, as text, by the form.
          return r.text().then(function (html) {
            var doc = new DOMParser().parseFromString(html, "text/html");
            var p = doc.querySelector("p.error");
            return { ok: false, message: p ? p.textContent : "the run could not start (" + r.status + ")" };
          });
        })
        .then(function (res) {
          button.disabled = false;
          var note = form.querySelector("p.error");
          if (note) note.remove();
          if (!res.ok) {
            note = document.createElement("p");
            note.className = "error";
            note.textContent = res.message;
            form.appendChild(note);
            return;
          }
          runRow(res.body);
          poll(window.location.pathname, res.body.id);
        })
        .catch(function () { button.disabled = false; });
    });
  });
}

function setupCopy() {
  document.querySelectorAll("button.copy").forEach(function (b) {
    b.addEventListener("click", function () {
      var text = b.dataset.copy || "";
      var done = function () { b.textContent = "copied"; setTimeout(function () { b.textContent = "copy"; }, 1500); };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(text).then(done, function () {});
      }
    });
  });
}

// A background import: follow its progress, then show the finished page.
function setupJob() {
  var box = document.getElementById("job");
  if (!box || box.dataset.finished === "true") return;
  var id = box.dataset.job;
  function tick() {
    fetch("/ui/jobs/" + encodeURIComponent(id) + ".json", { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (j) {
        var bar = document.getElementById("job-progress");
        bar.value = j.done + j.failed;
        document.getElementById("job-count").textContent = String(j.done + j.failed);
        document.getElementById("job-done").textContent = String(j.done);
        document.getElementById("job-failed").textContent = String(j.failed);
        if (j.finished) {
          window.location.reload();
        } else {
          setTimeout(tick, 500);
        }
      })
      .catch(function () { setTimeout(tick, 2000); });
  }
  setTimeout(tick, 300);
}

document.addEventListener("DOMContentLoaded", function () {
  setupJob();
  setupQa();
  setupImport();
  setupEvent();
  setupOperations();
  setupCopy();
});

// Forms that destroy something ask first (`data-confirm` holds the question).
document.addEventListener('submit', (e) => {
  const question = e.target.dataset ? e.target.dataset.confirm : undefined;
  if (question && !window.confirm(question)) e.preventDefault();
});
