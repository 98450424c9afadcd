// The console's only script: a run's live progress, from its server-sent events. Pages work
// without it; it only keeps the "Run under way" panel current and reloads when the run ends.
"use strict";
(function () {
  const live = document.getElementById("live");
  if (!live || !window.EventSource) return;
  const bytes = (n) => {
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : n) + " " + units[i];
  };
  const events = new EventSource("/sync/logs/" + encodeURIComponent(live.dataset.log) + "/events");
  const show = (run) => {
    const done = run.files_synced + run.files_failed;
    let text = run.status === "pending"
      ? "Queued: a replica starts it at its next tick."
      : done + " of " + run.files_total + " files, " + bytes(run.bytes_synced) +
        (run.bytes_total ? " of " + bytes(run.bytes_total) : "");
    if (run.current_file) text += "; now: " + run.current_file;
    if (run.cancel_requested) text += " (stopping)";
    live.textContent = text;
  };
  events.addEventListener("progress", (e) => show(JSON.parse(e.data)));
  events.addEventListener("end", (e) => {
    const run = JSON.parse(e.data);
    live.textContent = "Ended: " + run.status + (run.error_message ? " — " + run.error_message : "");
    events.close();
    setTimeout(() => window.location.reload(), 1500);
  });
})();
