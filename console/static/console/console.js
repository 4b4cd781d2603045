// Parts of a page that follow a running process: `data-live="<url>"` is fetched again every few
// seconds and replaces the element, until the answer no longer carries `data-live` (it ended).
(function () {
  const PERIOD = 3000;
  function follow(element) {
    const url = element.dataset.live;
    if (!url) return;
    setTimeout(async function () {
      try {
        const response = await fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } });
        if (!response.ok) return follow(element);
        const holder = document.createElement("div");
        holder.innerHTML = await response.text();
        const fresh = holder.firstElementChild;
        const open = new Set(Array.from(element.querySelectorAll("details[open]")).map((d) => d.id));
        fresh.querySelectorAll("details").forEach((d) => { if (open.has(d.id)) d.open = true; });
        element.replaceWith(fresh);
        followLogs(fresh);
        follow(fresh);
      } catch (error) {
        follow(element);
      }
    }, PERIOD);
  }
  // A task's log, read from the API (the same rights), shown when its panel opens.
  function followLogs(root) {
    root.querySelectorAll("details[data-log]").forEach(function (panel) {
      const load = async function () {
        if (!panel.open) return;
        const target = panel.querySelector(".log");
        const response = await fetch(panel.dataset.log, { credentials: "same-origin", headers: { Accept: "text/plain" } });
        target.textContent = response.ok ? (await response.text()) || "(empty log)" : "The log cannot be read (" + response.status + ").";
        target.scrollTop = target.scrollHeight;
      };
      panel.addEventListener("toggle", load);
      load();
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-live]").forEach(follow);
    followLogs(document);
  });
})();
