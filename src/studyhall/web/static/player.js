// Lesson video: its link is signed and good for a few minutes. When the player fails
// (the link expired while the page was open, or the network dropped), ask for a fresh
// link and carry on at the same second. Without this script the video still plays
// while its link is good, and reloading the page gives a new one.
(() => {
  "use strict";

  const video = document.querySelector("video[data-refresh]");
  if (!video) return;
  const status = document.querySelector("[data-player-status]");
  const say = (message) => { if (status) status.textContent = message; };
  // A fresh link that fails again this soon is not an expired link: stop and say so.
  const RETRY_AFTER_MS = 10000;
  let lastRefresh = -Infinity;
  let refreshing = false;
  // Whether the reader has it playing: the player pauses itself on an error.
  let playing = false;
  video.addEventListener("play", () => { playing = true; });
  video.addEventListener("pause", () => { if (!video.error) playing = false; });

  const freshUrl = async () => {
    const response = await fetch(video.dataset.refresh, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    });
    if (response.status === 401) throw new Error("signed-out");
    if (!response.ok) throw new Error(`status ${response.status}`);
    return (await response.json()).url;
  };

  const reload = async () => {
    if (refreshing) return;
    if (performance.now() - lastRefresh < RETRY_AFTER_MS) {
      say("The video could not be loaded. Check your connection, then reload the page.");
      return;
    }
    refreshing = true;
    lastRefresh = performance.now();
    const resumeAt = video.currentTime;
    const resume = playing;
    try {
      const url = await freshUrl();
      video.addEventListener("loadedmetadata", () => {
        video.currentTime = resumeAt;
        if (resume) video.play().catch(() => {});
      }, { once: true });
      video.src = url;
      say("");
    } catch (error) {
      say(error.message === "signed-out"
        ? "You have been signed out. Sign in again to keep watching."
        : "The video could not be loaded. Check your connection, then reload the page.");
    } finally {
      refreshing = false;
    }
  };

  video.addEventListener("error", () => {
    const code = video.error ? video.error.code : 0;
    if (code === MediaError.MEDIA_ERR_DECODE) {
      say("This video cannot be played in this browser.");
    } else if (code === MediaError.MEDIA_ERR_NETWORK || code === MediaError.MEDIA_ERR_SRC_NOT_SUPPORTED) {
      reload();
    }
  });
})();
