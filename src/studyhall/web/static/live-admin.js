// The operators' live games table: polls GET /api/v1/admin/live and redraws it.
(() => {
  "use strict";

  const root = document.querySelector("[data-live-admin]");
  if (!root) return;
  const $ = (name) => root.querySelector(`[data-${name}]`);
  const EVERY_MS = 2000;

  const cell = (tag, text, className) => {
    const node = document.createElement(tag);
    node.textContent = String(text);
    if (className) node.className = className;
    if (tag === "th") node.scope = "row";
    return node;
  };

  const draw = (ops) => {
    $("game-count").textContent = ops.games.length;
    $("player-total").textContent = ops.players;
    $("rate-total").textContent = ops.answersPerSecond;
    $("error-total").textContent = ops.errors;
    $("refreshed").textContent = `updated ${new Date().toLocaleTimeString()}`;
    $("empty").hidden = ops.games.length > 0;
    $("games").replaceChildren(
      ...ops.games.map((game) => {
        const row = document.createElement("tr");
        row.dataset.game = game.gameId;
        const question = game.questionIndex >= 0 ? game.questionIndex + 1 : "–";
        row.append(
          cell("th", game.title),
          cell("td", game.joinCode),
          cell("td", game.status),
          cell("td", `${question} / ${game.questionCount}`, "num"),
          cell("td", game.players, "num"),
          cell("td", game.answers, "num"),
          cell("td", game.answersPerSecond, "num"),
          cell("td", game.errors, "num"),
        );
        return row;
      }),
    );
  };

  const poll = async () => {
    try {
      const response = await fetch("/api/v1/admin/live", { headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(`status ${response.status}`);
      draw(await response.json());
      $("banner").hidden = true;
    } catch (error) {
      $("banner").textContent = `Could not refresh (${error.message}); retrying.`;
      $("banner").hidden = false;
    }
    setTimeout(poll, EVERY_MS);
  };

  poll();
})();
