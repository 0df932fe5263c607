// Follows a job on its page: asks the server for new timeline entries (a long poll that answers as soon as
// something changes) and updates the summary in place, until the job has ended. No reload, no library.
(function () {
  "use strict";
  var timeline = document.getElementById("timeline");
  var summary = document.getElementById("job-summary");
  var note = document.getElementById("live-note");
  if (!timeline || !summary || timeline.dataset.terminal === "true") { return; }

  var url = timeline.dataset.timelineUrl;
  var after = timeline.dataset.after || "0";
  var failures = 0;

  function sleep(ms) { return new Promise(function (resolve) { setTimeout(resolve, ms); }); }

  function apply(data) {
    if (data.events_html && data.events_html.trim()) {
      timeline.insertAdjacentHTML("beforeend", data.events_html);
    }
    after = String(data.last_event_id);
    timeline.dataset.after = after;
    var heading = summary.querySelector("h2.visually-hidden");
    summary.innerHTML = "";
    if (heading) { summary.appendChild(heading); }
    summary.insertAdjacentHTML("beforeend", data.summary_html);
    document.title = "Job " + data.job.kind + " · " + data.job.status + " · Maracker";
  }

  async function follow() {
    for (;;) {
      try {
        var response = await fetch(url + "?after=" + encodeURIComponent(after) + "&wait=20", {
          headers: { "Accept": "application/json" }, credentials: "same-origin", cache: "no-store"
        });
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        var data = await response.json();
        failures = 0;
        apply(data);
        if (data.terminal) {
          timeline.dataset.terminal = "true";
          note.textContent = "The job has ended: " + data.job.status + ".";
          return;
        }
        note.textContent = "This page follows the job as it runs.";
      } catch (error) {
        failures += 1;
        note.textContent = "Lost contact with the server; trying again…";
        await sleep(Math.min(30000, 1000 * Math.pow(2, failures)));
      }
    }
  }

  follow();
})();
