// Exam pages. On the exam itself (/sessions/{id}): a countdown that follows the server's
// clock, answers saved as they are given (with retries and a queue on this device while
// offline), the question navigator with flags, submit (by the student, or at zero) and
// integrity signals. On the other exam pages: times in the reader's zone, date fields
// sent as UTC, and a result page that waits for grading. Those pages work without it;
// the exam page says it needs it.
(() => {
  "use strict";

  const csrfToken = () => {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  };

  // An Idempotency-Key. crypto.randomUUID needs a secure context; getRandomValues does not.
  const newKey = () => {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  };

  // localStorage may be full or switched off: the page keeps working without it.
  const stored = {
    get(key, fallback) {
      try {
        const raw = window.localStorage.getItem(key);
        return raw === null ? fallback : JSON.parse(raw);
      } catch {
        return fallback;
      }
    },
    set(key, value) {
      try { window.localStorage.setItem(key, JSON.stringify(value)); } catch { /* see above */ }
    },
    remove(key) {
      try { window.localStorage.removeItem(key); } catch { /* see above */ }
    },
  };

  const wait = (ms) => new Promise((resolve) => { window.setTimeout(resolve, ms); });

  const fetchWithTimeout = (url, options, ms = 15000) => {
    const controller = new AbortController();
    const timer = window.setTimeout(() => controller.abort(), ms);
    return fetch(url, { credentials: "same-origin", ...options, signal: controller.signal })
      .finally(() => window.clearTimeout(timer));
  };

  // --- every exam page ----------------------------------------------------------------

  document.querySelectorAll("time[data-local-time]").forEach((el) => {
    const moment = new Date(el.dateTime);
    if (Number.isNaN(moment.getTime())) return;
    el.title = el.textContent;
    el.textContent = moment.toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
  });

  // A datetime-local value has no zone: send the moment it means here as UTC too.
  document.querySelectorAll("form[data-utc-times]").forEach((form) => {
    form.addEventListener("submit", () => {
      form.querySelectorAll("input[data-utc]").forEach((input) => {
        const target = form.querySelector(`input[name="${input.dataset.utc}"]`);
        if (!target) return;
        const moment = input.value ? new Date(input.value) : null;
        target.value = moment && !Number.isNaN(moment.getTime()) ? moment.toISOString() : "";
      });
    });
  });

  const pending = document.querySelector("[data-result-pending]");
  if (pending) {
    const url = `/api/v1/sessions/${pending.dataset.sessionId}/result`;
    const poll = async () => {
      try {
        const response = await fetchWithTimeout(url, { headers: { Accept: "application/json" } });
        if (response.ok && (await response.json()).status !== "SCORING") {
          window.location.reload();
          return;
        }
      } catch { /* offline: ask again later */ }
      window.setTimeout(poll, 15000);
    };
    window.setTimeout(poll, 15000);
  }

  // --- the exam -------------------------------------------------------------------------

  const examPage = (root) => {
    const sessionId = root.dataset.sessionId;
    const api = `/api/v1/sessions/${sessionId}`;
    const resultUrl = `/sessions/${sessionId}/result`;
    const keys = {
      queue: `studyhall:exam:${sessionId}:queue`,
      flags: `studyhall:exam:${sessionId}:flags`,
      submit: `studyhall:exam:${sessionId}:submit-key`,
      current: `studyhall:exam:${sessionId}:current`,
    };
    const sections = [...root.querySelectorAll("[data-question]")];
    const byId = new Map(sections.map((section) => [section.dataset.question, section]));
    const navButtons = [...root.querySelectorAll("[data-goto]")];
    const navList = root.querySelector("[data-navigator]");
    const clock = root.querySelector("[data-clock]");
    const clockBox = root.querySelector("[data-clock-box]");
    const saveState = root.querySelector("[data-save-state]");
    const warning = root.querySelector("[data-time-warning]");
    const progress = root.querySelector("[data-progress]");
    const live = root.querySelector("[data-live]");
    const examBody = root.querySelector("[data-exam-body]");
    const pausedPanel = root.querySelector("[data-paused-panel]");
    const finishBar = root.querySelector(".exam-finish");
    const dialog = root.querySelector("[data-submit-dialog]");
    const prevButton = root.querySelector("[data-prev]");
    const nextButton = root.querySelector("[data-next]");
    const answerable = sections.filter((section) => section.dataset.kind !== "description");

    root.querySelectorAll("[data-js-only]").forEach((el) => { el.hidden = false; });

    const announce = (message) => {
      live.textContent = "";
      window.setTimeout(() => { live.textContent = message; }, 50);
    };

    const showWarning = (message) => {
      warning.textContent = message;
      warning.hidden = false;
    };

    // --- state ---
    let status = root.dataset.status;
    let finishing = false; // submitting: no more edits
    let leaving = false;
    let queue = stored.get(keys.queue, [])
      .filter((entry) => entry && entry.key && entry.body && byId.has(entry.questionId));
    const flags = new Set(stored.get(keys.flags, []).filter((id) => byId.has(id)));
    const answered = new Set(
      navButtons.filter((b) => b.classList.contains("is-answered")).map((b) => sections[Number(b.dataset.goto)].dataset.question),
    );
    const errors = new Map(); // question id -> why its last answer was refused
    const lastSent = new Map(); // question id -> the JSON of the last answer queued
    navButtons.forEach((button) => {
      const label = button.querySelector("[data-nav-label]");
      button.dataset.base = label.textContent.split(",")[0].trim();
    });

    const forget = () => {
      Object.values(keys).forEach((key) => stored.remove(key));
    };
    const finish = () => {
      leaving = true;
      forget();
      window.location.assign(resultUrl);
    };

    // --- the clock: the server's seconds left, counted down from a monotonic anchor ---
    let remainingAtAnchor = Number.parseFloat(root.dataset.remaining) || 0;
    let anchor = performance.now();
    let tickTimer = 0;
    const WARNINGS = [[300, "5 minutes left."], [60, "1 minute left."]];
    const warned = new Set();

    const secondsLeft = () => (status === "PAUSED"
      ? remainingAtAnchor
      : Math.max(0, remainingAtAnchor - (performance.now() - anchor) / 1000));

    const clockText = (seconds) => {
      const whole = Math.max(0, Math.ceil(seconds));
      const hours = Math.floor(whole / 3600);
      const minutes = Math.floor((whole % 3600) / 60);
      const secs = String(whole % 60).padStart(2, "0");
      return hours ? `${hours}:${String(minutes).padStart(2, "0")}:${secs}` : `${minutes}:${secs}`;
    };

    const tick = () => {
      window.clearTimeout(tickTimer);
      const left = secondsLeft();
      const text = clockText(left);
      if (clock.textContent !== text) clock.textContent = text;
      clockBox.classList.toggle("is-low", left <= 300);
      if (status !== "ACTIVE" || finishing) return;
      const due = WARNINGS.filter(([limit]) => left <= limit && left > 0 && !warned.has(limit));
      if (due.length) {
        const [limit, message] = due[due.length - 1];
        WARNINGS.forEach(([other]) => { if (other >= limit) warned.add(other); });
        showWarning(`${message} The exam is submitted when the clock reaches zero.`);
      }
      if (left <= 0) {
        timeUp();
        return;
      }
      // Wake when the shown second changes; a throttled tab catches up on the next tick.
      tickTimer = window.setTimeout(tick, ((left % 1) * 1000 || 1000) + 20);
    };

    const applyStatus = (next) => {
      status = next;
      if (["SCORING", "SCORED", "DISCARDED"].includes(next)) {
        finish();
        return;
      }
      const paused = next === "PAUSED";
      examBody.hidden = paused;
      pausedPanel.hidden = !paused;
      if (finishBar) finishBar.hidden = paused;
      if (!paused) pump();
      renderSaveState();
      tick();
    };

    // Ask the server for the seconds left; the anchor is the middle of the round trip.
    let syncing = null;
    const doSync = async () => {
      const sent = performance.now();
      let response;
      try {
        response = await fetchWithTimeout(api, { headers: { Accept: "application/json" }, cache: "no-store" });
      } catch {
        return false;
      }
      const received = performance.now();
      if (!response.ok) return false;
      const state = await response.json();
      remainingAtAnchor = state.remainingSeconds;
      anchor = (sent + received) / 2;
      applyStatus(state.status);
      return true;
    };
    const sync = () => {
      if (!syncing) syncing = doSync().finally(() => { syncing = null; });
      return syncing;
    };

    let timeUpRunning = false;
    const timeUp = async () => {
      if (timeUpRunning || finishing) return;
      timeUpRunning = true;
      const synced = await sync();
      timeUpRunning = false;
      if (status !== "ACTIVE" || finishing) return;
      // This page's clock ran ahead of the server's: carry on with the server's time.
      if (synced && secondsLeft() > 1) {
        tick();
        return;
      }
      submit(true);
    };

    // --- answers: read from and shown in the inputs ---
    const readChoice = (section) => {
      const checked = [...section.querySelectorAll("input:checked")];
      const typed = section.querySelector("input[type=text], textarea");
      switch (section.dataset.kind) {
        case "single": return checked.length ? Number(checked[0].value) : null;
        case "truefalse": return checked.length ? checked[0].value === "true" : null;
        case "multiple": return checked.length ? checked.map((el) => Number(el.value)) : null;
        case "shortanswer":
        case "numerical": return typed.value.trim() || null;
        case "essay": return typed.value.trim() ? typed.value : null;
        case "matching": {
          const pairs = [...section.querySelectorAll("select[data-prompt]")]
            .filter((select) => select.value !== "")
            .map((select) => [Number(select.dataset.prompt), Number(select.value)]);
          return pairs.length ? pairs : null;
        }
        case "ordering": return [...section.querySelectorAll("[data-item]")].map((li) => Number(li.dataset.item));
        default: return undefined;
      }
    };

    const showChoice = (section, choice) => {
      const kind = section.dataset.kind;
      if (kind === "single" || kind === "truefalse" || kind === "multiple") {
        section.querySelectorAll("input").forEach((input) => {
          input.checked = Array.isArray(choice)
            ? choice.includes(Number(input.value))
            : choice !== null && String(choice) === input.value;
        });
      } else if (kind === "matching") {
        section.querySelectorAll("select[data-prompt]").forEach((select) => {
          const pair = (choice || []).find((p) => p[0] === Number(select.dataset.prompt));
          select.value = pair ? String(pair[1]) : "";
        });
      } else if (kind === "ordering" && Array.isArray(choice)) {
        const list = section.querySelector("[data-ordering]");
        choice.forEach((id) => {
          const item = list.querySelector(`[data-item="${id}"]`);
          if (item) list.append(item);
        });
      } else {
        const typed = section.querySelector("input[type=text], textarea");
        if (typed) typed.value = choice === null ? "" : String(choice);
      }
    };

    // --- the save queue: one request at a time, so a question's answers land in order ---
    let sending = false;
    let failures = 0;
    let retryTimer = 0;
    let lastProblem = "";

    const keepQueue = () => {
      if (queue.length) stored.set(keys.queue, queue);
      else stored.remove(keys.queue);
    };

    const plural = (n) => `${n} answer${n === 1 ? "" : "s"}`;
    const renderSaveState = () => {
      const waiting = queue.length;
      let text;
      let state;
      if (status === "PAUSED") {
        [text, state] = ["Paused", "paused"];
      } else if (!waiting) {
        [text, state] = errors.size ? ["Some answers were not saved", "error"] : ["All answers saved", "saved"];
      } else if (!navigator.onLine) {
        text = `Offline: ${plural(waiting)} kept on this device, sent when you are back online`;
        state = "offline";
      } else if (failures) {
        text = `${lastProblem || "Cannot reach the server"}: ${plural(waiting)} kept on this device, retrying`;
        state = "retrying";
      } else {
        [text, state] = ["Saving…", "saving"];
      }
      if (saveState.textContent !== text) saveState.textContent = text;
      saveState.dataset.state = state;
    };

    const markQuestion = (questionId) => {
      const index = sections.indexOf(byId.get(questionId));
      const section = sections[index];
      const button = navButtons[index];
      const isAnswered = answered.has(questionId);
      const isFlagged = flags.has(questionId);
      const error = errors.get(questionId);
      button.classList.toggle("is-answered", isAnswered);
      button.classList.toggle("is-flagged", isFlagged);
      button.classList.toggle("has-error", Boolean(error));
      button.querySelector("[data-nav-label]").textContent = [
        button.dataset.base, isAnswered && "answered", isFlagged && "flagged", error && "not saved",
      ].filter(Boolean).join(", ");
      const flag = section.querySelector("[data-flag]");
      if (flag) {
        flag.setAttribute("aria-pressed", String(isFlagged));
        flag.textContent = isFlagged ? "Flagged for review" : "Flag for review";
      }
      section.querySelector("[data-question-state]").textContent = error || "";
      const done = answerable.filter((s) => answered.has(s.dataset.question)).length;
      progress.textContent = `${done} of ${answerable.length} answered`;
    };

    const classify = async (response) => {
      if (response.ok) return { outcome: "saved" };
      const problem = await response.json().catch(() => ({}));
      const code = problem.code || "";
      const detail = problem.detail || `the server answered ${response.status}`;
      if (response.status === 429) {
        return { outcome: "retry", detail: "Saving too fast", after: Number(response.headers.get("Retry-After")) || 0 };
      }
      if (response.status === 401) return { outcome: "retry", detail: "You are signed out; sign in again in another tab" };
      if (code === "csrf_failed") return { outcome: "retry", detail: "Reload the page to keep saving" };
      if (response.status >= 500 || code === "idempotency_in_flight") return { outcome: "retry", detail: "The server is busy" };
      if (code === "session_paused") return { outcome: "paused" };
      if (code === "session_closed" || code === "time_expired") return { outcome: "closed", detail };
      return { outcome: "rejected", detail };
    };

    const pump = async () => {
      if (sending || retryTimer || !queue.length || status !== "ACTIVE" || !navigator.onLine) {
        renderSaveState();
        return;
      }
      sending = true;
      renderSaveState();
      const entry = queue[0];
      let result;
      try {
        const response = await fetchWithTimeout(`${api}/answers`, {
          method: "PUT",
          headers: {
            "Content-Type": "application/json",
            Accept: "application/json",
            "Idempotency-Key": entry.key,
            "X-CSRF-Token": csrfToken(),
          },
          body: entry.body,
        });
        result = await classify(response);
      } catch {
        result = { outcome: "retry", detail: "Cannot reach the server" };
      }
      sending = false;
      const { outcome, detail = "" } = result;
      if (outcome === "retry") {
        failures += 1;
        lastProblem = detail;
        // Exponential backoff with jitter, at most 30 s; Retry-After when the server gives one.
        const delay = result.after ? result.after * 1000
          : Math.min(30000, 1000 * 2 ** (failures - 1)) * (0.75 + Math.random() / 2);
        retryTimer = window.setTimeout(() => { retryTimer = 0; pump(); }, delay);
        renderSaveState();
        return;
      }
      if (outcome === "paused") {
        sync();
        return;
      }
      failures = 0;
      lastProblem = "";
      queue = queue.filter((queued) => queued.key !== entry.key);
      keepQueue();
      const newer = queue.some((queued) => queued.questionId === entry.questionId);
      if (outcome !== "saved" && !newer) errors.set(entry.questionId, `Not saved: ${detail}`);
      markQuestion(entry.questionId);
      if (outcome === "closed") sync();
      pump();
    };

    const retryNow = () => {
      window.clearTimeout(retryTimer);
      retryTimer = 0;
      failures = 0;
      pump();
    };

    const enqueue = (questionId, choice) => {
      const body = JSON.stringify({ questionId, choice, clientTs: new Date().toISOString() });
      queue = queue.filter((queued) => queued.questionId !== questionId);
      queue.push({ questionId, key: newKey(), body });
      keepQueue();
      errors.delete(questionId);
      if (choice === null) answered.delete(questionId);
      else answered.add(questionId);
      markQuestion(questionId);
      pump();
    };

    const edited = (section) => {
      if (finishing || status !== "ACTIVE") return;
      const id = section.dataset.question;
      const choice = readChoice(section);
      if (choice === undefined) return;
      const json = JSON.stringify(choice);
      if (lastSent.get(id) === json) return;
      lastSent.set(id, json);
      enqueue(id, choice);
    };

    // Wait for the queue to empty (true) or give up after ``ms`` (false).
    const flush = async (ms) => {
      const until = performance.now() + ms;
      retryNow();
      while (queue.length && performance.now() < until) {
        await wait(200);
        if (!sending && !retryTimer) pump();
      }
      return queue.length === 0;
    };

    // --- submit ---
    const setInputsDisabled = (disabled) => {
      root.querySelectorAll(".exam-questions input, .exam-questions select, .exam-questions textarea, [data-move], [data-keep-order], [data-submit-open], [data-pause]")
        .forEach((el) => { el.disabled = disabled; });
    };

    const submit = async (auto) => {
      if (finishing) return;
      finishing = true;
      window.clearTimeout(tickTimer);
      setInputsDisabled(true);
      if (auto) showWarning("Time is up. Your exam is being submitted.");
      saveState.textContent = "Submitting…";
      const saved = await flush(auto ? 5000 : 20000);
      if (!saved && !auto) {
        finishing = false;
        setInputsDisabled(false);
        renderSaveState();
        showWarning(`${plural(queue.length)} not saved yet. Submit again when you are back online.`);
        tick();
        return;
      }
      let key = stored.get(keys.submit, "");
      if (!key) {
        key = newKey();
        stored.set(keys.submit, key);
      }
      for (let attempt = 1; ; attempt += 1) {
        try {
          const response = await fetchWithTimeout(`${api}/submit`, {
            method: "POST",
            headers: { Accept: "application/json", "Idempotency-Key": key, "X-CSRF-Token": csrfToken() },
          });
          // Submitted now or before, or refused for good (the result page says why).
          if (response.ok || response.status === 404 || response.status === 409) {
            finish();
            return;
          }
        } catch { /* offline: try again */ }
        saveState.textContent = "Cannot reach the server: trying again to submit…";
        await wait(Math.min(30000, 1000 * 2 ** attempt));
      }
    };

    // --- showing one question at a time, and the navigator ---
    let current = 0;
    const show = (index, focusHeading) => {
      current = Math.max(0, Math.min(index, sections.length - 1));
      sections.forEach((section, i) => { section.hidden = i !== current; });
      navButtons.forEach((button, i) => {
        if (i === current) button.setAttribute("aria-current", "step");
        else button.removeAttribute("aria-current");
        button.tabIndex = i === current ? 0 : -1;
      });
      prevButton.disabled = current === 0;
      nextButton.disabled = current === sections.length - 1;
      stored.set(keys.current, current);
      if (focusHeading) sections[current].querySelector("h2").focus();
    };

    navButtons.forEach((button, i) => button.addEventListener("click", () => show(i, true)));
    // Roving focus: Tab enters the navigator once; arrows, Home and End move within it.
    navList.addEventListener("keydown", (event) => {
      const index = navButtons.indexOf(event.target.closest("[data-goto]"));
      if (index < 0) return;
      const last = navButtons.length - 1;
      const targets = {
        ArrowRight: index === last ? 0 : index + 1,
        ArrowDown: index === last ? 0 : index + 1,
        ArrowLeft: index === 0 ? last : index - 1,
        ArrowUp: index === 0 ? last : index - 1,
        Home: 0,
        End: last,
      };
      if (!(event.key in targets)) return;
      event.preventDefault();
      const target = targets[event.key];
      navButtons.forEach((button, i) => { button.tabIndex = i === target ? 0 : -1; });
      navButtons[target].focus();
    });
    prevButton.addEventListener("click", () => show(current - 1, true));
    nextButton.addEventListener("click", () => show(current + 1, true));

    // --- edits, moves, flags ---
    const typingTimers = new Map();
    root.addEventListener("change", (event) => {
      const section = event.target.closest("[data-question]");
      if (!section) return;
      window.clearTimeout(typingTimers.get(section));
      edited(section);
    });
    root.addEventListener("input", (event) => {
      const section = event.target.closest("[data-question]");
      if (!section || !event.target.matches("input[type=text], textarea")) return;
      window.clearTimeout(typingTimers.get(section));
      typingTimers.set(section, window.setTimeout(() => edited(section), 800));
    });
    root.addEventListener("click", (event) => {
      const move = event.target.closest("[data-move]");
      const keep = event.target.closest("[data-keep-order]");
      const flag = event.target.closest("[data-flag]");
      if (move) {
        const item = move.closest("[data-item]");
        const list = item.parentElement;
        if (move.dataset.move === "up" && item.previousElementSibling) {
          list.insertBefore(item, item.previousElementSibling);
        } else if (move.dataset.move === "down" && item.nextElementSibling) {
          list.insertBefore(item.nextElementSibling, item);
        }
        move.focus();
        const position = [...list.children].indexOf(item) + 1;
        announce(`${item.querySelector(".item-text").textContent.trim()}: position ${position} of ${list.children.length}`);
        edited(item.closest("[data-question]"));
      } else if (keep) {
        edited(keep.closest("[data-question]"));
        announce("Order saved");
      } else if (flag) {
        const id = flag.closest("[data-question]").dataset.question;
        if (flags.has(id)) flags.delete(id);
        else flags.add(id);
        stored.set(keys.flags, [...flags]);
        markQuestion(id);
      }
    });

    // --- submit dialog, pause and resume ---
    root.querySelector("[data-submit-open]").addEventListener("click", () => {
      const done = answerable.filter((s) => answered.has(s.dataset.question)).length;
      const open = answerable.length - done;
      const parts = [`You answered ${done} of ${answerable.length} questions.`];
      if (open) parts.push(`${open} ${open === 1 ? "is" : "are"} unanswered.`);
      if (flags.size) parts.push(`${flags.size} ${flags.size === 1 ? "is" : "are"} flagged for review.`);
      if (queue.length) parts.push(`${plural(queue.length)} still being saved.`);
      root.querySelector("[data-submit-summary]").textContent = parts.join(" ");
      dialog.showModal();
    });
    root.querySelector("[data-submit-cancel]").addEventListener("click", () => dialog.close());
    root.querySelector("[data-submit-confirm]").addEventListener("click", () => {
      dialog.close();
      submit(false);
    });

    const control = async (action) => {
      const sent = performance.now();
      try {
        const response = await fetchWithTimeout(`${api}/${action}`, {
          method: "POST",
          headers: { Accept: "application/json", "X-CSRF-Token": csrfToken() },
        });
        const received = performance.now();
        const state = await response.json();
        if (!response.ok) {
          showWarning(state.detail || "That did not work; try again.");
          return;
        }
        remainingAtAnchor = state.remainingSeconds;
        anchor = (sent + received) / 2;
        applyStatus(state.status);
        if (action === "resume") show(current, true);
        else pausedPanel.querySelector("[data-resume]").focus();
      } catch {
        showWarning("You are offline: try again when you are back online.");
      }
    };
    const pauseButton = root.querySelector("[data-pause]");
    if (pauseButton) pauseButton.addEventListener("click", () => control("pause"));
    pausedPanel.querySelector("[data-resume]").addEventListener("click", () => control("resume"));

    // --- integrity signals: fire and forget, never in the way of the exam ---
    const where = () => navButtons[current].dataset.base;
    const signal = (kind) => {
      if (finishing || status !== "ACTIVE") return;
      const body = JSON.stringify({ kind, at: new Date().toISOString(), detail: where() });
      fetch(`${api}/signals`, {
        method: "POST",
        credentials: "same-origin",
        keepalive: true,
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
        body,
      }).catch(() => {});
    };
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "hidden") {
        signal("page-hidden");
      } else {
        sync();
        retryNow();
      }
    });
    window.addEventListener("blur", () => signal("focus-lost"));
    document.addEventListener("copy", () => signal("copy"));
    document.addEventListener("paste", () => signal("paste"));
    let wasFullscreen = Boolean(document.fullscreenElement);
    document.addEventListener("fullscreenchange", () => {
      if (wasFullscreen && !document.fullscreenElement) signal("fullscreen-exit");
      wasFullscreen = Boolean(document.fullscreenElement);
    });
    window.addEventListener("online", () => {
      sync();
      retryNow();
    });
    window.addEventListener("offline", renderSaveState);
    window.addEventListener("beforeunload", (event) => {
      if (queue.length && !leaving) event.preventDefault();
    });

    // --- start: answers queued on this device (offline, or before a reload) win ---
    queue.forEach((entry) => {
      const { choice } = JSON.parse(entry.body);
      showChoice(byId.get(entry.questionId), choice);
      if (choice === null) answered.delete(entry.questionId);
      else answered.add(entry.questionId);
    });
    sections.forEach((section) => {
      const id = section.dataset.question;
      lastSent.set(id, JSON.stringify(answered.has(id) ? readChoice(section) : null));
      markQuestion(id);
    });
    show(Number(stored.get(keys.current, 0)) || 0, false);
    applyStatus(status);
    sync();
    window.setInterval(sync, 30000);
  };

  const root = document.querySelector("[data-exam-session]");
  if (root) examPage(root);
})();
