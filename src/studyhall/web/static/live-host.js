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

  const addPlayer = (name) => {
    const item = document.createElement("li");
    item.textContent = name;
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

  const showQuestion = (q) => {
    question = q;
    $("question").hidden = false;
    $("question-number").textContent = `Question ${q.index + 1} of ${q.count}`;
    $("question-text").textContent = q.text;
    $("reveal").textContent = "";
    items($("distribution"), q.options, (text) => text);
    $("countdown").textContent = "";
    tickClock();
  };

  const handlers = {
    snapshot(p) {
      $("status").textContent = p.status;
      $("player-count").textContent = p.players;
      board(p.leaderboard);
      $("players").replaceChildren();
      for (const entry of p.leaderboard) addPlayer(entry.name);
      if (p.question && p.status === "question") showQuestion(p.question);
    },
    player_joined(p) {
      $("player-count").textContent = p.players;
      addPlayer(p.name);
    },
    countdown(p) {
      $("status").textContent = "countdown";
      $("countdown").textContent = `Starting in ${Math.round(p.seconds)} s`;
    },
    new_question(p) {
      $("status").textContent = "question";
      clockOffset = Date.parse(p.startTime) - Date.now();
      $("answered-count").textContent = "0 answered";
      showQuestion(p);
    },
    answer_count(p) {
      $("answered-count").textContent = `${p.answered} of ${p.players} answered`;
    },
    question_revealed(p) {
      clearInterval(timer);
      $("status").textContent = "reveal";
      $("time-left").textContent = "Closed";
      if (Array.isArray(p.distribution) && question) {
        items($("distribution"), question.options, (text) => {
          const index = question.options.indexOf(text);
          const right = (p.correctOptions || []).includes(index) ? " ✓" : "";
          return `${text}: ${p.distribution[index]}${right}`;
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
      $("status").textContent = "ended";
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
      const response = await fetch(`/api/v1/games/${game}/${button.dataset.action}`, {
        method: "POST",
        headers: { "X-CSRF-Token": csrf },
      });
      if (!response.ok) {
        const body = await response.json();
        error.textContent = body.detail || body.title;
        error.hidden = false;
      }
    });
  }

  connect();
})();
