// Remembers, in this browser, the last lesson opened in each course, so that the course
// page offers "Continue" with that lesson instead of "Start the course".
(() => {
  "use strict";

  let store = null;
  try { store = window.localStorage; } catch { return; }
  if (!store) return;
  const key = (courseId) => `studyhall:last-lesson:${courseId}`;

  const lesson = document.querySelector("article[data-lesson]");
  if (lesson) {
    try { store.setItem(key(lesson.dataset.course), lesson.dataset.lesson); } catch { /* full or off */ }
    return;
  }
  const course = document.querySelector("[data-course]");
  const start = document.querySelector("a[data-continue]");
  if (!course || !start) return;
  const last = store.getItem(key(course.dataset.course));
  const item = last && document.querySelector(`li[data-lesson="${CSS.escape(last)}"] a`);
  if (!item) return;
  start.href = item.getAttribute("href");
  start.textContent = `Continue: ${item.textContent.trim()}`;
})();
