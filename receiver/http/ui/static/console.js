// callwatch incident console: the little it does in the browser. No build step, no library.
// Everything here is an extra: every page reads and every form works with JavaScript off.
"use strict";

(() => {
  // The incident list fetches its rows again every data-every seconds and swaps them in,
  // without reloading the page. A lost session (sent to the sign-in page) reloads it.
  const table = document.querySelector("table[data-refresh]");
  if (table) {
    const every = Math.max(1, Number(table.dataset.every) || 5) * 1000;
    const refresh = async () => {
      try {
        const response = await fetch(table.dataset.refresh,
                                     { credentials: "same-origin", cache: "no-store" });
        if (response.redirected || response.status === 401) {
          window.location.reload();
          return;
        }
        if (response.ok) {
          const holder = document.createElement("template");
          holder.innerHTML = await response.text();
          const rows = holder.content.querySelector("tbody");
          const old = table.querySelector("tbody");
          if (rows && old) {
            old.replaceWith(rows);
            table.dataset.refreshed = String(Date.now());
          }
        }
      } catch (error) {
        // the receiver is unreachable for a moment: try again at the next tick
      }
      window.setTimeout(refresh, every);
    };
    window.setTimeout(refresh, every);
  }

  // The SLA countdown ticks every second, from the server's clock at render time.
  const sla = document.getElementById("sla");
  if (sla && sla.dataset.open === "1") {
    const loaded = Date.now();
    const serverNow = Number(sla.dataset.now);
    const deadline = Number(sla.dataset.deadline);
    const short = (seconds) => {
      const s = Math.max(0, Math.floor(seconds));
      if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
      return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
    };
    const tick = () => {
      const left = deadline - (serverNow + (Date.now() - loaded) / 1000);
      sla.textContent = left >= 0 ? `${short(left)} left to acknowledge`
                                  : `${short(-left)} past the response deadline`;
      sla.classList.toggle("breached", left < 0);
    };
    tick();
    window.setInterval(tick, 1000);
  }

  // Copy buttons: shown only when this script runs; copy their draft's text.
  for (const button of document.querySelectorAll("button[data-copy]")) {
    const source = document.getElementById(button.dataset.copy);
    if (!source) continue;
    button.hidden = false;
    button.addEventListener("click", async () => {
      const text = source.value ?? source.textContent;
      try {
        await navigator.clipboard.writeText(text);
      } catch (error) {
        source.select();                 // no clipboard API (plain http): the old way
        document.execCommand("copy");
      }
      button.textContent = "Copied";
      window.setTimeout(() => { button.textContent = "Copy"; }, 2000);
    });
  }
})();
