// The player's screen of a live quiz: join by code and name, then play over the WebSocket.
// The server decides everything (times, correctness, scores); this only shows it. The
// participant id, resume token and last event id live in localStorage, so a reload or a
// dropped connection comes back as the same player, with what it missed replayed.
(() => {
  "use strict";

  const root = document.querySelector("[data-live-play]");
  if (!root) return;
  const $ = (name) => root.querySelector(`[data-${name}]`);
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";
  const storeKey = (code) => `studyhall-live-${code}`;
  let me = null; // {code, participantId, resumeToken, name, lastEventId}
  let socket = null;
  let question = null;
  let clockOffset = 0; // server time minus this device's time, in ms
  let timer = null;
  let retry = 0;
  let kicked = false;

  const banner = (text) => {
    const node = $("banner");
    node.hidden = !text;
    node.textContent = text || "";
  };
  const save = () => localStorage.setItem(storeKey(me.code), JSON.stringify(me));

  const showStage = () => {
    $("join-form").hidden = true;
    $("stage").hidden = false;
    $("my-name").textContent = me.name;
  };

  const setYou = (you) => {
    if (!you) return;
    if (you.score !== undefined) $("my-score").textContent = you.score;
    if (you.rank !== undefined) $("my-rank").textContent = you.rank ?? "–";
  };

  const tickClock = () => {
    clearInterval(timer);
    const end = question && Date.parse(question.endTime);
    const draw = () => {
      if (!question) return;
      const left = Math.max(0, Math.ceil((end - (Date.now() + clockOffset)) / 1000));
      $("time-left").textContent = `${left} s left`;
      if (left === 0) clearInterval(timer);
    };
    draw();
    timer = setInterval(draw, 250);
  };

  const send = (type, payload = {}) => {
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify({ type, payload }));
    }
  };

  const answer = (selectedOption) => {
    send("answer_submission", {
      questionId: question.questionId,
      selectedOption,
      answeredAt: new Date().toISOString(),
    });
    for (const control of $("choices").querySelectorAll("button, input, select")) {
      control.disabled = true;
    }
    $("reply-submit").disabled = true;
    $("feedback").textContent = "Sending…";
  };

  // The shape and colour the server gives each option (drawn by live.css); the host's
  // screen shows the same marks.
  const markName = (choice) => `${choice.color} ${choice.shape}`;
  const mark = (choice) => {
    const glyph = document.createElement("span");
    glyph.className = `live-glyph live-shape-${choice.shape}`;
    glyph.setAttribute("aria-hidden", "true");
    return glyph;
  };
  // With the question on the host's screen only, an option is known by its mark alone.
  const optionLabel = (q, index) => (q.options ? q.options[index] : markName(q.choices[index]));

  const optionButton = (q, choice) => {
    const button = document.createElement("button");
    button.type = "button";
    button.className = `button live-option live-color-${choice.color}`;
    button.dataset.option = String(choice.id);
    button.append(mark(choice), " ", optionLabel(q, choice.id));
    button.addEventListener("click", () => {
      if (q.type === "multiple") {
        button.setAttribute("aria-pressed", String(button.getAttribute("aria-pressed") !== "true"));
      } else {
        answer(choice.id);
      }
    });
    if (q.type === "multiple") button.setAttribute("aria-pressed", "false");
    return button;
  };

  const showImage = (q) => {
    const image = $("question-image");
    image.hidden = !q.imageUrl;
    if (q.imageUrl) {
      image.src = q.imageUrl;
      image.alt = q.imageAlt || "";
    } else {
      image.removeAttribute("src");
    }
  };

  const renderQuestion = (q, alreadyAnswered) => {
    question = q;
    $("lobby").hidden = true;
    $("final").hidden = true;
    $("question").hidden = false;
    $("question-number").textContent = `Question ${q.index + 1} of ${q.count}`;
    const onHost = q.questionsOn === "host";
    $("question-text").textContent = onHost ? "Look at the host's screen" : q.text;
    root.classList.toggle("live-buttons-only", onHost);
    showImage(q);
    $("feedback").textContent = alreadyAnswered ? "Answer locked in" : "";
    const answers = $("choices");
    answers.replaceChildren();
    const submit = $("reply-submit");
    submit.hidden = true;
    submit.disabled = false;
    const choices = q.choices || [];
    if (["single", "truefalse", "poll", "multiple"].includes(q.type)) {
      choices.forEach((choice) => answers.append(optionButton(q, choice)));
      submit.hidden = q.type !== "multiple";
    } else if (q.type === "ordering") {
      choices.forEach((choice) => {
        const label = document.createElement("label");
        label.className = "live-check";
        const select = document.createElement("select");
        select.dataset.item = String(choice.id);
        choices.forEach((_, place) => select.add(new Option(`${place + 1}`, String(place))));
        select.value = String(choice.id);
        label.append(select, " ", mark(choice), ` ${optionLabel(q, choice.id)}`);
        answers.append(label);
      });
      submit.hidden = false;
    } else {
      const input = document.createElement("input");
      input.id = "live-typed";
      input.setAttribute("aria-label", "Your answer");
      if (q.type === "numeric") {
        input.type = q.min !== undefined ? "range" : "number";
        input.step = "any";
        if (q.min !== undefined) {
          input.min = q.min;
          input.max = q.max;
        }
      }
      answers.append(input);
      submit.hidden = false;
    }
    if (alreadyAnswered) {
      for (const control of answers.querySelectorAll("button, input, select")) control.disabled = true;
      submit.disabled = true;
    }
    tickClock();
  };

  $("reply-form").addEventListener("submit", (event) => {
    event.preventDefault();
    if (!question) return;
    const answers = $("choices");
    if (question.type === "multiple") {
      const pressed = [...answers.querySelectorAll('[aria-pressed="true"]')];
      answer(pressed.map((button) => Number(button.dataset.option)));
    } else if (question.type === "ordering") {
      const places = [...answers.querySelectorAll("select")].map((select) => [
        Number(select.value),
        Number(select.dataset.item),
      ]);
      answer(places.sort((a, b) => a[0] - b[0]).map((pair) => pair[1]));
    } else {
      const value = answers.querySelector("input").value;
      answer(question.type === "numeric" ? Number(value) : value);
    }
  });

  const handlers = {
    snapshot(p) {
      $("player-count").textContent = p.players;
      setYou(p.you);
      if (p.question && p.status === "question") {
        clockOffset = 0;
        renderQuestion(p.question, p.you && p.you.answeredCurrent);
      } else if (p.status === "ended") {
        handlers.quiz_ended({ finalLeaderboard: p.leaderboard, you: p.you });
      }
    },
    player_count(p) {
      $("player-count").textContent = p.players;
    },
    countdown(p) {
      $("countdown").textContent = `Starting in ${Math.round(p.seconds)} s`;
    },
    new_question(p) {
      clockOffset = Date.parse(p.startTime) - Date.now();
      renderQuestion(p, false);
    },
    answer_received() {
      $("feedback").textContent = "Answer locked in";
    },
    answer_result(p) {
      if (!question || p.questionId !== question.questionId) return;
      const text = p.answered === false
        ? "Time's up"
        : p.correct === null ? "Thanks for voting" : p.correct ? `Correct! +${p.awardedPoints}` : "Not this time";
      $("feedback").textContent = text;
      $("my-score").textContent = p.newScore;
    },
    question_revealed() {
      clearInterval(timer);
      $("time-left").textContent = "Closed";
    },
    leaderboard_changed(p) {
      setYou(p.you);
    },
    leaderboard_data(p) {
      setYou(p.you);
    },
    quiz_ended(p) {
      clearInterval(timer);
      question = null;
      $("question").hidden = true;
      $("lobby").hidden = true;
      $("final").hidden = false;
      const podium = $("podium");
      podium.replaceChildren(
        ...(p.finalLeaderboard || []).slice(0, 3).map((entry) => {
          const item = document.createElement("li");
          item.textContent = `${entry.name}: ${entry.score}`;
          return item;
        }),
      );
      setYou(p.you);
      if (p.you) $("final-you").textContent = `You finished #${p.you.rank} with ${p.you.score} points.`;
    },
    error(p) {
      if (p.reason === "kicked") {
        kicked = true;
        localStorage.removeItem(storeKey(me.code));
        banner("The host removed you from this game.");
        return;
      }
      if (["unknown_participant", "game_not_found"].includes(p.reason)) {
        localStorage.removeItem(storeKey(me.code));
        location.reload();
        return;
      }
      $("feedback").textContent = p.details?.message || p.reason;
    },
  };

  const connect = () => {
    const protocol = location.protocol === "https:" ? "wss:" : "ws:";
    const query = new URLSearchParams({
      quizId: me.code,
      participantId: me.participantId,
      resumeToken: me.resumeToken,
    });
    if (me.lastEventId) query.set("lastEventId", String(me.lastEventId));
    socket = new WebSocket(`${protocol}//${location.host}/ws?${query}`);
    socket.addEventListener("open", () => {
      retry = 0;
      banner("");
    });
    socket.addEventListener("message", (event) => {
      const message = JSON.parse(event.data);
      if (message.eventId > (me.lastEventId || 0)) {
        me.lastEventId = message.eventId;
        save();
      }
      handlers[message.type]?.(message.payload);
    });
    socket.addEventListener("close", () => {
      if (kicked) return;
      banner("Connection lost. Reconnecting…");
      retry = Math.min(retry + 1, 5);
      setTimeout(connect, 500 * retry);
    });
  };

  setInterval(() => send("heartbeat"), 20000);

  const start = (stored) => {
    me = stored;
    showStage();
    connect();
  };

  $("join-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    const code = form.code.value.trim();
    const name = form.name.value.trim();
    const error = $("join-error");
    error.hidden = true;
    const response = await fetch(`/api/v1/quizzes/${encodeURIComponent(code)}/join`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ participantName: name }),
    });
    const body = await response.json();
    if (!response.ok) {
      error.textContent = body.detail || body.title;
      error.hidden = false;
      return;
    }
    start({ code, name, participantId: body.participantId, resumeToken: body.resumeToken, lastEventId: 0 });
  });

  const code = root.dataset.code;
  const stored = code && localStorage.getItem(storeKey(code));
  // A fresh page draws from a snapshot; lastEventId only serves reconnects of this page.
  if (stored) start({ ...JSON.parse(stored), lastEventId: 0 });
})();
