// The incoming view refreshes itself: every data-every seconds it fetches its own page
// again and swaps in the parts marked data-live (the arrivals and the agency counts),
// keeping the scroll position, and says when it was updated and how many photos arrived
// since the page was opened. The desk's Content-Security-Policy allows scripts from the
// desk only, so this is a static file; without it the page's <noscript> refresh does.
(() => {
  "use strict";
  const live = document.querySelector("[data-refresh]");
  const status = document.getElementById("live-status");
  if (!live || !status || !window.fetch || !window.DOMParser) {
    return;
  }
  const seconds = Math.max(2, parseInt(live.dataset.every, 10) || 30);
  const arrivals = (root) =>
    Array.from(root.querySelectorAll("article.card[data-arrived]"), (card) => card.dataset.arrived);
  // ISO times in one form compare as strings: the newest arrival when the page was opened.
  const opened = arrivals(document).reduce((a, b) => (b > a ? b : a), "");

  const clock = () =>
    [new Date().getHours(), new Date().getMinutes(), new Date().getSeconds()]
      .map((n) => String(n).padStart(2, "0"))
      .join(":");

  const say = (text) => {
    status.textContent = text;
    status.hidden = false;
  };

  const markNew = () => {
    const cards = Array.from(document.querySelectorAll("[data-live] article.card[data-arrived]"));
    const fresh = cards.filter((card) => card.dataset.arrived > opened);
    fresh.forEach((card) => card.classList.add("new"));
    const block = document.querySelector("[data-live][data-total]");
    const more = block && Number(block.dataset.total) > cards.length && fresh.length === cards.length;
    return fresh.length ? `${fresh.length}${more ? "+" : ""} new since opened` : "nothing new since opened";
  };

  // The first card whose top is in view (below the sticky bar), and where it is, to keep
  // it there when cards arrive above it; at the top of the page, new cards are shown.
  const anchor = () => {
    if (window.scrollY <= 0) {
      return null;
    }
    const bar = document.querySelector(".bar");
    const below = bar ? bar.getBoundingClientRect().bottom : 0;
    const card = Array.from(document.querySelectorAll("article.card[data-id]")).find(
      (c) => c.getBoundingClientRect().top >= below
    );
    return card ? { id: card.dataset.id, top: card.getBoundingClientRect().top } : null;
  };

  const swap = (fetched) => {
    document.querySelectorAll("[data-live]").forEach((part) => {
      const fresh = fetched.querySelector(`[data-live="${part.dataset.live}"]`);
      if (fresh) {
        part.replaceWith(document.importNode(fresh, true));
      }
    });
  };

  const restore = (kept) => {
    if (kept) {
      const again = Array.from(document.querySelectorAll("article.card[data-id]")).find(
        (c) => c.dataset.id === kept.id
      );
      if (again) {
        window.scrollBy(0, again.getBoundingClientRect().top - kept.top);
      }
    }
  };

  let timer = null;
  let busy = false;
  const refresh = async () => {
    timer = null;
    if (busy) {
      return;
    }
    busy = true;
    try {
      const response = await fetch(window.location.href, {
        cache: "no-store",
        credentials: "same-origin",
        headers: { Accept: "text/html" },
      });
      if (!response.ok) {
        say(`update failed at ${clock()} (${response.status}); trying again in ${seconds} s`);
      } else {
        const fetched = new DOMParser().parseFromString(await response.text(), "text/html");
        const kept = anchor();
        swap(fetched);
        say(`updated ${clock()} · ${markNew()} · refreshes every ${seconds} s`);
        restore(kept);
      }
    } catch (err) {
      say(`update failed at ${clock()} (the desk did not answer); trying again in ${seconds} s`);
    }
    busy = false;
    schedule();
  };

  const schedule = () => {
    if (timer === null && !document.hidden) {
      timer = window.setTimeout(refresh, seconds * 1000);
    }
  };

  // A tab in the background is not refreshed; it catches up when shown again.
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) {
      if (timer !== null) {
        window.clearTimeout(timer);
        timer = null;
      }
    } else if (timer === null) {
      refresh();
    }
  });

  say(`updated ${clock()} · refreshes every ${seconds} s`);
  schedule();
})();
