// The host's screen of a live game: lobby, controls, question with countdown and answer
// count, the reveal with its answer distribution, the leaderboard and the podium. It
// watches the game over the same WebSocket as players (signed in as the host).
(() => {
  "use strict";

  const root = document.querySelector("[data-live-host]");
  if (!root) return;
  const $ = (name) => root.querySelector(`[data-${name}]`);
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";
  const game = root.dataset.game;
  let question = null;
  let lastEventId = 0;
  let clockOffset = 0;
  let timer = null;
  let retry = 0;
  // The step the screen shows; "next" names it so a double click advances only once.
  const step = { status: root.dataset.stepStatus, index: Number(root.dataset.stepIndex) };
  const at = (status, index = step.index) => {
    step.status = status;
    step.index = index;
    $("status").textContent = status;
  };

  const banner = (text) => {
    const node = $("banner");
    node.hidden = !text;
    node.textContent = text || "";
  };

  const items = (list, entries, format) =>
    list.replaceChildren(
      ...entries.map((entry) => {
        const item = document.createElement("li");
        item.textContent = format(entry);
        return item;
      }),
    );

  const board = (entries, title = "Leaderboard") => {
    $("board-title").textContent = title;
    items($("board"), entries, (e) => `${e.rank}. ${e.name}: ${e.score}`);
  };

  const kick = async (player, button) => {
    button.disabled = true;
    const response = await fetch(`/api/v1/games/${game}/players/${player.participantId}/kick`, {
      method: "POST",
      headers: { "X-CSRF-Token": csrf },
    });
    if (!response.ok) {
      button.disabled = false;
      const body = await response.json();
      const error = $("action-error");
      error.textContent = body.detail || body.title;
      error.hidden = false;
    }
  };

  const addPlayer = (player) => {
    const item = document.createElement("li");
    item.dataset.participant = player.participantId;
    const name = document.createElement("span");
    name.textContent = player.name;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "button button-secondary button-small";
    button.textContent = "Kick";
    button.setAttribute("aria-label", `Kick ${player.name}`);
    button.addEventListener("click", () => kick(player, button));
    item.append(name, " ", button);
    $("players").append(item);
  };

  const tickClock = () => {
    clearInterval(timer);
    const end = Date.parse(question.endTime);
    const draw = () => {
      const left = Math.max(0, Math.ceil((end - (Date.now() + clockOffset)) / 1000));
      $("time-left").textContent = `${left} s left`;
      if (left === 0) clearInterval(timer);
    };
    draw();
    timer = setInterval(draw, 250);
  };

  // Each option with the shape and colour (drawn by live.css) its players' button shows.
  const showOptions = (q, suffix = () => "") =>
    $("distribution").replaceChildren(
      ...(q.choices || []).map((choice) => {
        const item = document.createElement("li");
        item.className = `live-choice live-color-${choice.color}`;
        const glyph = document.createElement("span");
        glyph.className = `live-glyph live-shape-${choice.shape}`;
        glyph.setAttribute("aria-hidden", "true");
        item.append(glyph, ` ${(q.options || [])[choice.id] ?? ""}${suffix(choice.id)}`);
        return item;
      }),
    );

  // A question shown only here arrives twice: as players get it (no texts), then whole.
  const showQuestion = (q) => {
    question = q;
    $("question").hidden = false;
    $("question-number").textContent = `Question ${q.index + 1} of ${q.count}`;
    $("question-text").textContent = q.text ?? "";
    const image = $("question-image");
    image.hidden = !q.imageUrl;
    if (q.imageUrl) {
      image.src = q.imageUrl;
      image.alt = q.imageAlt || "";
    } else {
      image.removeAttribute("src");
    }
    $("reveal").textContent = "";
    showOptions(q);
    $("countdown").textContent = "";
    tickClock();
  };

  const handlers = {
    snapshot(p) {
      at(p.status, p.question ? p.question.index : -1);
      $("player-count").textContent = p.players;
      board(p.leaderboard);
      $("players").replaceChildren();
      for (const player of p.participants || []) addPlayer(player);
      if (p.question && p.status === "question") showQuestion(p.question);
    },
    player_joined(p) {
      $("player-count").textContent = p.players;
      addPlayer(p);
    },
    player_count(p) {
      $("player-count").textContent = p.players;
    },
    player_kicked(p) {
      $("player-count").textContent = p.players;
      for (const item of $("players").querySelectorAll("li")) {
        if (item.dataset.participant === p.participantId) item.remove();
      }
    },
    countdown(p) {
      at("countdown", -1);
      $("countdown").textContent = `Starting in ${Math.round(p.seconds)} s`;
    },
    new_question(p) {
      at("question", p.index);
      clockOffset = Date.parse(p.startTime) - Date.now();
      $("answered-count").textContent = "0 answered";
      showQuestion(p);
    },
    host_question(p) {
      if (step.status === "question" && step.index === p.index) showQuestion(p);
    },
    answer_count(p) {
      $("answered-count").textContent = `${p.answered} of ${p.players} answered`;
    },
    question_revealed(p) {
      clearInterval(timer);
      at("reveal", p.index);
      $("time-left").textContent = "Closed";
      if (Array.isArray(p.distribution) && question) {
        showOptions(question, (index) => {
          const right = (p.correctOptions || []).includes(index) ? " ✓" : "";
          return `: ${p.distribution[index]}${right}`;
        });
      } else if (p.distribution) {
        $("reveal").textContent = `${p.distribution.right} right, ${p.distribution.wrong} wrong`;
      }
      if (p.acceptedAnswers) $("reveal").textContent += ` · Accepted: ${p.acceptedAnswers.join(", ")}`;
      if (p.correctValue !== undefined) $("reveal").textContent += ` · Answer: ${p.correctValue}`;
    },
    leaderboard_changed(p) {
      board(p.leaderboard);
    },
    quiz_ended(p) {
      clearInterval(timer);
      at("ended");
      board(p.podium, "Podium");
    },
  };

  const connect = () => {
    const protocol = location.protocol === "https:" ? "wss:" : "ws:";
    const query = new URLSearchParams({ quizId: root.dataset.code });
    if (lastEventId) query.set("lastEventId", String(lastEventId));
    const socket = new WebSocket(`${protocol}//${location.host}/ws?${query}`);
    socket.addEventListener("open", () => {
      retry = 0;
      banner("");
    });
    socket.addEventListener("message", (event) => {
      const message = JSON.parse(event.data);
      lastEventId = Math.max(lastEventId, message.eventId);
      handlers[message.type]?.(message.payload);
    });
    socket.addEventListener("close", () => {
      banner("Connection lost. Reconnecting…");
      retry = Math.min(retry + 1, 5);
      setTimeout(connect, 500 * retry);
    });
  };

  for (const button of root.querySelectorAll("[data-action]")) {
    button.addEventListener("click", async () => {
      const error = $("action-error");
      error.hidden = true;
      let url = `/api/v1/games/${game}/${button.dataset.action}`;
      if (button.dataset.action === "next" && step.status !== "ended") {
        url += `?${new URLSearchParams({ fromStatus: step.status, fromQuestion: String(step.index) })}`;
      }
      button.disabled = true;
      let response;
      try {
        response = await fetch(url, { method: "POST", headers: { "X-CSRF-Token": csrf } });
      } finally {
        button.disabled = false;
      }
      if (!response.ok) {
        const body = await response.json();
        error.textContent = body.detail || body.title;
        error.hidden = false;
      }
    });
  }

  connect();
})();
