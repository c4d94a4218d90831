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

  // What a screen reader hears: only news (photos arrived, an update failed), not the clock
  // of every refresh, which the visible status line shows.
  const news = document.getElementById("live-news");
  const say = (text, heard) => {
    status.textContent = text;
    status.hidden = false;
    if (news && heard !== undefined && news.textContent !== heard) {
      news.textContent = heard;
    }
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
    // The card chosen with the keyboard (j/k) stays chosen in the new cards.
    const active = document.activeElement;
    const chosen = active && active.closest ? active.closest("article.card[data-id]") : null;
    document.querySelectorAll("[data-live]").forEach((part) => {
      const fresh = fetched.querySelector(`[data-live="${part.dataset.live}"]`);
      if (fresh) {
        part.replaceWith(document.importNode(fresh, true));
      }
    });
    const again =
      chosen && document.querySelector(`article.card[data-id="${CSS.escape(chosen.dataset.id)}"] .caption a`);
    if (again) {
      again.focus({ preventScroll: true });
    }
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
        const failed = `update failed at ${clock()} (${response.status}); trying again in ${seconds} s`;
        say(failed, failed);
      } else {
        const fetched = new DOMParser().parseFromString(await response.text(), "text/html");
        const kept = anchor();
        swap(fetched);
        const arrived = markNew();
        say(`updated ${clock()} · ${arrived} · refreshes every ${seconds} s`, arrived);
        restore(kept);
      }
    } catch (err) {
      const failed = `update failed at ${clock()} (the desk did not answer); trying again in ${seconds} s`;
      say(failed, failed);
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

// Working at the desk from the keyboard: "/" to the search box, j and k from card to card
// (the chosen card's caption link takes the focus, so Enter opens it), x adds the chosen
// photo to the selection or takes it out (its [data-select-toggle] button; on a photo page,
// the photo's own), "?" lists the shortcuts. Keys typed into a field, or with Ctrl, Alt or
// Cmd, are left alone. On a phone, the filters are folded while none is chosen.
(() => {
  "use strict";
  const narrow = window.matchMedia && window.matchMedia("(max-width: 720px)").matches;
  if (narrow) {
    document.querySelectorAll("details[data-fold=narrow]").forEach((d) => d.removeAttribute("open"));
  }
  const box = document.getElementById("q");
  const help = document.getElementById("shortcuts");
  const helpButton = document.querySelector("[data-shortcuts]");
  const canHelp = help && typeof help.showModal === "function";
  if (helpButton && canHelp) {
    helpButton.hidden = false;
    helpButton.addEventListener("click", () => help.showModal());
    help.querySelectorAll("[data-close]").forEach((b) => b.addEventListener("click", () => help.close()));
  }

  const typing = (el) =>
    !!el && (el.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName));
  const cards = () => Array.from(document.querySelectorAll("main article.card"));
  const chosen = () => {
    const active = document.activeElement;
    return active && active.closest ? active.closest("article.card") : null;
  };
  const barBottom = () => {
    const bar = document.querySelector(".bar");
    return bar ? Math.max(0, bar.getBoundingClientRect().bottom) : 0;
  };

  // Scroll just enough for the card to be seen whole below the sticky bar (its top first).
  const reveal = (el) => {
    const top = barBottom() + 8;
    const rect = el.getBoundingClientRect();
    if (rect.top < top) {
      window.scrollBy(0, rect.top - top);
    } else if (rect.bottom > window.innerHeight - 8) {
      window.scrollBy(0, Math.min(rect.bottom - window.innerHeight + 8, rect.top - top));
    }
  };

  const choose = (card) => {
    const link = card.querySelector(".caption a") || card.querySelector("a[href]");
    if (link) {
      link.focus({ preventScroll: true });
      reveal(card);
    }
  };

  const move = (step) => {
    const list = cards();
    if (!list.length) {
      return;
    }
    const at = list.indexOf(chosen());
    if (at < 0) {
      // Nothing chosen yet: the first card in view.
      const top = barBottom();
      choose(list.find((c) => c.getBoundingClientRect().bottom > top) || list[0]);
      return;
    }
    choose(list[Math.min(list.length - 1, Math.max(0, at + step))]);
  };

  const toggleSelection = () => {
    const card = chosen();
    let toggle = card ? card.querySelector("[data-select-toggle]") : null;
    if (!card) {
      // A photo page: its own toggle, outside any card.
      toggle = Array.from(document.querySelectorAll("main [data-select-toggle]")).find(
        (t) => !t.closest("article.card")
      );
    }
    if (toggle && !toggle.disabled) {
      toggle.click();
    }
  };

  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.isComposing || event.ctrlKey || event.metaKey || event.altKey) {
      return;
    }
    const target = event.target;
    if (typing(target)) {
      if (event.key === "Escape" && target === box) {
        event.preventDefault(); // leave the box as it is, for j and k
        box.blur();
      }
      return;
    }
    if (canHelp && help.open) {
      return;
    }
    const key = event.key;
    if (key === "/" && box) {
      event.preventDefault();
      box.focus();
      box.select();
    } else if (key === "?" && canHelp) {
      event.preventDefault();
      help.showModal();
    } else if (event.shiftKey) {
      return;
    } else if (key === "j" || key === "k") {
      event.preventDefault();
      move(key === "j" ? 1 : -1);
    } else if (key === "x") {
      event.preventDefault();
      toggleSelection();
    } else if (key === "Enter") {
      const card = target && target.matches && target.matches("article.card") ? target : null;
      const link = card && (card.querySelector(".caption a") || card.querySelector("a[href]"));
      if (link) {
        event.preventDefault();
        link.click();
      }
    }
  });
})();

// Selections: a photo's toggle (on a card or a photo page) adds it to the selection or
// takes it out in the background, and the button, its next action and the header's count
// follow; without JavaScript, or if the desk refuses, the form is posted as usual and the
// desk's page says what happened. The form carries its own CSRF token.
(() => {
  "use strict";
  if (!window.fetch || !window.FormData) {
    return;
  }
  document.addEventListener("submit", async (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.matches("form[data-select-form]")) {
      return;
    }
    event.preventDefault();
    const button = form.querySelector("[data-select-toggle]");
    if (button) {
      if (button.disabled) {
        return;
      }
      button.disabled = true;
    }
    let done = null;
    try {
      const response = await fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      done = response.ok ? await response.json() : null;
    } catch (err) {
      done = null;
    }
    if (button) {
      button.disabled = false;
    }
    if (!done) {
      form.submit();
      return;
    }
    form.action = done.action;
    if (button) {
      button.textContent = done.label;
      button.title = done.title;
      button.setAttribute("aria-pressed", done.selected ? "true" : "false");
    }
    document.querySelectorAll("[data-selection-count]").forEach((el) => {
      el.textContent = String(done.count);
    });
  });
})();
