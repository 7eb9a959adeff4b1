// The live leaderboard: follows the board's server-sent events and redraws the tables and
// the reader's rank in place, so a new result shows within a second, without a reload.
// EventSource reconnects by itself after a dropped connection; the status says so.
(() => {
  "use strict";

  const root = document.querySelector("[data-leaderboard]");
  if (!root) return;
  const me = root.dataset.me;
  const status = root.querySelector("[data-live-status]");
  const announce = root.querySelector("[data-announce]");
  let rank = root.dataset.rank ? Number(root.dataset.rank) : null;

  // As the server prints them: at most two decimals, none when whole.
  const number = (value) => String(Number(value.toFixed(2)));
  const when = (iso) =>
    new Date(iso).toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
  const localise = (scope) => {
    for (const time of scope.querySelectorAll("time[datetime]")) {
      time.textContent = when(time.getAttribute("datetime"));
    }
  };

  const STATES = {
    connecting: "Connecting to live updates…",
    live: "Live: updates as results arrive",
    reconnecting: "Reconnecting…",
    stopped: "Live updates stopped: reload the page to try again",
  };
  const show = (state) => {
    if (status.dataset.state === state) return;
    status.dataset.state = state;
    status.textContent = STATES[state];
  };

  const row = (entry) => {
    const tr = document.createElement("tr");
    const mine = entry.userId === me;
    if (mine) {
      tr.className = "me";
      tr.setAttribute("aria-current", "true");
    }
    const cell = (tag, className, text) => {
      const element = document.createElement(tag);
      if (className) element.className = className;
      element.textContent = text;
      tr.append(element);
      return element;
    };
    cell("td", "rank", String(entry.rank));
    const name = cell("th", "", entry.displayName);
    name.scope = "row";
    if (mine) {
      const you = document.createElement("span");
      you.className = "you";
      you.textContent = " (you)";
      name.append(you);
    }
    cell("td", "num", number(entry.score));
    cell("td", "num", `${number(entry.percentage)}%`);
    const time = document.createElement("time");
    time.setAttribute("datetime", entry.submittedAt);
    time.textContent = when(entry.submittedAt);
    cell("td", "submitted", "").append(time);
    return tr;
  };

  const fill = (name, entries) => {
    root.querySelector(`[data-rows="${name}"]`).replaceChildren(...entries.map(row));
    root.querySelector(`[data-section="${name}"]`).hidden = entries.length === 0;
  };

  const setText = (selector, text) => {
    for (const element of root.querySelectorAll(selector)) element.textContent = text;
  };

  const draw = (board) => {
    fill("top", board.top);
    fill("around", board.around);
    root.querySelector("[data-empty]").hidden = board.total > 0;
    setText("[data-total]", String(board.total));
    root.querySelector("[data-mine]").hidden = !board.me;
    root.querySelector("[data-not-mine]").hidden = Boolean(board.me);
    if (board.me) {
      setText("[data-my-rank]", String(board.me.rank));
      setText("[data-my-score]", number(board.me.score));
      setText("[data-my-percentage]", number(board.me.percentage));
    }
    const now = board.me ? board.me.rank : null;
    if (now !== rank && now !== null) {
      announce.textContent = `Your rank is now ${now} of ${board.total}.`;
    }
    rank = now;
  };

  localise(root);
  if (!("EventSource" in window)) {
    show("stopped");
    return;
  }
  const source = new EventSource(root.dataset.events);
  source.addEventListener("open", () => show("live"));
  source.addEventListener("error", () => {
    show(source.readyState === EventSource.CLOSED ? "stopped" : "reconnecting");
  });
  source.addEventListener("leaderboard", (event) => {
    show("live");
    draw(JSON.parse(event.data));
  });
})();
